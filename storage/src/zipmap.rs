//! Reading Redis's zipmap format, in which Redis 2.4 and older stored small
//! hashes (RDB type 9). Redis 7.0 still loads it (Redis's own test asset
//! `hash-zipmap.rdb` is one), so Ferrite does too; it never writes one.

const CORRUPT: &str = "corrupt zipmap";
const END: u8 = 0xff;
const BIG_LEN: u8 = 254;

/// Field/value pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The field/value pairs of the zipmap in `bytes`, checked as Redis's deep
/// `zipmapValidateIntegrity`: the end byte last, at least one pair, and the
/// count byte right unless it is 254 ("count them").
pub(crate) fn decode(bytes: &[u8]) -> Result<Pairs, &'static str> {
    let declared = *bytes.first().ok_or(CORRUPT)?;
    let mut pos = 1;
    let mut pairs = Vec::new();
    loop {
        if *bytes.get(pos).ok_or(CORRUPT)? == END {
            let count_wrong = declared != BIG_LEN && declared as usize != pairs.len();
            if pos + 1 != bytes.len() || pairs.is_empty() || count_wrong {
                return Err(CORRUPT);
            }
            return Ok(pairs);
        }
        let field = read_string(bytes, &mut pos, false)?;
        let value = read_string(bytes, &mut pos, true)?;
        pairs.push((field, value));
    }
}

/// A length (one byte, or 254 and four bytes little-endian), for values a
/// "free" byte counting unused bytes after the string, then the string.
fn read_string(bytes: &[u8], pos: &mut usize, has_free: bool) -> Result<Vec<u8>, &'static str> {
    let first = *bytes.get(*pos).ok_or(CORRUPT)?;
    let len = match first {
        END | 253 => return Err(CORRUPT),
        BIG_LEN => {
            let raw = bytes.get(*pos + 1..*pos + 5).ok_or(CORRUPT)?;
            *pos += 5;
            u32::from_le_bytes(raw.try_into().map_err(|_| CORRUPT)?) as usize
        }
        n => {
            *pos += 1;
            n as usize
        }
    };
    let free = if has_free {
        let free = *bytes.get(*pos).ok_or(CORRUPT)? as usize;
        *pos += 1;
        free
    } else {
        0
    };
    let end = pos.checked_add(len).ok_or(CORRUPT)?;
    let string = bytes.get(*pos..end).ok_or(CORRUPT)?.to_vec();
    *pos = end.checked_add(free).ok_or(CORRUPT)?;
    Ok(string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_pairs_and_skips_free_space() {
        // zmlen 2, "f" -> "v" (1 free byte), "ab" -> "" , end.
        let zm = [2, 1, b'f', 1, 1, b'v', 0, 2, b'a', b'b', 0, 0, 0xff];
        let pairs = super::decode(&zm).unwrap();
        assert_eq!(
            pairs,
            vec![(b"f".to_vec(), b"v".to_vec()), (b"ab".to_vec(), Vec::new())]
        );
        assert!(super::decode(&zm[..zm.len() - 1]).is_err());
        let mut uncounted = zm;
        uncounted[0] = 254;
        assert_eq!(super::decode(&uncounted).unwrap().len(), 2);
        let mut miscounted = zm;
        miscounted[0] = 3;
        assert!(super::decode(&miscounted).is_err());
        assert!(super::decode(&[0, 0xff]).is_err(), "no pairs");
    }
}
