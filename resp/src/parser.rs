//! The request parser on the hot path: RESP multibulk requests and inline
//! commands, pipelined, arriving in arbitrary pieces.
//!
//! Why hand-written rather than `redis-protocol`'s decoder: it must accept inline
//! commands (redis-benchmark's PING_INLINE, telnet users, replica keepalives),
//! and it keeps a resume cursor so a large request arriving in small reads is
//! scanned once, not re-parsed from its first byte on every read. The criterion
//! benchmark in `benches/request_parser.rs` compares the two; the numbers are in
//! ARCHITECTURE.md.
//!
//! Nothing is allocated from a length a client claims: a bulk length only says how
//! many bytes to wait for, and the read buffer grows only as bytes arrive.

use std::fmt;

use bytes::{Bytes, BytesMut};

/// Longest inline request, and longest `*<count>` / `$<len>` line, Redis accepts
/// (`PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE_SIZE: usize = 64 * 1024;

/// Largest multibulk element count Redis accepts (`INT_MAX`).
const MAX_MULTIBULK_COUNT: i64 = i32::MAX as i64;

/// Largest multibulk count and bulk length a client that must still
/// authenticate may send (Redis's limits before AUTH).
const UNAUTHENTICATED_MAX_COUNT: i64 = 10;
const UNAUTHENTICATED_MAX_BULK_LEN: u64 = 16384;

/// Limits that come from configuration and the connection's state.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub max_bulk_len: u64,
    /// The client must authenticate first: requests are kept small.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// Malformed input. Redis replies with the error text and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInlineRequest,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    ExpectedDollar(u8),
    TooBigBulkCount,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::TooBigInlineRequest => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::ExpectedDollar(got) => {
                write!(f, "expected '$', got '{}'", *got as char)
            }
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Progress through a multibulk request whose bytes have not all arrived yet.
/// Offsets are relative to the start of the read buffer, which is not consumed
/// until the whole request is there.
#[derive(Debug, Default)]
struct PartialMultibulk {
    /// Arguments still to come.
    remaining: usize,
    /// Where parsing resumes.
    position: usize,
    /// Length of the bulk argument whose `$<len>` line has been read.
    pending_bulk_len: Option<usize>,
}

/// Incremental request parser for one connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<PartialMultibulk>,
    /// Byte ranges of the arguments of the multibulk request being parsed,
    /// kept between requests so that its buffer is allocated once.
    args: Vec<(usize, usize)>,
}

