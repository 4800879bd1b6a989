//! Sorted sets. Like Redis, a small sorted set is one compact sorted vector
//! (Redis's listpack: cheap in memory, linear but cache-friendly updates) and
//! a large one is a member index plus an order-statistics tree (Redis's
//! dict + skiplist: O(1) score lookup, O(log n) insert, delete and rank).
//! The switch happens past `zset-max-listpack-entries` members or when a
//! member is longer than `zset-max-listpack-value` bytes.
//!
//! Elements are ordered by (score, member bytes). Scores are never NaN.

use std::cmp::Ordering;

use hashbrown::HashTable;

use crate::encoding::EncodingLimits;
use crate::packed::{PackedIter, PackedSeq};

/// Orders two elements as Redis does: by score, then by member bytes.
fn cmp_elements(score_a: f64, member_a: &[u8], score_b: f64, member_b: &[u8]) -> Ordering {
    score_a
        .partial_cmp(&score_b)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member_a.cmp(member_b))
}

/// A score as Redis's listpack keeps it: `-0` is written as the integer 0.
fn listpack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// Longest score entry that holds an integer; an 8-byte entry is an `f64`.
const MAX_INT_SCORE_BYTES: usize = 7;

/// A score as a packed entry: an integral score that fits in 7 bytes is
/// stored as its shortest little-endian two's-complement bytes (0 takes no
/// bytes at all), any other as the 8 bytes of the `f64`. Redis's listpack
/// also stores integral scores as integers.
fn encode_score(score: f64, buf: &mut [u8; 8]) -> &[u8] {
    let int = score as i64;
    if int as f64 == score {
        let bytes = int.to_le_bytes();
        let shortest = (0..=MAX_INT_SCORE_BYTES).find(|&len| sign_extend(&bytes[..len]) == int);
        if let Some(len) = shortest {
            buf[..len].copy_from_slice(&bytes[..len]);
            return &buf[..len];
        }
    }
    *buf = score.to_le_bytes();
    &buf[..]
}

fn sign_extend(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    let mut full = if bytes[bytes.len() - 1] & 0x80 != 0 {
        [0xff; 8]
    } else {
        [0; 8]
    };
    full[..bytes.len()].copy_from_slice(bytes);
    i64::from_le_bytes(full)
}

fn decode_score(bytes: &[u8]) -> f64 {
    match <[u8; 8]>::try_from(bytes) {
        Ok(float) => f64::from_le_bytes(float),
        Err(_) => sign_extend(bytes) as f64,
    }
}

/// The (member, score) pairs of a packed sorted set, ascending.
fn packed_pairs(packed: &PackedSeq) -> impl Iterator<Item = (f64, &[u8])> {
    let mut entries = packed.iter();
    std::iter::from_fn(move || {
        let member = entries.next()?;
        Some((decode_score(entries.next()?), member))
    })
}

/// The rank of `member` in a packed sorted set, with its score.
fn packed_rank(packed: &PackedSeq, member: &[u8]) -> Option<(usize, f64)> {
    packed_pairs(packed)
        .enumerate()
        .find(|(_, (_, m))| *m == member)
        .map(|(i, (s, _))| (i, s))
}

/// A sorted set value.
#[derive(Debug, Clone)]
pub enum ZSetValue {
    /// Member, score, member, score, ... sorted by (score, member); Redis's
    /// `listpack` encoding.
    Listpack(PackedSeq),
    /// Redis's `skiplist` encoding, here a member index over a treap.
    Skiplist(Box<ZSetIndex>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(PackedSeq::default())
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((s1, m1), (s2, m2))| s1 == s2 && m1 == m2)
    }
}

/// Where a score range starts or ends (`(` makes a bound exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Inclusive(f64),
    Exclusive(f64),
}

