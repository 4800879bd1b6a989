//! Reply encoding. Commands write replies straight into the connection's output
//! buffer through [`ReplyWriter`]; each method encodes its reply type the way
//! Redis 7.0 does for the connection's protocol (RESP2 folds maps, sets, doubles
//! and booleans into arrays, bulk strings and integers).

use crate::format_double;

/// The protocol version a connection negotiated with `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// An output buffer plus the protocol to encode for.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    buf: Vec<u8>,
    protocol: Protocol,
    errors_written: u64,
    last_error_code: Option<String>,
}

impl ReplyWriter {
    pub fn new(protocol: Protocol) -> Self {
        ReplyWriter {
            protocol,
            ..Default::default()
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// The encoded bytes waiting to be written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The encoded bytes, consuming the writer (a message encoded once and
    /// then shared by many connections).
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Drops everything written after `len` (used to replace a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// How many error replies were written since creation, and the code (first
    /// word) of the last one: the server's error statistics read these.
    pub fn errors_written(&self) -> u64 {
        self.errors_written
    }

    pub fn take_last_error_code(&mut self) -> Option<String> {
        self.last_error_code.take()
    }

    pub fn simple(&mut self, status: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(status.as_bytes());
        self.crlf();
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// An error reply; `message` starts with its code, e.g. `ERR syntax error`.
    /// Line breaks are replaced by spaces so the reply stays one line.
    pub fn error(&mut self, message: &str) {
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(message.as_bytes());
        for byte in &mut self.buf[start..] {
            if *byte == b'\r' || *byte == b'\n' {
                *byte = b' ';
            }
        }
        self.crlf();
        self.errors_written += 1;
        let code = message.split(' ').next().unwrap_or("ERR");
        self.last_error_code = Some(code.to_string());
    }

    pub fn integer(&mut self, value: i64) {
        self.buf.push(b':');
        self.number(value);
    }

    pub fn bulk(&mut self, value: &[u8]) {
        self.buf.push(b'$');
        self.number(value.len() as i64);
        self.buf.extend_from_slice(value);
        self.crlf();
    }

    /// A bulk string made of several pieces, without joining them first.
    pub fn bulk_parts(&mut self, parts: &[&[u8]]) {
        self.buf.push(b'$');
        self.number(parts.iter().map(|p| p.len()).sum::<usize>() as i64);
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        self.crlf();
    }

    pub fn bulk_integer(&mut self, value: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(value).as_bytes());
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.aggregate(b'*', len);
    }

    /// A map of `len` pairs (a flat array of `2 * len` elements in RESP2).
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.aggregate(b'*', len * 2),
            Protocol::Resp3 => self.aggregate(b'%', len),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.aggregate(b'*', len),
            Protocol::Resp3 => self.aggregate(b'~', len),
        }
    }

    /// An out-of-band push message (an array in RESP2).
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.aggregate(b'*', len),
            Protocol::Resp3 => self.aggregate(b'>', len),
        }
    }

    pub fn double(&mut self, value: f64) {
        self.double_text(&format_double(value));
    }

    /// A double its caller formatted (GEOPOS prints coordinates its own way):
    /// a bulk string in RESP2, a double in RESP3.
    pub fn double_text(&mut self, text: &str) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.crlf();
            }
        }
    }

    pub fn boolean(&mut self, value: bool) {
        match self.protocol {
            Protocol::Resp2 => self.integer(value as i64),
            Protocol::Resp3 => {
                self.buf
                    .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" })
            }
        }
    }

    /// Verbatim text (`=` with a three-letter format in RESP3, bulk in RESP2).
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.buf.push(b'=');
                self.number((text.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.push(b':');
                self.buf.extend_from_slice(text);
                self.crlf();
            }
        }
    }

    /// A big number (`(` in RESP3, bulk string in RESP2).
    pub fn big_number(&mut self, digits: &str) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits.as_bytes()),
            Protocol::Resp3 => {
                self.buf.push(b'(');
                self.buf.extend_from_slice(digits.as_bytes());
                self.crlf();
            }
        }
    }

    /// An attribute map header (RESP3 only; callers skip it in RESP2).
    pub fn attribute(&mut self, len: usize) {
        self.aggregate(b'|', len);
    }

    /// Bytes that are already valid RESP (e.g. a reply captured earlier).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }

    fn aggregate(&mut self, kind: u8, len: usize) {
        self.buf.push(kind);
        self.number(len as i64);
    }

    fn number(&mut self, value: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.extend_from_slice(digits.format(value).as_bytes());
        self.crlf();
    }

    fn crlf(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_per_protocol() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.null();
        w.boolean(true);
        assert_eq!(w.as_bytes(), b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");

        let mut w = ReplyWriter::new(Protocol::Resp3);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.null();
        w.boolean(true);
        w.verbatim("txt", b"hi");
        assert_eq!(
            w.as_bytes(),
            b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n#t\r\n=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn errors_are_one_line_and_counted() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.error("ERR bad\r\nthing");
        assert_eq!(w.as_bytes(), b"-ERR bad  thing\r\n");
        assert_eq!(w.errors_written(), 1);
        assert_eq!(w.take_last_error_code().as_deref(), Some("ERR"));
    }
}
