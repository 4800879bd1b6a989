//! `DenseMap`: the hash-table form shared by hashes and sets. Entries live in
//! one vector, so a uniformly random entry (HRANDFIELD, SPOP, SRANDMEMBER) is
//! one random index and a scan cursor is a position; an index of positions (a
//! hashbrown table) finds a key, and removals swap the last entry into the
//! hole.

use std::sync::OnceLock;

use hashbrown::HashTable;

/// The process-wide hasher for collection members.
fn hash(bytes: &[u8]) -> u64 {
    static HASHER: OnceLock<ahash::RandomState> = OnceLock::new();
    HASHER.get_or_init(ahash::RandomState::new).hash_one(bytes)
}

/// Byte-string keys to values of type `V`.
#[derive(Debug, Clone)]
pub struct DenseMap<V> {
    entries: Vec<(Box<[u8]>, V)>,
    /// Positions in `entries` by key hash.
    index: HashTable<usize>,
}

impl<V> Default for DenseMap<V> {
    fn default() -> Self {
        DenseMap {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<V> DenseMap<V> {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn position(&self, key: &[u8]) -> Option<usize> {
        self.index
            .find(hash(key), |&i| *self.entries[i].0 == *key)
            .copied()
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1)
    }

    /// Inserts or replaces; true when the key is new.
    pub(crate) fn insert(&mut self, key: &[u8], value: V) -> bool {
        if let Some(i) = self.position(key) {
            self.entries[i].1 = value;
            return false;
        }
        let position = self.entries.len();
        self.entries.push((key.into(), value));
        let entries = &self.entries;
        self.index
            .insert_unique(hash(key), position, |&j| hash(&entries[j].0));
        true
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.position(key)?;
        Some(self.remove_at(i).1)
    }

    /// Removes the entry at `position` (which must be `< len()`).
    pub(crate) fn remove_at(&mut self, position: usize) -> (Box<[u8]>, V) {
        let index = &mut self.index;
        if let Ok(found) = index.find_entry(hash(&self.entries[position].0), |&j| j == position) {
            found.remove();
        }
        let last = self.entries.len() - 1;
        if position != last {
            if let Some(moved) = index.find_mut(hash(&self.entries[last].0), |&j| j == last) {
                *moved = position;
            }
        }
        let removed = self.entries.swap_remove(position);
        if self.entries.capacity() > 64 && self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
            let entries = &self.entries;
            index.shrink_to(entries.len() * 2, |&j| hash(&entries[j].0));
        }
        removed
    }

    pub(crate) fn entry_at(&self, position: usize) -> Option<(&[u8], &V)> {
        self.entries.get(position).map(|(k, v)| (&**k, v))
    }

    /// The entries in position order.
    pub(crate) fn entries(&self) -> &[(Box<[u8]>, V)] {
        &self.entries
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// Heap bytes, given the heap bytes of one value.
    pub(crate) fn heap_size(&self, value_heap: impl Fn(&V) -> usize) -> usize {
        let slots = self.entries.capacity() * std::mem::size_of::<(Box<[u8]>, V)>();
        let index = self.index.capacity() * (std::mem::size_of::<usize>() + 1);
        let owned: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + value_heap(v))
            .sum();
        slots + index + owned
    }
}

impl<V: PartialEq> PartialEq for DenseMap<V> {
    /// Equal when they hold the same entries, whatever the order or encoding.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_keep_the_index_consistent() {
        let mut map = DenseMap::default();
        for i in 0..10u32 {
            assert!(map.insert(i.to_string().as_bytes(), i));
        }
        assert!(!map.insert(b"3", 33));
        assert_eq!(map.remove(b"0"), Some(0));
        assert_eq!(map.remove(b"1"), Some(1));
        for i in 2..10u32 {
            let expected = if i == 3 { 33 } else { i };
            assert_eq!(map.get(i.to_string().as_bytes()), Some(&expected));
        }
        for i in 100..1000u32 {
            map.insert(i.to_string().as_bytes(), i);
        }
        for i in 100..990u32 {
            assert_eq!(map.remove(i.to_string().as_bytes()), Some(i));
        }
        assert_eq!(map.len(), 18);
        assert_eq!(map.get(b"995"), Some(&995));
        assert_eq!(map.get(b"5"), Some(&5));
        assert_eq!(map.get(b"500"), None);
    }
}