impl ZSetValue {
    /// An empty sorted set in the encoding Redis would create for a first
    /// member of `first_member_len` bytes and `expected_len` members.
    pub fn for_new(limits: &EncodingLimits, expected_len: usize, first_member_len: usize) -> Self {
        let fits = limits.zset_max_listpack_entries > 0
            && expected_len as i64 <= limits.zset_max_listpack_entries
            && first_member_len as i64 <= limits.zset_max_listpack_value;
        if fits {
            ZSetValue::default()
        } else {
            ZSetValue::Skiplist(Box::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(packed) => packed.len() / 2,
            ZSetValue::Skiplist(index) => index.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    /// Heap bytes owned (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSetValue::Listpack(packed) => packed.heap_size(),
            ZSetValue::Skiplist(index) => std::mem::size_of::<ZSetIndex>() + index.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(packed) => packed_rank(packed, member).map(|(_, s)| s),
            ZSetValue::Skiplist(index) => index.score(member),
        }
    }

    /// Sets `member`'s score, returning the previous one. Converts to the
    /// full encoding when the compact one would exceed `limits`.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        if let ZSetValue::Listpack(packed) = self {
            let score = listpack_score(score);
            let old = packed_rank(packed, member);
            let too_big = member.len() as i64 > limits.zset_max_listpack_value
                || (old.is_none() && (packed.len() / 2) as i64 >= limits.zset_max_listpack_entries);
            if !too_big {
                if let Some((rank, _)) = old {
                    packed.remove_indexes(&[2 * rank, 2 * rank + 1]);
                }
                let at = packed_pairs(packed)
                    .take_while(|(s, m)| cmp_elements(*s, m, score, member) == Ordering::Less)
                    .count();
                let mut buf = [0; 8];
                packed.insert_many(2 * at, &[member, encode_score(score, &mut buf)]);
                return old.map(|(_, s)| s);
            }
            self.convert_to_skiplist();
        }
        match self {
            ZSetValue::Skiplist(index) => index.insert(member, score),
            ZSetValue::Listpack(_) => None,
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(packed) => {
                let (rank, score) = packed_rank(packed, member)?;
                packed.remove_indexes(&[2 * rank, 2 * rank + 1]);
                Some(score)
            }
            ZSetValue::Skiplist(index) => index.remove(member),
        }
    }

    /// The 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Listpack(packed) => packed_rank(packed, member),
            ZSetValue::Skiplist(index) => {
                let score = index.score(member)?;
                Some((index.tree.count_less(score, member), score))
            }
        }
    }

    /// The element at 0-based ascending rank `rank`.
    pub fn get_by_rank(&self, rank: usize) -> Option<(f64, &[u8])> {
        match self {
            ZSetValue::Listpack(packed) => packed_pairs(packed).nth(rank),
            ZSetValue::Skiplist(index) => index.tree.select(rank),
        }
    }

    /// How many elements lie before `bound` taken as a lower bound of a
    /// score range (so the range's first rank).
    pub fn score_lower_rank(&self, bound: Bound) -> usize {
        match bound {
            Bound::Inclusive(min) => self.count_while(|s, _| s < min),
            Bound::Exclusive(min) => self.count_while(|s, _| s <= min),
        }
    }

    /// The rank just past the last element within `bound` taken as the upper
    /// bound of a score range.
    pub fn score_upper_rank(&self, bound: Bound) -> usize {
        match bound {
            Bound::Inclusive(max) => self.count_while(|s, _| s <= max),
            Bound::Exclusive(max) => self.count_while(|s, _| s < max),
        }
    }

    /// The number of leading elements for which `pred` holds (it must hold
    /// for a prefix of the order and not after): where a range starts or ends.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(packed) => packed_pairs(packed)
                .take_while(|(s, m)| pred(*s, m))
                .count(),
            ZSetValue::Skiplist(index) => index.tree.count_while(&pred),
        }
    }

    /// Elements in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Elements from ascending rank `rank` on, ascending; or, with `rev`,
    /// from descending rank `rank` (0 = highest) on, descending.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match self {
            ZSetValue::Listpack(packed) => {
                let n = packed.len() / 2;
                if rev {
                    Iter::Rev(packed.range(0, 2 * n.saturating_sub(rank)))
                } else {
                    Iter::Fwd(packed.range(2 * rank.min(n), 2 * n))
                }
            }
            ZSetValue::Skiplist(index) => Iter::Tree(index.tree.iter_from(rank, rev)),
        }
    }

    /// Removes and returns the lowest (or, with `max`, highest) element.
    pub fn pop(&mut self, max: bool) -> Option<(f64, Vec<u8>)> {
        let rank = if max { self.len().checked_sub(1)? } else { 0 };
        let (score, member) = self.get_by_rank(rank)?;
        let member = member.to_vec();
        self.remove(&member);
        Some((score, member))
    }

    /// Removes the elements of ascending ranks `start..end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSetValue::Listpack(packed) => packed.remove_range(2 * start, 2 * end),
            ZSetValue::Skiplist(index) => {
                let members: Vec<Vec<u8>> = index
                    .tree
                    .iter_from(start, false)
                    .take(end - start)
                    .map(|(_, m)| m.to_vec())
                    .collect();
                for member in members {
                    index.remove(&member);
                }
            }
        }
        end - start
    }

    /// Returns to the compact encoding when the set fits in it (what Redis
    /// does for the results of ZUNIONSTORE and friends).
    pub fn shrink_if_fits(&mut self, limits: &EncodingLimits) {
        if let ZSetValue::Skiplist(index) = self {
            let fits = index.len() as i64 <= limits.zset_max_listpack_entries
                && index
                    .tree
                    .iter_from(0, false)
                    .all(|(_, m)| m.len() as i64 <= limits.zset_max_listpack_value);
            if fits {
                let mut packed = PackedSeq::default();
                let mut buf = [0; 8];
                for (score, member) in index.tree.iter_from(0, false) {
                    packed.push_back(member);
                    packed.push_back(encode_score(listpack_score(score), &mut buf));
                }
                *self = ZSetValue::Listpack(packed);
            }
        }
    }

    fn convert_to_skiplist(&mut self) {
        if let ZSetValue::Listpack(packed) = self {
            let mut index = ZSetIndex::default();
            for (score, member) in packed_pairs(packed) {
                index.insert(member, score);
            }
            *self = ZSetValue::Skiplist(Box::new(index));
        }
    }
}

