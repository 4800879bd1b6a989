//! The list type. Like Redis, a list has two representations: small lists
//! live in one contiguous buffer of length-prefixed entries (Redis's listpack
//! idea: a few bytes of overhead per element, one allocation for the whole
//! list), and lists that outgrow `list-max-listpack-size` become a deque of
//! boxed elements (O(1) at both ends and O(1) by index). A list goes back to
//! the packed form once it has shrunk to half the limit, so a list hovering
//! around the limit does not convert on every push and pop.
//!
//! Redis 7.0 reports every list as `quicklist` to OBJECT ENCODING (its
//! listpack-encoded lists arrive in 7.2), so both forms report that name.

use std::collections::VecDeque;

use crate::encoding::EncodingLimits;
use crate::packed::{PackedIter, PackedSeq};

/// Which end of a list an operation works on (Redis's LEFT / RIGHT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    Left,
    Right,
}

/// Redis's per-node byte limits for negative `list-max-listpack-size` values.
const SIZE_CLASSES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Redis caps a node at this many bytes when the limit is an entry count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// A list value.
#[derive(Debug, Clone)]
pub struct ListValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Packed(PackedSeq),
    /// One allocation per element; `bytes` is the sum of element lengths.
    Deque {
        // Boxed so a list value is three words (small lists are the common case).
        #[allow(clippy::box_collection)]
        items: Box<VecDeque<Box<[u8]>>>,
        bytes: usize,
    },
}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::new()
    }
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue {
            repr: Repr::Packed(PackedSeq::default()),
        }
    }

    /// A list of `items` in order, in the representation `limits` call for.
    pub fn from_items<I, T>(items: I, limits: &EncodingLimits) -> ListValue
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut list = ListValue::new();
        for item in items {
            list.push(ListEnd::Right, item.as_ref(), limits);
        }
        list
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed.len(),
            Repr::Deque { items, .. } => items.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list is in its compact single-buffer form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// Redis 7.0's name for every list encoding.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned by the list (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed.heap_size(),
            Repr::Deque { items, bytes } => {
                items.capacity() * std::mem::size_of::<Box<[u8]>>() + bytes
            }
        }
    }

    /// Whether a packed list of `len` entries in `bytes` bytes fits the limit.
    fn fits_packed(len: usize, bytes: usize, limits: &EncodingLimits) -> bool {
        let fill = limits.list_max_listpack_size;
        if fill >= 0 {
            len as i64 <= fill && bytes <= SIZE_SAFETY_LIMIT
        } else {
            let class = usize::try_from(-(fill + 1)).unwrap_or(0).min(4);
            bytes <= SIZE_CLASSES[class]
        }
    }

    /// Leaves the packed form if the list has outgrown it.
    fn grow_check(&mut self, limits: &EncodingLimits) {
        if let Repr::Packed(packed) = &self.repr {
            if !Self::fits_packed(packed.len(), packed.byte_len(), limits) {
                let items: VecDeque<Box<[u8]>> = self.iter().map(Box::from).collect();
                let bytes = items.iter().map(|item| item.len()).sum();
                self.repr = Repr::Deque {
                    items: Box::new(items),
                    bytes,
                };
            }
        }
    }

    /// Returns to the packed form once the list fits in half the limit.
    fn shrink_check(&mut self, limits: &EncodingLimits) {
        if let Repr::Deque { items, bytes } = &self.repr {
            let len = items.len();
            // Estimated packed size: each entry carries its length twice, 1-3
            // bytes each for any element a packed list can hold.
            let estimate = bytes + len * 6;
            if Self::fits_packed(len * 2, estimate * 2, limits) {
                let mut packed = PackedSeq::default();
                for item in items.iter() {
                    packed.push_back(item);
                }
                self.repr = Repr::Packed(packed);
            }
        }
    }

    pub fn push(&mut self, end: ListEnd, value: &[u8], limits: &EncodingLimits) {
        match &mut self.repr {
            Repr::Packed(packed) => match end {
                ListEnd::Right => packed.push_back(value),
                ListEnd::Left => packed.insert(0, value),
            },
            Repr::Deque { items, bytes } => {
                *bytes += value.len();
                match end {
                    ListEnd::Right => items.push_back(value.into()),
                    ListEnd::Left => items.push_front(value.into()),
                }
            }
        }
        self.grow_check(limits);
    }

    pub fn pop(&mut self, end: ListEnd, limits: &EncodingLimits) -> Option<Vec<u8>> {
        let value = match &mut self.repr {
            Repr::Packed(packed) => match end {
                ListEnd::Left => packed.pop_front()?,
                ListEnd::Right => packed.pop_back()?,
            },
            Repr::Deque { items, bytes } => {
                let value = match end {
                    ListEnd::Left => items.pop_front()?,
                    ListEnd::Right => items.pop_back()?,
                };
                *bytes -= value.len();
                value.into_vec()
            }
        };
        self.shrink_check(limits);
        Some(value)
    }

    /// The element at `index` (from the left, 0-based).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(packed) => packed.get(index),
            Repr::Deque { items, .. } => items.get(index).map(|item| &item[..]),
        }
    }

    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: usize, value: &[u8], limits: &EncodingLimits) -> bool {
        match &mut self.repr {
            Repr::Packed(packed) => {
                if !packed.set(index, value) {
                    return false;
                }
            }
            Repr::Deque { items, bytes } => {
                let Some(slot) = items.get_mut(index) else {
                    return false;
                };
                *bytes = *bytes - slot.len() + value.len();
                *slot = value.into();
            }
        }
        self.grow_check(limits);
        self.shrink_check(limits);
        true
    }

    /// Inserts `value` so that it ends up at `index` (0..=len).
    pub fn insert(&mut self, index: usize, value: &[u8], limits: &EncodingLimits) {
        match &mut self.repr {
            Repr::Packed(packed) => packed.insert(index, value),
            Repr::Deque { items, bytes } => {
                *bytes += value.len();
                items.insert(index.min(items.len()), value.into());
            }
        }
        self.grow_check(limits);
    }

    /// Keeps only the elements in `start..end` (clamped to the list).
    pub fn retain_range(&mut self, start: usize, end: usize, limits: &EncodingLimits) {
        let end = end.min(self.len());
        let start = start.min(end);
        match &mut self.repr {
            Repr::Packed(packed) => packed.retain_range(start, end),
            Repr::Deque { items, bytes } => {
                items.truncate(end);
                items.drain(..start);
                *bytes = items.iter().map(|item| item.len()).sum();
            }
        }
        self.shrink_check(limits);
    }

    /// Removes the elements at the given indexes (ascending, in range).
    pub fn remove_indexes(&mut self, indexes: &[usize], limits: &EncodingLimits) {
        if indexes.is_empty() {
            return;
        }
        match &mut self.repr {
            Repr::Packed(packed) => packed.remove_indexes(indexes),
            Repr::Deque { items, bytes } => {
                let mut i = 0;
                let mut doomed = indexes.iter().peekable();
                items.retain(|item| {
                    let remove = doomed.peek() == Some(&&i);
                    if remove {
                        doomed.next();
                        *bytes -= item.len();
                    }
                    i += 1;
                    !remove
                });
            }
        }
        self.shrink_check(limits);
    }

    /// Every element from left to right; reversible.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// The elements in `start..end` (clamped), from left to right; reversible.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len());
        let start = start.min(end);
        match &self.repr {
            Repr::Packed(packed) => Iter::Packed(packed.range(start, end)),
            Repr::Deque { items, .. } => Iter::Deque(items.range(start..end)),
        }
    }
}

