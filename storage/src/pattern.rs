//! Redis's glob matching (`stringmatchlen`), used by KEYS, SCAN MATCH and CONFIG GET.

/// Matches `text` against a Redis glob: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
/// With `nocase`, ASCII letters compare case-insensitively.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_from(pattern, text, nocase, 0, &mut skip_longer_matches)
}

/// Nesting limit for `*`, so a hostile pattern cannot exhaust the stack.
const MAX_STAR_DEPTH: usize = 1000;

/// `skip_longer` is Redis's `skipLongerMatches`: once the rest of a pattern
/// after a `*` matched nowhere in the remaining text, no earlier `*` can help
/// by matching more, so every pending `*` gives up. This keeps patterns like
/// `a*a*a*a*...b` linear instead of exponential.
fn match_from(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    depth: usize,
    skip_longer: &mut bool,
) -> bool {
    if depth > MAX_STAR_DEPTH {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while let Some(&pc) = p.first() {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..=s.len() {
                    if match_from(&p[1..], &s[start..], nocase, depth + 1, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                let Some(&c) = s.first() else { return false };
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p {
                        [] => break,
                        [b'\\', esc, ..] => {
                            matched |= eq(*esc, c);
                            p = &p[2..];
                        }
                        [b']', ..] => break,
                        [lo, b'-', hi, ..] if *hi != b']' => {
                            let (mut lo, mut hi, mut c) = (*lo, *hi, c);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                c = c.to_ascii_lowercase();
                            }
                            matched |= c >= lo && c <= hi;
                            p = &p[3..];
                        }
                        [one, ..] => {
                            matched |= eq(*one, c);
                            p = &p[1..];
                        }
                    }
                }
                if matched == negate {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class: Redis treats the end as the class end.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.first().is_none_or(|&c| !eq(p[0], c)) {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if s.first().is_none_or(|&c| !eq(pc, c)) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"foo*", b"foobar", false));
        assert!(!glob_match(b"foo*", b"fobar", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(glob_match(b"MAXMEM*", b"maxmemory", true));
        assert!(!glob_match(b"a*", b"", false));
        assert!(glob_match(b"", b"", false));
    }

    #[test]
    fn nested_stars_stay_fast() {
        let pattern = "a*".repeat(50) + "b";
        let text = "a".repeat(60);
        let started = std::time::Instant::now();
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes(), false));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc", false));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