/// Iterates a sorted set's elements as (score, member).
pub enum Iter<'a> {
    /// Packed entries, front to back (member then score).
    Fwd(PackedIter<'a>),
    /// Packed entries, back to front (score then member).
    Rev(PackedIter<'a>),
    Tree(TreeIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Fwd(entries) => {
                let member = entries.next()?;
                Some((decode_score(entries.next()?), member))
            }
            Iter::Rev(entries) => {
                let score = decode_score(entries.next_back()?);
                Some((score, entries.next_back()?))
            }
            Iter::Tree(it) => it.next(),
        }
    }
}

/// The full encoding: members hashed to tree nodes (score lookup by member)
/// and the tree ordered by (score, member) with subtree sizes (ranks).
#[derive(Debug, Clone, Default)]
pub struct ZSetIndex {
    tree: OrderTree,
    /// Node indices, hashed by their member.
    by_member: HashTable<u32>,
    hasher: ahash::RandomState,
}

impl ZSetIndex {
    fn len(&self) -> usize {
        self.by_member.len()
    }

    fn heap_size(&self) -> usize {
        self.tree.heap_size() + self.by_member.capacity() * (std::mem::size_of::<u32>() + 1)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        let nodes = &self.tree.nodes;
        self.by_member
            .find(hash, |&i| &*nodes[i as usize].member == member)
            .copied()
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.tree.nodes[i as usize].score)
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some(node) = self.find(member) {
            let old = self.tree.nodes[node as usize].score;
            if old != score || old.is_sign_negative() != score.is_sign_negative() {
                self.tree.detach(node);
                self.tree.nodes[node as usize].score = score;
                self.tree.attach(node);
            }
            return Some(old);
        }
        let node = self.tree.allocate(member, score);
        self.tree.attach(node);
        let hash = self.hasher.hash_one(member);
        let (hasher, nodes) = (&self.hasher, &self.tree.nodes);
        self.by_member
            .insert_unique(hash, node, |&i| hasher.hash_one(&*nodes[i as usize].member));
        None
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let hash = self.hasher.hash_one(member);
        let nodes = &self.tree.nodes;
        let entry = self
            .by_member
            .find_entry(hash, |&i| &*nodes[i as usize].member == member)
            .ok()?;
        let (node, _) = entry.remove();
        self.tree.detach(node);
        Some(self.tree.release(node))
    }
}

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, itself included.
    size: u32,
    /// Heap priority (random), which keeps the tree balanced in expectation.
    priority: u32,
}

