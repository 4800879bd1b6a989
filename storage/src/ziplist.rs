//! Reading Redis's ziplist format, which Redis 6.2 and older wrote into RDB
//! files for small lists (type 10, and the nodes of quicklists, type 14),
//! hashes (13) and sorted sets (12). Ferrite never writes ziplists. Every read
//! is bounds-checked: the bytes come from files and clients.

const CORRUPT: &str = "corrupt ziplist";
const END: u8 = 0xff;
const HEADER: usize = 10;

/// The entries of the ziplist in `bytes`, integers formatted as decimal text.
/// The whole structure is checked as Redis's deep `ziplistValidateIntegrity`:
/// total size, every entry's encoding and its "prevlen" (the size of the entry
/// before it), the tail offset (where the last entry starts), the count and
/// the end byte.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let header = bytes.get(..HEADER).ok_or(CORRUPT)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let tail = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let declared = u16::from_le_bytes([header[8], header[9]]);
    if total != bytes.len() {
        return Err(CORRUPT);
    }
    let mut items = Vec::new();
    let mut pos = HEADER;
    let mut last_start = HEADER;
    let mut previous_size = 0usize;
    loop {
        let first = *bytes.get(pos).ok_or(CORRUPT)?;
        if first == END {
            if pos + 1 != bytes.len() {
                return Err(CORRUPT);
            }
            break;
        }
        // The previous entry's size: one byte, or 0xfe and four bytes.
        let (prevlen, prevlen_size) = if first < 0xfe {
            (first as usize, 1)
        } else {
            let raw = slice(bytes, pos + 1, 4)?;
            (
                u32::from_le_bytes(raw.try_into().map_err(|_| CORRUPT)?) as usize,
                5,
            )
        };
        if prevlen != previous_size {
            return Err(CORRUPT);
        }
        let (item, len) = read_entry(bytes.get(pos + prevlen_size..).ok_or(CORRUPT)?)?;
        last_start = pos;
        previous_size = prevlen_size + len;
        pos += previous_size;
        items.push(item);
    }
    if tail != last_start {
        return Err(CORRUPT);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err(CORRUPT);
    }
    Ok(items)
}

fn slice(data: &[u8], start: usize, len: usize) -> Result<&[u8], &'static str> {
    data.get(start..start.checked_add(len).ok_or(CORRUPT)?)
        .ok_or(CORRUPT)
}

fn signed_le(data: &[u8], n: usize) -> Result<i64, &'static str> {
    let raw = slice(data, 1, n)?;
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(raw);
    let shift = 64 - 8 * n as u32;
    Ok(((u64::from_le_bytes(buf) << shift) as i64) >> shift)
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// One entry after its prevlen field: its value and its length in bytes.
fn read_entry(data: &[u8]) -> Result<(Vec<u8>, usize), &'static str> {
    let first = *data.first().ok_or(CORRUPT)?;
    let string = |header: usize, len: usize| -> Result<(Vec<u8>, usize), &'static str> {
        Ok((slice(data, header, len)?.to_vec(), header + len))
    };
    match first >> 6 {
        0 => return string(1, (first & 0x3f) as usize),
        1 => {
            let low = *data.get(1).ok_or(CORRUPT)? as usize;
            return string(2, (((first & 0x3f) as usize) << 8) | low);
        }
        2 => {
            let len = u32::from_be_bytes(slice(data, 1, 4)?.try_into().map_err(|_| CORRUPT)?);
            return string(5, len as usize);
        }
        _ => {}
    }
    let (value, width) = match first {
        0xc0 => (signed_le(data, 2)?, 2),
        0xd0 => (signed_le(data, 4)?, 4),
        0xe0 => (signed_le(data, 8)?, 8),
        0xf0 => (signed_le(data, 3)?, 3),
        0xfe => (signed_le(data, 1)?, 1),
        0xf1..=0xfd => ((first & 0x0f) as i64 - 1, 0),
        _ => return Err(CORRUPT),
    };
    Ok((int_text(value), 1 + width))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of `entries` (each already encoded after its prevlen).
    fn build(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut previous = 0usize;
        let mut tail = HEADER;
        for entry in entries {
            tail = HEADER + body.len();
            if previous < 0xfe {
                body.push(previous as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(previous as u32).to_le_bytes());
            }
            body.extend_from_slice(entry);
            previous = entry.len() + if previous < 0xfe { 1 } else { 5 };
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((HEADER + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(END);
        zl
    }

    #[test]
    fn decodes_every_encoding() {
        let long = [&[0x40, 100][..], &[b'y'; 100]].concat();
        let zl = build(&[
            b"\x03abc",
            b"\xc0\x18\xfc",         // int16 -1000
            b"\xd0\x40\x42\x0f\x00", // int32 1000000
            b"\xe0\x00\x00\x00\x00\x01\x00\x00\x00",
            b"\xf0\x60\x79\xfe", // int24 -100000
            b"\xfe\x80",         // int8 -128
            b"\xf1",             // immediate 0
            b"\xfd",             // immediate 12
            &long,
        ]);
        let items = decode(&zl).unwrap();
        let expected: Vec<Vec<u8>> = vec![
            b"abc".to_vec(),
            b"-1000".to_vec(),
            b"1000000".to_vec(),
            b"4294967296".to_vec(),
            b"-100000".to_vec(),
            b"-128".to_vec(),
            b"0".to_vec(),
            b"12".to_vec(),
            vec![b'y'; 100],
        ];
        assert_eq!(items, expected);
        assert!(decode(&zl[..zl.len() - 1]).is_err());
        let mut wrong_count = zl.clone();
        wrong_count[8] = 3;
        assert!(decode(&wrong_count).is_err());
        let mut wrong_tail = zl.clone();
        wrong_tail[4] -= 1;
        assert!(decode(&wrong_tail).is_err());
        let mut wrong_prevlen = zl.clone();
        wrong_prevlen[HEADER + 5] += 1; // the second entry's prevlen
        assert!(decode(&wrong_prevlen).is_err());
    }
}
