//! The bytes a command occupies in the replication stream: a RESP multibulk,
//! exactly as a Redis master feeds it (`replicationFeedSlaves`).

use std::io::Write;

/// Appends `args` as `*<n>\r\n` followed by one `$<len>\r\n<arg>\r\n` each.
pub fn multibulk<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let arg = arg.as_ref();
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_a_multibulk() {
        let mut out = Vec::new();
        super::multibulk(&mut out, &[&b"SELECT"[..], b"9"]);
        assert_eq!(out, b"*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n");
    }
}
