//! LZF decompression: Redis compresses long strings in RDB files and DUMP
//! payloads with LZF, so reading what a real Redis wrote needs it.

/// Decompresses `input` into exactly `expected_len` bytes; `None` if the data is
/// corrupt or does not produce that length.
pub fn decompress(input: &[u8], expected_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(expected_len.min(input.len().saturating_mul(64)));
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(ip..ip + run)?;
            if out.len() + run > expected_len {
                return None;
            }
            out.extend_from_slice(literal);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if back > out.len() || out.len() + len > expected_len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                let byte = out[start + i];
                out.push(byte);
            }
        }
    }
    (out.len() == expected_len).then_some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn literal_and_back_reference() {
        // "abcabcabc": literal "abc", then a 6-byte back reference 3 bytes back.
        let compressed = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(super::decompress(&compressed, 9).unwrap(), b"abcabcabc");
        assert!(super::decompress(&compressed, 10).is_none());
        assert!(super::decompress(&[(1 << 5), 200], 3).is_none());
    }
}
