//! The set type. Sets whose members are all integers (in Redis's strict sense:
//! the text is exactly how the integer prints) are kept as Redis's intset
//! (`crate::intset`) up to `set-max-intset-entries` members; any other set is
//! a hash table. Redis 7.0 has no listpack sets. Random picks are uniform:
//! both forms index their members by position.

use rand::Rng;

use crate::dense::DenseMap;
use crate::encoding::EncodingLimits;
use crate::intset::IntSet;
use crate::value::parse_canonical_i64;

/// A set value.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// Sorted, distinct integers.
    IntSet(IntSet),
    HashTable(Box<DenseMap<()>>),
}

/// A member as stored: an intset integer or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's text, formatting an integer on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::new()
    }
}

impl SetValue {
    /// An empty set: an intset until a member needs otherwise.
    pub fn new() -> SetValue {
        SetValue::IntSet(IntSet::default())
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::IntSet(v) => v.len(),
            SetValue::HashTable(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            SetValue::IntSet(_) => "intset",
            SetValue::HashTable(_) => "hashtable",
        }
    }

    fn convert_to_table(&mut self) {
        if let SetValue::IntSet(ints) = self {
            let mut map = DenseMap::default();
            for n in ints.iter() {
                map.insert(itoa::Buffer::new().format(n).as_bytes(), ());
            }
            *self = SetValue::HashTable(Box::new(map));
        }
    }

    /// Adds `member`; true if it was not there.
    pub fn add(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        if let SetValue::IntSet(ints) = self {
            if let Some(n) = parse_canonical_i64(member) {
                if !ints.insert(n) {
                    return false;
                }
                if ints.len() as i64 > limits.set_max_intset_entries {
                    self.convert_to_table();
                }
                return true;
            }
            self.convert_to_table();
        }
        match self {
            SetValue::HashTable(map) => map.insert(member, ()),
            SetValue::IntSet(_) => false,
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::IntSet(ints) => parse_canonical_i64(member).is_some_and(|n| ints.remove(n)),
            SetValue::HashTable(map) => map.remove(member).is_some(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::IntSet(ints) => parse_canonical_i64(member).is_some_and(|n| ints.contains(n)),
            SetValue::HashTable(map) => map.position(member).is_some(),
        }
    }

    /// Membership of a member taken from another set.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (self, member) {
            (SetValue::IntSet(ints), Member::Int(n)) => ints.contains(n),
            _ => member.with_bytes(|b| self.contains(b)),
        }
    }

    pub fn member_at(&self, position: usize) -> Option<Member<'_>> {
        match self {
            SetValue::IntSet(ints) => ints.get(position).map(Member::Int),
            SetValue::HashTable(map) => map.entry_at(position).map(|(k, _)| Member::Bytes(k)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        (0..self.len()).filter_map(|i| self.member_at(i))
    }

    /// A uniformly random member.
    pub fn random_member(&self, rng: &mut impl Rng) -> Option<Member<'_>> {
        if self.is_empty() {
            return None;
        }
        self.member_at(rng.gen_range(0..self.len()))
    }

    /// `count` distinct members chosen uniformly (all of them if `count` is
    /// at least the size), in no particular order.
    pub fn random_distinct(&self, count: usize, rng: &mut impl Rng) -> Vec<Member<'_>> {
        if count >= self.len() {
            return self.iter().collect();
        }
        rand::seq::index::sample(rng, self.len(), count)
            .into_iter()
            .filter_map(|i| self.member_at(i))
            .collect()
    }

    /// Removes and returns up to `count` uniformly chosen members.
    pub fn pop_random(&mut self, count: usize, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        let chosen: Vec<Vec<u8>> = self
            .random_distinct(count, rng)
            .iter()
            .map(Member::to_vec)
            .collect();
        if chosen.len() == self.len() {
            *self = SetValue::new();
        } else {
            for member in &chosen {
                self.remove(member);
            }
        }
        chosen
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::IntSet(ints) => ints.heap_size(),
            SetValue::HashTable(map) => map.heap_size(|_| 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let limits = EncodingLimits {
            set_max_intset_entries: 3,
            ..EncodingLimits::default()
        };
        let mut set = SetValue::new();
        assert!(set.add(b"3", &limits));
        assert!(set.add(b"-1", &limits));
        assert!(!set.add(b"3", &limits));
        assert_eq!(set.encoding_name(), "intset");
        assert!(!set.contains(b"03"));
        assert!(set.contains(b"-1"));
        assert!(set.add(b"03", &limits));
        assert_eq!(set.encoding_name(), "hashtable");
        assert!(set.contains(b"3") && set.contains(b"03"));

        let mut ints = SetValue::new();
        for n in 0..4 {
            ints.add(n.to_string().as_bytes(), &limits);
        }
        assert_eq!(ints.encoding_name(), "hashtable");
        assert!(ints.remove(b"2"));
        assert_eq!(ints.len(), 3);
    }

    #[test]
    fn random_picks_are_uniform_enough() {
        let limits = EncodingLimits::default();
        let mut set = SetValue::new();
        for m in ["a", "b", "c", "d"] {
            set.add(m.as_bytes(), &limits);
        }
        let mut rng = rand::thread_rng();
        let mut seen = std::collections::HashMap::new();
        for _ in 0..4000 {
            let m = set.random_member(&mut rng).map(|m| m.to_vec());
            *seen.entry(m).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 4);
        assert!(seen.values().all(|&n| n > 800));
        let popped = set.pop_random(3, &mut rng);
        assert_eq!(popped.len(), 3);
        assert_eq!(set.len(), 1);
        assert_eq!(set.pop_random(5, &mut rng).len(), 1);
        assert!(set.is_empty());
    }
}
