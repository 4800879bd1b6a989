//! The longest common subsequence of two strings, with the matching ranges in
//! the order Redis's LCS command reports them (from the end backwards).

/// One run of consecutive matching bytes: inclusive ranges in each string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcsMatch {
    pub a: (usize, usize),
    pub b: (usize, usize),
}

impl LcsMatch {
    pub fn len(&self) -> u64 {
        (self.a.1 - self.a.0 + 1) as u64
    }
}

#[derive(Debug)]
pub struct LcsResult {
    pub text: Vec<u8>,
    pub matches: Vec<LcsMatch>,
}

/// Dynamic programming exactly as Redis's `lcsCommand`. The caller bounds the
/// table size ((|a|+1)·(|b|+1) cells) before calling.
pub fn longest_common_subsequence(a: &[u8], b: &[u8]) -> LcsResult {
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let mut idx = table[at(a.len(), b.len())] as usize;
    let mut text = vec![0u8; idx];
    let mut matches = Vec::new();
    let none = a.len();
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (none, 0, 0, 0);
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            if a_start == none {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != none {
                emit = true;
            }
        }
        if emit {
            matches.push(LcsMatch {
                a: (a_start, a_end),
                b: (b_start, b_end),
            });
            a_start = none;
        }
    }
    LcsResult { text, matches }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_documentation_example() {
        let result = longest_common_subsequence(b"ohmytext", b"mynewtext");
        assert_eq!(result.text, b"mytext");
        assert_eq!(
            result.matches,
            vec![
                LcsMatch {
                    a: (4, 7),
                    b: (5, 8)
                },
                LcsMatch {
                    a: (2, 3),
                    b: (0, 1)
                }
            ]
        );
    }
}