/// The most argument ranges `RequestParser::args` keeps room for between
/// requests (a huge request's room is given back).
const KEPT_ARGS: usize = 1024;

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next complete request out of `buf`, as argument slices sharing
    /// its memory. `Ok(None)` means more bytes are needed. Empty requests (`*0`,
    /// blank inline lines) are skipped.
    pub fn next_request(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.partial.is_none() {
                match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => {
                        if !self.start_multibulk(buf, limits)? {
                            return Ok(None);
                        }
                    }
                    Some(_) => match parse_inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    },
                }
            }
            let Some(partial) = self.partial.as_mut() else {
                continue; // `*0` or a negative count: an empty request
            };
            if !continue_multibulk(partial, &mut self.args, buf, limits)? {
                return Ok(None);
            }
            let done = self.partial.take().expect("partial request exists");
            let frozen = buf.split_to(done.position).freeze();
            let args = self
                .args
                .iter()
                .map(|&(start, end)| frozen.slice(start..end))
                .collect();
            self.args.clear();
            if self.args.capacity() > KEPT_ARGS {
                self.args = Vec::new();
            }
            return Ok(Some(args));
        }
    }

    /// Reads the `*<count>` line. Returns false when it has not fully arrived.
    fn start_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<bool, ProtocolError> {
        let Some(line_end) = find_line_end(buf, 0) else {
            if buf.len() > MAX_INLINE_SIZE {
                return Err(ProtocolError::TooBigMultibulkCount);
            }
            return Ok(false);
        };
        let count = parse_i64(&buf[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
        if count > MAX_MULTIBULK_COUNT {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if count > UNAUTHENTICATED_MAX_COUNT && limits.unauthenticated {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        let position = line_end + 2;
        if count <= 0 {
            let _ = buf.split_to(position);
            return Ok(true);
        }
        let count = count as usize;
        // Left over only if the last request was malformed.
        self.args.clear();
        // Capped: the count is a claim, not bytes that arrived.
        self.args.reserve(count.min(KEPT_ARGS));
        self.partial = Some(PartialMultibulk {
            remaining: count,
            position,
            pending_bulk_len: None,
        });
        Ok(true)
    }
}

/// Advances through the bulk arguments; true when the request is complete.
fn continue_multibulk(
    partial: &mut PartialMultibulk,
    args: &mut Vec<(usize, usize)>,
    buf: &BytesMut,
    limits: &ParseLimits,
) -> Result<bool, ProtocolError> {
    while partial.remaining > 0 {
        let len = match partial.pending_bulk_len {
            Some(len) => len,
            None => {
                let start = partial.position;
                let Some(&first) = buf.get(start) else {
                    return Ok(false);
                };
                if first != b'$' {
                    return Err(ProtocolError::ExpectedDollar(first));
                }
                let Some(line_end) = find_line_end(buf, start) else {
                    if buf.len() - start > MAX_INLINE_SIZE {
                        return Err(ProtocolError::TooBigBulkCount);
                    }
                    return Ok(false);
                };
                let len = parse_i64(&buf[start + 1..line_end])
                    .filter(|&len| len >= 0 && len as u64 <= limits.max_bulk_len)
                    .ok_or(ProtocolError::InvalidBulkLength)? as usize;
                if len as u64 > UNAUTHENTICATED_MAX_BULK_LEN && limits.unauthenticated {
                    return Err(ProtocolError::UnauthenticatedBulkLength);
                }
                partial.position = line_end + 2;
                partial.pending_bulk_len = Some(len);
                len
            }
        };
        let start = partial.position;
        if buf.len() < start + len + 2 {
            return Ok(false);
        }
        args.push((start, start + len));
        partial.position = start + len + 2;
        partial.pending_bulk_len = None;
        partial.remaining -= 1;
    }
    Ok(true)
}

/// An inline command: one line, split like `sdssplitargs`.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = memchr::memchr(b'\n', buf) else {
        if buf.len() > MAX_INLINE_SIZE {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        return Ok(None);
    };
    let line = buf.split_to(newline + 1);
    let mut text = &line[..newline];
    if let Some(stripped) = text.strip_suffix(b"\r") {
        text = stripped;
    }
    let args = crate::split_args(text).ok_or(ProtocolError::UnbalancedQuotes)?;
    Ok(Some(args.into_iter().map(Bytes::from).collect()))
}

/// Position of the `\r` ending the line that starts at `from`, once the byte
/// after it has arrived too (Redis skips two bytes without checking the second).
fn find_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let rest = &buf[from..];
    // `*<count>` and `$<len>` lines are a few bytes: a plain scan finds
    // their end before memchr would have set up its vector search.
    let cr = match rest.iter().take(SHORT_LINE).position(|&b| b == b'\r') {
        Some(i) => from + i,
        None if rest.len() <= SHORT_LINE => return None,
        None => from + SHORT_LINE + memchr::memchr(b'\r', &rest[SHORT_LINE..])?,
    };
    (cr + 1 < buf.len()).then_some(cr)
}

/// How far `find_line_end` scans byte by byte before it calls memchr.
const SHORT_LINE: usize = 24;

/// Strict decimal parse as Redis's `string2ll`: optional `-`, digits, no `+`,
/// no blanks, no leading zeros.
pub(crate) fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = (d - b'0') as i64;
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    if negative && value == 0 {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(req) = parser.next_request(&mut buf, &ParseLimits::default())? {
            out.push(req.into_iter().map(|b| b.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline_pipelined() {
        let reqs =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nECHO \"a b\"\n").unwrap();
        assert_eq!(
            reqs,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"ECHO".to_vec(), b"a b".to_vec()],
            ]
        );
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n";
        for split in 0..input.len() {
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::from(&input[..split]);
            let mut got = Vec::new();
            while let Some(r) = parser
                .next_request(&mut buf, &ParseLimits::default())
                .unwrap()
            {
                got.push(r);
            }
            buf.extend_from_slice(&input[split..]);
            while let Some(r) = parser
                .next_request(&mut buf, &ParseLimits::default())
                .unwrap()
            {
                got.push(r);
            }
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0][2].as_ref(), b"value");
            assert_eq!(got[1][0].as_ref(), b"PING");
        }
    }

    #[test]
    fn redis_protocol_errors() {
        assert_eq!(
            parse_all(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
            Err(ProtocolError::ExpectedDollar(b'f'))
        );
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$blabla\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"set \"\"\"test-key\"\"\" x\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        let long = vec![b'a'; MAX_INLINE_SIZE + 10];
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigInlineRequest));
    }

    #[test]
    fn claimed_length_does_not_allocate() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\nab"[..]);
        let capacity_before = buf.capacity();
        assert_eq!(
            parser.next_request(&mut buf, &ParseLimits::default()),
            Ok(None)
        );
        assert_eq!(buf.capacity(), capacity_before);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"+5"), None);
        assert_eq!(parse_i64(b"05"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
    }

    #[test]
    fn unauthenticated_requests_stay_small() {
        let limits = ParseLimits {
            unauthenticated: true,
            ..ParseLimits::default()
        };
        let parse =
            |input: &[u8]| RequestParser::new().next_request(&mut BytesMut::from(input), &limits);
        assert_eq!(
            parse(b"*11\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            parse(b"*1\r\n$16385\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert!(parse(b"*2\r\n$4\r\nAUTH\r\n$3\r\npwd\r\n").is_ok());
    }
}
