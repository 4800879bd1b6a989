//! Reading Redis's listpack format, which Redis 7.0's DUMP payloads use for
//! quicklist nodes (RDB type 18) and for small hashes and sorted sets. Every
//! read is bounds-checked: payloads come from clients.

/// Why a listpack was refused.
pub(crate) const CORRUPT: &str = "corrupt listpack";

const EOF: u8 = 0xff;

/// The elements of the listpack in `bytes`, integers formatted as decimal text.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let header = bytes.get(..6).ok_or(CORRUPT)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let declared = u16::from_le_bytes([header[4], header[5]]);
    if total != bytes.len() {
        return Err(CORRUPT);
    }
    let mut items = Vec::new();
    let mut pos = 6;
    loop {
        let first = *bytes.get(pos).ok_or(CORRUPT)?;
        if first == EOF {
            if pos + 1 != bytes.len() {
                return Err(CORRUPT);
            }
            break;
        }
        let (item, entry_len) = read_entry(&bytes[pos..])?;
        let backlen = backlen_size(entry_len);
        pos = pos
            .checked_add(entry_len + backlen)
            .filter(|&p| p < bytes.len())
            .ok_or(CORRUPT)?;
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err(CORRUPT);
    }
    Ok(items)
}

/// How many bytes Redis's `lpEncodeBacklen` uses for an entry of `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn slice(data: &[u8], start: usize, len: usize) -> Result<&[u8], &'static str> {
    data.get(start..start.checked_add(len).ok_or(CORRUPT)?)
        .ok_or(CORRUPT)
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// One entry at the start of `data`: its value and its length without backlen.
fn read_entry(data: &[u8]) -> Result<(Vec<u8>, usize), &'static str> {
    let first = data[0];
    let byte = |i: usize| data.get(i).copied().ok_or(CORRUPT);
    if first & 0x80 == 0 {
        return Ok((int_text((first & 0x7f) as i64), 1));
    }
    if first & 0xc0 == 0x80 {
        let len = (first & 0x3f) as usize;
        return Ok((slice(data, 1, len)?.to_vec(), 1 + len));
    }
    if first & 0xe0 == 0xc0 {
        let raw = (((first & 0x1f) as i64) << 8) | byte(1)? as i64;
        let value = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
        return Ok((int_text(value), 2));
    }
    if first & 0xf0 == 0xe0 {
        let len = (((first & 0x0f) as usize) << 8) | byte(1)? as usize;
        return Ok((slice(data, 2, len)?.to_vec(), 2 + len));
    }
    let fixed = |n: usize| -> Result<i64, &'static str> {
        let raw = slice(data, 1, n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(raw);
        let unsigned = u64::from_le_bytes(buf);
        let shift = 64 - 8 * n as u32;
        Ok(((unsigned << shift) as i64) >> shift)
    };
    match first {
        0xf0 => {
            let len = u32::from_le_bytes(slice(data, 1, 4)?.try_into().map_err(|_| CORRUPT)?);
            let len = len as usize;
            Ok((slice(data, 5, len)?.to_vec(), 5 + len))
        }
        0xf1 => Ok((int_text(fixed(2)?), 3)),
        0xf2 => Ok((int_text(fixed(3)?), 4)),
        0xf3 => Ok((int_text(fixed(4)?), 5)),
        0xf4 => Ok((int_text(fixed(8)?), 9)),
        _ => Err(CORRUPT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding() {
        // Built by hand following listpack.c: "a", 5, -1 (13-bit), 1000 (13-bit),
        // 100000 (int24), and a 70-byte string (12-bit length).
        let mut body = vec![0x81, b'a', 2, 5, 1, 0xdf, 0xff, 2, 0xc3, 0xe8, 2];
        body.extend_from_slice(&[0xf2, 0xa0, 0x86, 0x01, 4]);
        body.extend_from_slice(&[0xe0, 70]);
        body.extend_from_slice(&[b'x'; 70]);
        body.push(72);
        let mut lp = Vec::new();
        lp.extend_from_slice(&((6 + body.len() + 1) as u32).to_le_bytes());
        lp.extend_from_slice(&6u16.to_le_bytes());
        lp.extend_from_slice(&body);
        lp.push(EOF);
        let items = decode(&lp).unwrap();
        assert_eq!(items[0], b"a");
        assert_eq!(items[1], b"5");
        assert_eq!(items[2], b"-1");
        assert_eq!(items[3], b"1000");
        assert_eq!(items[4], b"100000");
        assert_eq!(items[5], vec![b'x'; 70]);
        assert!(decode(&lp[..lp.len() - 1]).is_err());
        assert!(decode(&[1, 0, 0]).is_err());
    }
}
