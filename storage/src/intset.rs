//! `IntSet`: Redis's intset. Sorted, distinct integers in one exact-size
//! buffer, each stored in the narrowest width (2, 4 or 8 bytes) that holds
//! every member; a member that needs a wider one re-encodes the whole set (an
//! "upgrade", as Redis does). Small integer sets cost a few bytes a member.

/// Sorted distinct integers; see the module doc.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntSet {
    /// The width in bytes, then the members little-endian at that width;
    /// empty when the set is.
    buf: Box<[u8]>,
}

/// The narrowest width that holds `n`.
fn width_for(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

fn read(bytes: &[u8]) -> i64 {
    match bytes.len() {
        2 => i16::from_le_bytes([bytes[0], bytes[1]]) as i64,
        4 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
        _ => {
            let mut full = [0; 8];
            full.copy_from_slice(&bytes[..8]);
            i64::from_le_bytes(full)
        }
    }
}

fn write(out: &mut Vec<u8>, n: i64, width: usize) {
    out.extend_from_slice(&n.to_le_bytes()[..width]);
}

impl IntSet {
    fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The member at `position` in ascending order.
    pub fn get(&self, position: usize) -> Option<i64> {
        let width = self.width();
        let start = 1 + position.checked_mul(width)?;
        self.buf.get(start..start + width).map(read)
    }

    /// Where `n` is, or where it would go (as `slice::binary_search`).
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            match self.get(mid).map(|m| m.cmp(&n)) {
                Some(std::cmp::Ordering::Less) => low = mid + 1,
                Some(std::cmp::Ordering::Greater) => high = mid,
                _ => return Ok(mid),
            }
        }
        Err(low)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Rebuilds the buffer at `width` with `n` inserted at `at` (if given)
    /// and the member at `skip` left out (if given).
    fn rebuild(&mut self, width: usize, insert: Option<(usize, i64)>, skip: Option<usize>) {
        let len = self.len() + usize::from(insert.is_some()) - usize::from(skip.is_some());
        if len == 0 {
            self.buf = Box::default();
            return;
        }
        let mut out = Vec::with_capacity(1 + len * width);
        out.push(width as u8);
        for i in 0..=self.len() {
            if let Some((at, n)) = insert {
                if at == i {
                    write(&mut out, n, width);
                }
            }
            if Some(i) != skip {
                if let Some(member) = self.get(i) {
                    write(&mut out, member, width);
                }
            }
        }
        self.buf = out.into_boxed_slice();
    }

    /// Adds `n`; true if it was not there.
    pub fn insert(&mut self, n: i64) -> bool {
        match self.search(n) {
            Ok(_) => false,
            Err(at) => {
                let width = self.width().max(width_for(n));
                self.rebuild(width, Some((at, n)), None);
                true
            }
        }
    }

    /// Removes `n`; true if it was there.
    pub fn remove(&mut self, n: i64) -> bool {
        match self.search(n) {
            Ok(at) => {
                self.rebuild(self.width(), None, Some(at));
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_sorted_and_upgrades_its_width() {
        let mut set = IntSet::default();
        assert!(set.insert(5));
        assert!(set.insert(-3));
        assert!(!set.insert(5));
        assert_eq!(set.heap_size(), 1 + 2 * 2);
        assert!(set.insert(70_000));
        assert_eq!(set.heap_size(), 1 + 3 * 4);
        assert!(set.insert(i64::MIN));
        assert_eq!(set.iter().collect::<Vec<_>>(), [i64::MIN, -3, 5, 70_000]);
        assert!(set.contains(70_000) && !set.contains(4));
        assert!(set.remove(-3));
        assert!(!set.remove(-3));
        assert_eq!(set.iter().collect::<Vec<_>>(), [i64::MIN, 5, 70_000]);
        for n in [i64::MIN, 5, 70_000] {
            assert!(set.remove(n));
        }
        assert!(set.is_empty());
        assert_eq!(set.heap_size(), 0);
    }
}
