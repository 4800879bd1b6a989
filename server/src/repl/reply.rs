//! Reads back the reply a command wrote, for the rewrites that propagate
//! what a command *did* (the members SPOP removed, the value INCRBYFLOAT
//! stored, the key a BLPOP popped from) rather than what it was asked.

/// One RESP2/RESP3 reply value; aggregates are flattened where a rewrite
/// only needs their elements (maps become key, value, key, value ...).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<'a> {
    /// Simple strings, bulk strings, verbatim strings, doubles, big numbers.
    Text(&'a [u8]),
    Integer(i64),
    Error,
    Null,
    Array(Vec<Reply<'a>>),
}

impl<'a> Reply<'a> {
    /// Parses the first value in `bytes`; `None` if they do not hold one.
    pub fn parse(bytes: &'a [u8]) -> Option<Reply<'a>> {
        let mut at = 0;
        let reply = parse_at(bytes, &mut at, 0)?;
        Some(reply)
    }

    pub fn text(&self) -> Option<&'a [u8]> {
        match self {
            Reply::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn elements(&self) -> &[Reply<'a>] {
        match self {
            Reply::Array(items) => items,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Reply::Null)
    }
}

/// Nesting deeper than any command reply Ferrite writes.
const MAX_DEPTH: usize = 8;

fn line<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let rest = bytes.get(*at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *at += end + 2;
    Some(&rest[..end])
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse_at<'a>(bytes: &'a [u8], at: &mut usize, depth: usize) -> Option<Reply<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = *bytes.get(*at)?;
    *at += 1;
    let head = line(bytes, at)?;
    match kind {
        b'+' | b',' | b'(' | b'#' => Some(Reply::Text(head)),
        b'-' | b'!' => Some(Reply::Error),
        b':' => number(head).map(Reply::Integer),
        b'_' => Some(Reply::Null),
        b'$' | b'=' => {
            let len = number(head)?;
            if len < 0 {
                return Some(Reply::Null);
            }
            let start = *at;
            let end = start.checked_add(len as usize)?;
            let body = bytes.get(start..end)?;
            *at = end + 2;
            Some(Reply::Text(if kind == b'=' {
                body.get(4..).unwrap_or(body)
            } else {
                body
            }))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let len = number(head)?;
            if len < 0 {
                return Some(Reply::Null);
            }
            let count = if kind == b'%' { len * 2 } else { len } as usize;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                items.push(parse_at(bytes, at, depth + 1)?);
            }
            Some(Reply::Array(items))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;

    #[test]
    fn reads_nested_replies_in_both_protocols() {
        let resp2 = b"*2\r\n$1\r\nk\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
        let reply = Reply::parse(resp2).expect("valid");
        assert_eq!(reply.elements()[0].text(), Some(&b"k"[..]));
        assert_eq!(reply.elements()[1].elements().len(), 2);
        let resp3 = b"*3\r\n$1\r\nz\r\n$1\r\nm\r\n,1.5\r\n";
        let reply = Reply::parse(resp3).expect("valid");
        assert_eq!(reply.elements()[2].text(), Some(&b"1.5"[..]));
        assert_eq!(Reply::parse(b"$-1\r\n"), Some(Reply::Null));
        assert_eq!(Reply::parse(b"_\r\n"), Some(Reply::Null));
        assert_eq!(Reply::parse(b":-3\r\n"), Some(Reply::Integer(-3)));
        assert_eq!(Reply::parse(b"*2\r\n$1\r\na\r\n"), None);
    }
}
