//! Stream entry IDs (`<ms>-<seq>`, Redis's `streamID`): ordering, the text
//! forms commands accept (`streamGenericParseIDOrReply`) and the successor /
//! predecessor steps exclusive ranges and auto-generated IDs need.

use std::fmt;

/// An entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// Why an ID argument was refused; commands turn it into Redis's error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidId;

/// An ID as XADD was given it: `*`, `<ms>-*` (sequence chosen), or whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    Auto,
    Ms(u64),
    Exact(StreamId),
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (`streamIncrID`); `None` past the last possible one.
    pub fn next(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID (`streamDecrID`); `None` before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// Parses `-`, `+`, `<ms>` (sequence `missing_seq`) or `<ms>-<seq>`;
    /// `strict` refuses `-` and `+` (IDs that must name an entry).
    pub fn parse(text: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, InvalidId> {
        match text {
            b"-" if !strict => Ok(StreamId::MIN),
            b"+" if !strict => Ok(StreamId::MAX),
            _ => match split(text)? {
                (ms, None) => Ok(StreamId::new(ms, missing_seq)),
                (ms, Some(seq)) => Ok(StreamId::new(ms, parse_u64(seq)?)),
            },
        }
    }

    /// Parses XADD's ID argument: `*`, `<ms>-*`, `<ms>` (sequence 0) or
    /// `<ms>-<seq>`.
    pub fn parse_for_add(text: &[u8]) -> Result<AddId, InvalidId> {
        if text == b"*" {
            return Ok(AddId::Auto);
        }
        match split(text)? {
            (ms, Some(b"*")) => Ok(AddId::Ms(ms)),
            (ms, None) => Ok(AddId::Exact(StreamId::new(ms, 0))),
            (ms, Some(seq)) => Ok(AddId::Exact(StreamId::new(ms, parse_u64(seq)?))),
        }
    }
}

/// `<ms>` and the text after its first `-`, if any (Redis's 127-byte limit).
fn split(text: &[u8]) -> Result<(u64, Option<&[u8]>), InvalidId> {
    if text.len() > 127 {
        return Err(InvalidId);
    }
    match text.iter().position(|&b| b == b'-') {
        Some(dash) => Ok((parse_u64(&text[..dash])?, Some(&text[dash + 1..]))),
        None => Ok((parse_u64(text)?, None)),
    }
}

/// An unsigned decimal, as Redis's `string2ull` (which also lets
/// `strtoull` accept a leading `+` or spaces; those are refused here).
fn parse_u64(text: &[u8]) -> Result<u64, InvalidId> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(InvalidId);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(InvalidId)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_redis_accepts() {
        assert_eq!(StreamId::parse(b"-", 0, false), Ok(StreamId::MIN));
        assert_eq!(StreamId::parse(b"+", 0, false), Ok(StreamId::MAX));
        assert_eq!(StreamId::parse(b"+", 0, true), Err(InvalidId));
        assert_eq!(StreamId::parse(b"5", 7, false), Ok(StreamId::new(5, 7)));
        assert_eq!(StreamId::parse(b"5-3", 7, true), Ok(StreamId::new(5, 3)));
        assert_eq!(StreamId::parse(b"5-", 0, false), Err(InvalidId));
        assert_eq!(StreamId::parse(b"a-1", 0, false), Err(InvalidId));
        assert_eq!(StreamId::parse(b"1-2-3", 0, false), Err(InvalidId));
        assert_eq!(StreamId::parse_for_add(b"*"), Ok(AddId::Auto));
        assert_eq!(StreamId::parse_for_add(b"9-*"), Ok(AddId::Ms(9)));
        assert_eq!(
            StreamId::parse_for_add(b"9"),
            Ok(AddId::Exact(StreamId::new(9, 0)))
        );
    }

    #[test]
    fn steps_carry_across_the_sequence() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
    }
}
