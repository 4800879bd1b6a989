//! The hash type. Small hashes use Redis's listpack idea (field/value pairs in
//! insertion order, searched linearly); past `hash-max-listpack-entries` pairs
//! or a field or value longer than `hash-max-listpack-value` bytes they become a
//! hash table for good, as in Redis. OBJECT ENCODING reports which.

use crate::dense::DenseMap;
use crate::encoding::EncodingLimits;
use crate::packed::{PackedIter, PackedSeq};

/// A hash value: fields to values.
#[derive(Debug, Clone)]
pub struct HashValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// Field, value, field, value, ... in insertion order.
    Packed(PackedSeq),
    Table(Box<DenseMap<Box<[u8]>>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            repr: Repr::Packed(PackedSeq::default()),
        }
    }
}

impl PartialEq for HashValue {
    /// Equal when they hold the same pairs, whatever the order or encoding.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

/// The (field, value) pairs of a packed hash with their pair index.
fn packed_pairs(packed: &PackedSeq) -> impl Iterator<Item = (usize, &[u8], &[u8])> {
    let mut entries = packed.iter();
    (0..).map_while(move |i| Some((i, entries.next()?, entries.next()?)))
}

/// The pair index of `field` in a packed hash.
fn packed_position(packed: &PackedSeq, field: &[u8]) -> Option<usize> {
    packed_pairs(packed)
        .find(|(_, f, _)| *f == field)
        .map(|(i, _, _)| i)
}

impl HashValue {
    /// An empty hash in the compact encoding.
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed.len() / 2,
            Repr::Table(map) => map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Becomes a hash table for good (Redis's `hashTypeConvert`).
    fn convert_to_table(&mut self) {
        if let Repr::Packed(packed) = &self.repr {
            let mut map = DenseMap::default();
            for (_, field, value) in packed_pairs(packed) {
                map.insert(field, value.into());
            }
            self.repr = Repr::Table(Box::new(map));
        }
    }

    /// Converts to the hash table encoding if a field or value of these
    /// lengths would not fit the compact one (Redis's `hashTypeTryConversion`).
    pub fn fit_lengths(&mut self, len: usize, limits: &EncodingLimits) {
        if len as i64 > limits.hash_max_listpack_value {
            self.convert_to_table();
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(packed) => packed_pairs(packed)
                .find(|(_, f, _)| *f == field)
                .map(|(_, _, v)| v),
            Repr::Table(map) => map.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field`; true when it is new. Converts to a hash table when the
    /// pair is too long or the hash too big for the compact encoding.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        self.fit_lengths(field.len().max(value.len()), limits);
        let created = match &mut self.repr {
            Repr::Packed(packed) => match packed_position(packed, field) {
                Some(i) => {
                    packed.set(2 * i + 1, value);
                    false
                }
                None => {
                    packed.push_back(field);
                    packed.push_back(value);
                    true
                }
            },
            Repr::Table(map) => match map.get_mut(field) {
                Some(old) => {
                    *old = value.into();
                    false
                }
                None => map.insert(field, value.into()),
            },
        };
        if self.len() as i64 > limits.hash_max_listpack_entries {
            self.convert_to_table();
        }
        created
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(packed) => match packed_position(packed, field) {
                Some(i) => {
                    packed.remove_indexes(&[2 * i, 2 * i + 1]);
                    true
                }
                None => false,
            },
            Repr::Table(map) => map.remove(field).is_some(),
        }
    }

    /// The pair at `position` (random picks and scans).
    pub fn entry_at(&self, position: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Packed(packed) => {
                Some((packed.get(2 * position)?, packed.get(2 * position + 1)?))
            }
            Repr::Table(map) => map.entry_at(position).map(|(k, v)| (k, &**v)),
        }
    }

    /// Every (field, value) pair.
    pub fn iter(&self) -> HashIter<'_> {
        match &self.repr {
            Repr::Packed(packed) => HashIter::Packed(packed.iter()),
            Repr::Table(map) => HashIter::Table(map.entries().iter()),
        }
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed.heap_size(),
            Repr::Table(map) => map.heap_size(|v| v.len()),
        }
    }
}

/// A field and its value in the hash-table form.
type TablePair = (Box<[u8]>, Box<[u8]>);

/// Iterator over a hash's (field, value) pairs.
pub enum HashIter<'a> {
    Packed(PackedIter<'a>),
    Table(std::slice::Iter<'a, TablePair>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(entries) => Some((entries.next()?, entries.next()?)),
            HashIter::Table(pairs) => pairs.next().map(|(k, v)| (&**k, &**v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_past_the_limits() {
        let limits = EncodingLimits {
            hash_max_listpack_entries: 2,
            hash_max_listpack_value: 4,
            ..EncodingLimits::default()
        };
        let mut hash = HashValue::new();
        assert!(hash.set(b"a", b"1", &limits));
        assert!(!hash.set(b"a", b"2", &limits));
        assert!(hash.set(b"b", b"3", &limits));
        assert_eq!(hash.encoding_name(), "listpack");
        assert!(hash.set(b"c", b"4", &limits));
        assert_eq!(hash.encoding_name(), "hashtable");
        assert_eq!(hash.get(b"a"), Some(&b"2"[..]));

        let mut long = HashValue::new();
        long.set(b"f", b"12345", &limits);
        assert_eq!(long.encoding_name(), "hashtable");
        assert!(long.remove(b"f"));
        assert!(long.is_empty());
    }
}