/// A treap in an arena, ordered by (score, member), with subtree sizes for
/// rank queries. Node indices are stable while a node is attached, so the
/// member index can point at them.
#[derive(Debug, Clone)]
struct OrderTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    /// xorshift state for priorities.
    seed: u32,
}

impl Default for OrderTree {
    fn default() -> Self {
        OrderTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9e37_79b9,
        }
    }
}

impl OrderTree {
    fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.nodes.iter().map(|n| n.member.len()).sum::<usize>()
    }

    fn size(&self, node: u32) -> usize {
        if node == NIL {
            0
        } else {
            self.nodes[node as usize].size as usize
        }
    }

    fn update(&mut self, node: u32) {
        let n = &self.nodes[node as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[node as usize].size = size as u32;
    }

    fn allocate(&mut self, member: &[u8], score: f64) -> u32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        let node = Node {
            member: member.into(),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            priority: self.seed,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Frees a detached node; returns its score.
    fn release(&mut self, node: u32) -> f64 {
        let n = &mut self.nodes[node as usize];
        n.member = Box::default();
        let score = n.score;
        self.free.push(node);
        if self.free.len() == self.nodes.len() {
            self.nodes.clear();
            self.free.clear();
        }
        score
    }

    /// Splits `t` into the nodes ordered before node `key` and the rest.
    fn split(&mut self, t: u32, key: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        let k = &self.nodes[key as usize];
        if cmp_elements(n.score, &n.member, k.score, &k.member) == Ordering::Less {
            let (a, b) = self.split(n.right, key);
            self.nodes[t as usize].right = a;
            self.update(t);
            (t, b)
        } else {
            let (a, b) = self.split(n.left, key);
            self.nodes[t as usize].left = b;
            self.update(t);
            (a, t)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = right;
            self.update(a);
            a
        } else {
            let left = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = left;
            self.update(b);
            b
        }
    }

    /// Whether node `a` orders before node `b`.
    fn before(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        cmp_elements(a.score, &a.member, b.score, &b.member) == Ordering::Less
    }

    /// Makes `child` the child of `parent` on the side given (the root when
    /// `parent` is NIL).
    fn link(&mut self, parent: u32, left: bool, child: u32) {
        match parent {
            NIL => self.root = child,
            p if left => self.nodes[p as usize].left = child,
            p => self.nodes[p as usize].right = child,
        }
    }

    /// Links an allocated, unlinked node into the tree: one descent to
    /// where its priority puts it (counting it into the subtrees it passes),
    /// then the subtree found there is split around it. That subtree is
    /// small in expectation (a treap insertion does fewer than two
    /// rotations on average), so the cost is the descent alone.
    fn attach(&mut self, node: u32) {
        let priority = self.nodes[node as usize].priority;
        let (mut parent, mut left) = (NIL, false);
        let mut t = self.root;
        while t != NIL && self.nodes[t as usize].priority >= priority {
            self.nodes[t as usize].size += 1;
            left = self.before(node, t);
            parent = t;
            let n = &self.nodes[t as usize];
            t = if left { n.left } else { n.right };
        }
        let (a, b) = self.split(t, node);
        let n = &mut self.nodes[node as usize];
        n.left = a;
        n.right = b;
        self.update(node);
        self.link(parent, left, node);
    }

    /// Unlinks a node (which must be in the tree); its index stays valid.
    /// One descent to it (uncounting it from the subtrees above), then its
    /// two subtrees are merged in its place (short in expectation, as for
    /// `attach`).
    fn detach(&mut self, node: u32) {
        let (mut parent, mut left) = (NIL, false);
        let mut t = self.root;
        while t != node {
            debug_assert_ne!(t, NIL, "detached node not in the tree");
            self.nodes[t as usize].size -= 1;
            left = self.before(node, t);
            parent = t;
            let n = &self.nodes[t as usize];
            t = if left { n.left } else { n.right };
        }
        let n = &self.nodes[node as usize];
        let merged = self.merge(n.left, n.right);
        self.link(parent, left, merged);
        let n = &mut self.nodes[node as usize];
        n.left = NIL;
        n.right = NIL;
        n.size = 1;
    }

    fn count_less(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(&|s, m| cmp_elements(s, m, score, member) == Ordering::Less)
    }

    fn count_while(&self, pred: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if pred(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    fn select(&self, mut rank: usize) -> Option<(f64, &[u8])> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let left = self.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((n.score, &n.member)),
                Ordering::Greater => {
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// In-order from `rank` (descending order and rank when `rev`).
    fn iter_from(&self, mut rank: usize, rev: bool) -> TreeIter<'_> {
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let (near, far) = if rev {
                (n.right, n.left)
            } else {
                (n.left, n.right)
            };
            let before = self.size(near);
            if rank < before {
                stack.push(t);
                t = near;
            } else if rank == before {
                stack.push(t);
                break;
            } else {
                rank -= before + 1;
                t = far;
            }
        }
        TreeIter {
            tree: self,
            stack,
            rev,
        }
    }
}

/// In-order traversal of the tree with an explicit stack.
pub struct TreeIter<'a> {
    tree: &'a OrderTree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let t = self.stack.pop()?;
        let nodes = &self.tree.nodes;
        let n = &nodes[t as usize];
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let child = &nodes[c as usize];
            c = if self.rev { child.right } else { child.left };
        }
        Some((n.score, &n.member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entries: i64) -> EncodingLimits {
        EncodingLimits {
            zset_max_listpack_entries: entries,
            ..EncodingLimits::default()
        }
    }

    fn members(z: &ZSetValue) -> Vec<(f64, Vec<u8>)> {
        z.iter().map(|(s, m)| (s, m.to_vec())).collect()
    }

    #[test]
    fn packed_scores_round_trip_in_their_shortest_form() {
        let cases: [(f64, usize); 12] = [
            (0.0, 0),
            (1.0, 1),
            (-1.0, 1),
            (127.0, 1),
            (128.0, 2),
            (-129.0, 2),
            ((1u64 << 40) as f64, 6),
            (((1u64 << 53) - 1) as f64, 7),
            (-((1u64 << 55) as f64), 7),
            ((1u64 << 60) as f64, 8),
            (1.5, 8),
            (f64::NEG_INFINITY, 8),
        ];
        for (score, len) in cases {
            let mut buf = [0; 8];
            let encoded = encode_score(score, &mut buf);
            assert_eq!(encoded.len(), len, "{score}");
            assert_eq!(decode_score(encoded), score);
        }
    }

    #[test]
    fn both_encodings_agree() {
        let mut rng = 12345u64;
        let mut small = ZSetValue::default();
        let mut big = ZSetValue::Skiplist(Box::default());
        let lim = limits(i64::MAX);
        for _ in 0..3000 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
            let member = format!("m{}", (rng >> 33) % 200).into_bytes();
            let score = ((rng >> 20) % 50) as f64;
            if (rng >> 40).is_multiple_of(3) {
                assert_eq!(small.remove(&member), big.remove(&member));
            } else {
                assert_eq!(
                    small.insert(&member, score, &lim),
                    big.insert(&member, score, &lim)
                );
            }
            assert_eq!(members(&small), members(&big));
        }
        assert_eq!(small.encoding_name(), "listpack");
        assert_eq!(big.encoding_name(), "skiplist");
        for rank in 0..small.len() {
            let (s, m) = small.get_by_rank(rank).unwrap();
            assert_eq!(big.get_by_rank(rank), Some((s, m)));
            assert_eq!(big.rank(m), Some((rank, s)));
            let rev: Vec<_> = big.iter_from(rank, true).collect();
            let rev_small: Vec<_> = small.iter_from(rank, true).collect();
            assert_eq!(rev, rev_small);
        }
        for b in [Bound::Inclusive(10.0), Bound::Exclusive(10.0)] {
            assert_eq!(small.score_lower_rank(b), big.score_lower_rank(b));
            assert_eq!(small.score_upper_rank(b), big.score_upper_rank(b));
        }
    }

    /// Checks every node of `tree`'s subtree `t`: subtree sizes, heap order
    /// of priorities, and (score, member) order; returns its size.
    fn check_subtree(tree: &OrderTree, t: u32) -> usize {
        if t == NIL {
            return 0;
        }
        let n = &tree.nodes[t as usize];
        for child in [n.left, n.right].into_iter().filter(|&c| c != NIL) {
            assert!(tree.nodes[child as usize].priority <= n.priority);
        }
        if n.left != NIL {
            assert!(tree.before(n.left, t));
        }
        if n.right != NIL {
            assert!(tree.before(t, n.right));
        }
        let size = 1 + check_subtree(tree, n.left) + check_subtree(tree, n.right);
        assert_eq!(n.size as usize, size);
        size
    }

    #[test]
    fn tree_stays_a_counted_treap() {
        let mut index = ZSetIndex::default();
        let mut rng = 99u64;
        for _ in 0..20_000 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
            let member = format!("m{}", (rng >> 33) % 500).into_bytes();
            let score = ((rng >> 20) % 40) as f64;
            if (rng >> 41).is_multiple_of(4) {
                index.remove(&member);
            } else {
                index.insert(&member, score);
            }
        }
        assert_eq!(check_subtree(&index.tree, index.tree.root), index.len());
        let all: Vec<_> = index.tree.iter_from(0, false).collect();
        assert!(all
            .windows(2)
            .all(|w| cmp_elements(w[0].0, w[0].1, w[1].0, w[1].1).is_lt()));
    }

    #[test]
    fn converts_past_limits() {
        let lim = limits(2);
        let mut z = ZSetValue::default();
        z.insert(b"a", 1.0, &lim);
        z.insert(b"b", 2.0, &lim);
        assert_eq!(z.encoding_name(), "listpack");
        z.insert(b"b", 3.0, &lim);
        assert_eq!(z.encoding_name(), "listpack");
        z.insert(b"c", 0.0, &lim);
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(
            members(&z),
            vec![
                (0.0, b"c".to_vec()),
                (1.0, b"a".to_vec()),
                (3.0, b"b".to_vec())
            ]
        );
        assert_eq!(z.pop(true), Some((3.0, b"b".to_vec())));
        z.shrink_if_fits(&lim);
        assert_eq!(z.encoding_name(), "listpack");
        assert_eq!(z.remove_rank_range(0, 5), 2);
        assert!(z.is_empty());
    }
}
