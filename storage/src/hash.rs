//! The hash type. Small hashes use Redis's listpack idea (field/value pairs in
//! insertion order, searched linearly); past `hash-max-listpack-entries` pairs
//! or a field or value longer than `hash-max-listpack-value` bytes they become a
//! hash table for good, as in Redis. OBJECT ENCODING reports which.

use crate::dense::DenseMap;
use crate::encoding::EncodingLimits;

/// A hash value: fields to values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    map: DenseMap<Box<[u8]>>,
}

impl HashValue {
    /// An empty hash in the compact encoding.
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.map.is_indexed() {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Converts to the hash table encoding if a field or value of these
    /// lengths would not fit the compact one (Redis's `hashTypeTryConversion`).
    pub fn fit_lengths(&mut self, len: usize, limits: &EncodingLimits) {
        if !self.map.is_indexed() && len as i64 > limits.hash_max_listpack_value {
            self.map.make_indexed();
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field).map(|v| &**v)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.position(field).is_some()
    }

    /// Sets `field`; true when it is new. Converts to a hash table when the
    /// pair is too long or the hash too big for the compact encoding.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        self.fit_lengths(field.len().max(value.len()), limits);
        let created = match self.map.get_mut(field) {
            Some(old) => {
                *old = value.into();
                false
            }
            None => self.map.insert(field, value.into()),
        };
        if !self.map.is_indexed() && self.map.len() as i64 > limits.hash_max_listpack_entries {
            self.map.make_indexed();
        }
        created
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.map.remove(field).is_some()
    }

    /// The pair at `position` (random picks and scans).
    pub fn entry_at(&self, position: usize) -> Option<(&[u8], &[u8])> {
        self.map.entry_at(position).map(|(k, v)| (k, &**v))
    }

    /// Every (field, value) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (k, &**v))
    }

    pub fn heap_size(&self) -> usize {
        self.map.heap_size(|v| v.len())
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