/// Iterator over a list's elements.
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Deque(std::collections::vec_deque::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Packed(entries) => entries.next(),
            Iter::Deque(items) => items.next().map(|item| &item[..]),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            Iter::Packed(entries) => entries.len(),
            Iter::Deque(items) => items.len(),
        };
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(entries) => entries.next_back(),
            Iter::Deque(items) => items.next_back().map(|item| &item[..]),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(fill: i64) -> EncodingLimits {
        EncodingLimits {
            list_max_listpack_size: fill,
            ..EncodingLimits::default()
        }
    }

    fn items(list: &ListValue) -> Vec<Vec<u8>> {
        list.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn push_pop_both_ends_in_both_forms() {
        for fill in [-2, 0, 1, 3, i64::MIN] {
            let l = limits(fill);
            let mut list = ListValue::new();
            list.push(ListEnd::Right, b"b", &l);
            list.push(ListEnd::Left, b"a", &l);
            list.push(ListEnd::Right, &[b'c'; 300], &l);
            assert_eq!(list.len(), 3);
            assert_eq!(list.get(0), Some(&b"a"[..]));
            assert_eq!(list.get(2).map(|e| e.len()), Some(300));
            assert_eq!(list.get(3), None);
            let reversed: Vec<_> = list.iter().rev().map(|e| e.len()).collect();
            assert_eq!(reversed, vec![300, 1, 1]);
            assert_eq!(list.pop(ListEnd::Right, &l).map(|v| v.len()), Some(300));
            assert_eq!(list.pop(ListEnd::Left, &l), Some(b"a".to_vec()));
            assert_eq!(list.pop(ListEnd::Left, &l), Some(b"b".to_vec()));
            assert_eq!(list.pop(ListEnd::Left, &l), None);
        }
    }

    #[test]
    fn converts_past_the_limit_and_back() {
        let l = limits(4);
        let mut list = ListValue::from_items([b"1", b"2", b"3", b"4"], &l);
        assert!(list.is_packed());
        list.push(ListEnd::Right, b"5", &l);
        assert!(!list.is_packed());
        for _ in 0..4 {
            list.pop(ListEnd::Left, &l);
        }
        assert!(list.is_packed());
        assert_eq!(items(&list), vec![b"5".to_vec()]);

        let bytes = limits(-1);
        let mut big = ListValue::new();
        for _ in 0..100 {
            big.push(ListEnd::Left, &[b'x'; 50], &bytes);
        }
        assert!(!big.is_packed());
        assert_eq!(big.encoding_name(), "quicklist");
    }

    #[test]
    fn edits_in_the_middle() {
        for fill in [-2, 2] {
            let l = limits(fill);
            let mut list = ListValue::from_items([&b"a"[..], b"b", b"c", b"d", b"e"], &l);
            assert!(list.set(1, b"B", &l));
            assert!(!list.set(5, b"x", &l));
            list.insert(2, b"long value here", &l);
            list.insert(6, b"end", &l);
            assert_eq!(
                items(&list),
                [
                    &b"a"[..],
                    b"B",
                    b"long value here",
                    b"c",
                    b"d",
                    b"e",
                    b"end"
                ]
            );
            list.remove_indexes(&[0, 2, 6], &l);
            assert_eq!(items(&list), [&b"B"[..], b"c", b"d", b"e"]);
            let middle: Vec<_> = list.range(1, 3).rev().collect();
            assert_eq!(middle, [&b"d"[..], b"c"]);
            list.retain_range(1, 3, &l);
            assert_eq!(items(&list), [&b"c"[..], b"d"]);
            list.retain_range(2, 2, &l);
            assert!(list.is_empty());
        }
    }

    #[test]
    fn random_operations_match_a_model() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for fill in [-1, 0, 4, 16] {
            let l = limits(fill);
            let mut list = ListValue::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                let value = vec![b'a' + (step % 26) as u8; next(3) * next(200)];
                match next(7) {
                    0 | 1 => {
                        list.push(ListEnd::Left, &value, &l);
                        model.push_front(value);
                    }
                    2 => {
                        list.push(ListEnd::Right, &value, &l);
                        model.push_back(value);
                    }
                    3 => assert_eq!(list.pop(ListEnd::Right, &l), model.pop_back()),
                    4 if !model.is_empty() => {
                        let i = next(model.len());
                        assert!(list.set(i, &value, &l));
                        model[i] = value;
                    }
                    5 => {
                        let i = next(model.len() + 1);
                        list.insert(i, &value, &l);
                        model.insert(i, value);
                    }
                    _ if model.len() > 40 => {
                        let start = next(5);
                        let end = model.len() - next(5);
                        list.retain_range(start, end, &l);
                        model.truncate(end);
                        model.drain(..start);
                    }
                    _ => assert_eq!(list.pop(ListEnd::Left, &l), model.pop_front()),
                }
                assert_eq!(list.len(), model.len());
            }
            assert!(list.iter().eq(model.iter().map(|v| &v[..])));
            assert!(list.iter().rev().eq(model.iter().rev().map(|v| &v[..])));
        }
    }

    #[test]
    fn long_entries_round_trip_in_packed_form() {
        let l = limits(-5);
        let long = vec![7u8; 20_000];
        let list = ListValue::from_items([&long[..], b"", b"x"], &l);
        assert!(list.is_packed());
        assert_eq!(list.get(0), Some(&long[..]));
        assert_eq!(list.get(1), Some(&b""[..]));
        assert_eq!(list.iter().next_back(), Some(&b"x"[..]));
    }
}
