//! Streams, Redis 7.0's `t_stream.c` data type: entries of field-value
//! pairs under strictly increasing IDs, with the metadata Redis keeps beside
//! them (last ID, entries ever added, the largest deleted ID).
//!
//! Entries live in nodes (`node`): listpacks in Redis's exact layout, each
//! holding up to `stream-node-max-entries` entries / `stream-node-max-bytes`
//! bytes, in a `BTreeMap` keyed by the node's master ID where Redis has a
//! radix tree. So `~` trims remove whole nodes as Redis's do, and RDB files
//! and DUMP payloads carry the node bytes unchanged. Consumer groups live in
//! `groups`.

mod groups;
mod id;
mod node;
mod rax;

use std::borrow::Cow;
use std::collections::BTreeMap;

pub use groups::{
    estimate_entries_read, Claim, Consumer, ConsumerGroup, ConsumerGroups, PendingEntry, StreamMeta,
};
pub use id::{AddId, InvalidId, StreamId};
pub use node::NodeLimits;
use node::{Node, Slot, MAX_NODE_BYTES};

/// A stream value (Redis's `stream` struct).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    last_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    groups: ConsumerGroups,
}

/// Why XADD could not choose the ID it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not above the stream's last ID.
    NotAboveTop,
    /// The last ID is the largest possible one.
    Exhausted,
    /// `<ms>-*` with `<ms>` the last ID's time and its sequence at the
    /// maximum (Redis reports this one as "Elements are too large").
    SequenceExhausted,
}

/// Why XSETID refused the IDs it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIdError {
    /// The new last ID is below the stream's top entry.
    BelowTop,
    /// `entries_added` is below the stream's length.
    AddedBelowLength,
}

/// An entry: its ID and its field-value pairs, flattened.
pub struct StreamEntry<'a> {
    pub id: StreamId,
    fields: Vec<Cow<'a, [u8]>>,
}

impl StreamEntry<'_> {
    /// Field, value, field, value...
    pub fn fields(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.fields.iter().map(|f| &f[..])
    }
}

/// How a trim decides what goes (XADD's and XTRIM's MAXLEN or MINID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// The metadata an RDB stream record carries besides its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub length: u64,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

/// The entry at `slot` of `node`, its fields decoded.
fn entry(node: &Node, slot: Slot) -> StreamEntry<'_> {
    StreamEntry {
        id: slot.id,
        fields: node.fields(&slot),
    }
}

/// A node's key: its master ID as 16 big-endian bytes (`streamDecodeID`).
fn decode_node_key(key: &[u8]) -> Option<StreamId> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let (ms, seq) = key.split_at(8);
    Some(StreamId::new(
        u64::from_be_bytes(ms.try_into().ok()?),
        u64::from_be_bytes(seq.try_into().ok()?),
    ))
}

/// A node's live entries from `start` on, in order.
fn node_entries(master: StreamId, node: &Node, start: StreamId) -> impl Iterator<Item = Slot> + '_ {
    node.walk(master)
        .map_while(|slot| slot)
        .filter(move |slot| !slot.deleted && slot.id >= start)
}

impl StreamValue {
    /// The consumer groups (`groups.rs`).
    pub fn groups(&self) -> &ConsumerGroups {
        &self.groups
    }

    pub fn groups_mut(&mut self) -> &mut ConsumerGroups {
        &mut self.groups
    }

    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node count of the radix tree Redis would key these nodes in
    /// (XINFO's `radix-tree-nodes`).
    pub fn radix_tree_nodes(&self) -> u64 {
        let keys: Vec<[u8; 16]> = self.nodes().map(|(key, _)| key).collect();
        rax::node_count(&keys)
    }

    /// The first entry's ID, 0-0 when empty (Redis's `first_id`).
    pub fn first_id(&self) -> StreamId {
        self.nodes
            .iter()
            .find_map(|(&master, node)| node_entries(master, node, StreamId::MIN).next())
            .map_or(StreamId::MIN, |slot| slot.id)
    }

    /// The last live entry's ID.
    fn top_id(&self) -> Option<StreamId> {
        self.nodes
            .iter()
            .rev()
            .find_map(|(&master, node)| node_entries(master, node, StreamId::MIN).last())
            .map(|slot| slot.id)
    }

    /// The ID XADD would give its entry (`streamAppendItem`'s choice):
    /// `now_ms` for `*` when it is past the last ID's time.
    pub fn next_id(&self, asked: AddId, now_ms: u64) -> Result<StreamId, AddError> {
        if self.last_id == StreamId::MAX {
            return Err(AddError::Exhausted);
        }
        let id = match asked {
            AddId::Auto if now_ms > self.last_id.ms => StreamId::new(now_ms, 0),
            AddId::Auto => self.last_id.next().ok_or(AddError::NotAboveTop)?,
            AddId::Ms(ms) if ms == self.last_id.ms => match self.last_id.seq {
                u64::MAX => return Err(AddError::SequenceExhausted),
                seq => StreamId::new(ms, seq + 1),
            },
            AddId::Ms(ms) => StreamId::new(ms, 0),
            AddId::Exact(id) => id,
        };
        if id <= self.last_id {
            return Err(AddError::NotAboveTop);
        }
        Ok(id)
    }

    /// Whether an entry of `fields` fits in a node (Redis refuses entries
    /// whose fields and values total more than 1 GB).
    pub fn fits(fields: &[&[u8]]) -> bool {
        fields.iter().map(|f| f.len()).sum::<usize>() <= MAX_NODE_BYTES
    }

    /// Appends an entry under `id`, which `next_id` chose, with the default
    /// node limits.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]]) {
        self.append_with(id, fields, NodeLimits::default());
    }

    /// Appends an entry under `id`, which `next_id` chose and whose
    /// `fields` fit, to the last node or to a new one when `limits` say the
    /// last is full (`streamAppendItem`).
    pub fn append_with(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        let entry_bytes: usize = fields.iter().map(|f| f.len()).sum();
        let master = match self.nodes.last_entry() {
            Some(last) if !last.get().is_full(entry_bytes, limits) => *last.key(),
            tail => {
                if let Some(mut full) = tail {
                    full.get_mut().shrink();
                }
                self.nodes.insert(id, Node::new(fields, limits));
                id
            }
        };
        if let Some(node) = self.nodes.get_mut(&master) {
            node.append(master, id, fields);
        }
        self.length += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The entries from `start` to `end` inclusive, backwards if `rev`.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = StreamEntry<'_>> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        // The node holding `start` is the last one keyed at or below it.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(&master, _)| master);
        let nodes = self.nodes.range(from..=end);
        if rev {
            Box::new(nodes.rev().flat_map(move |(&master, node)| {
                let slots: Vec<Slot> = node_entries(master, node, start)
                    .take_while(|slot| slot.id <= end)
                    .collect();
                slots.into_iter().rev().map(move |slot| entry(node, slot))
            }))
        } else {
            Box::new(nodes.flat_map(move |(&master, node)| {
                node_entries(master, node, start)
                    .take_while(move |slot| slot.id <= end)
                    .map(move |slot| entry(node, slot))
            }))
        }
    }

    /// Deletes the entry `id`; true if it existed (XDEL). Its node goes with
    /// its last live entry.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let found = node_entries(master, node, id)
            .next()
            .filter(|slot| slot.id == id);
        let Some(slot) = found else {
            return false;
        };
        if node.live() == 1 {
            self.nodes.remove(&master);
        } else {
            node.mark_deleted(&slot);
        }
        self.length -= 1;
        self.max_deleted_id = self.max_deleted_id.max(id);
        true
    }

    /// Removes the oldest entries `trim` selects, at most `limit` of them
    /// when given, exactly (`=`); the number removed.
    pub fn trim(&mut self, trim: Trim, limit: Option<u64>) -> u64 {
        self.trim_nodes(trim, false, limit)
    }

    /// Removes whole nodes of the oldest entries `trim` selects (`~`), as
    /// long as a whole node can go and `limit` allows; the number removed.
    pub fn trim_approx(&mut self, trim: Trim, limit: Option<u64>) -> u64 {
        self.trim_nodes(trim, true, limit)
    }

    /// Redis's `streamTrim`: whole nodes from the head while they may all
    /// go, then (unless `approx`) the selected entries of the next node,
    /// flagged deleted.
    fn trim_nodes(&mut self, trim: Trim, approx: bool, limit: Option<u64>) -> u64 {
        let mut removed = 0;
        while let Some(mut first) = self.nodes.first_entry() {
            if matches!(trim, Trim::MaxLen(max) if self.length <= max) {
                break;
            }
            let master = *first.key();
            let entries = first.get().live();
            if limit.is_some_and(|limit| removed + entries > limit) {
                break;
            }
            let whole = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => first.get().last_id(master).is_some_and(|last| last < min),
            };
            if whole {
                first.remove();
                self.length -= entries;
                removed += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = first.get_mut();
            let slots: Vec<Slot> = node.walk(master).map_while(|slot| slot).collect();
            let mut from_node = 0;
            for slot in slots {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => slot.id >= min,
                };
                if stop {
                    break;
                }
                if !slot.deleted {
                    node.flag_deleted(&slot);
                    from_node += 1;
                    self.length -= 1;
                }
            }
            node.add_to_counts(-(from_node as i64), from_node as i64);
            removed += from_node;
            break;
        }
        removed
    }

    /// XSETID: sets the last ID and, when given, `entries_added` and the
    /// largest deleted ID (0-0 leaves it), after the checks Redis makes
    /// against the stream (the command checks its arguments first).
    pub fn set_id(
        &mut self,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted_id: Option<StreamId>,
    ) -> Result<(), SetIdError> {
        if let Some(top) = self.top_id() {
            if last_id < top {
                return Err(SetIdError::BelowTop);
            }
            if entries_added.is_some_and(|added| added < self.length) {
                return Err(SetIdError::AddedBelowLength);
            }
        }
        self.last_id = last_id;
        if let Some(added) = entries_added {
            self.entries_added = added;
        }
        if let Some(max) = max_deleted_id.filter(|&max| max != StreamId::MIN) {
            self.max_deleted_id = max;
        }
        Ok(())
    }

    /// Heap bytes the stream takes (MEMORY USAGE): each node's listpack and
    /// its share of the tree (key, node and about a word of overhead).
    pub fn heap_size(&self) -> usize {
        let per_node = std::mem::size_of::<(StreamId, Node)>() + std::mem::size_of::<usize>();
        self.nodes
            .values()
            .map(|node| per_node + node.heap_size())
            .sum()
    }

    /// The nodes as an RDB record carries them: the 16-byte big-endian
    /// master ID (Redis's radix-tree key) and the listpack.
    pub fn nodes(&self) -> impl Iterator<Item = ([u8; 16], &[u8])> + '_ {
        self.nodes.iter().map(|(master, node)| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&master.ms.to_be_bytes());
            key[8..].copy_from_slice(&master.seq.to_be_bytes());
            (key, node.bytes())
        })
    }

    /// The metadata an RDB record writes after the nodes.
    pub fn meta(&self) -> RecordMeta {
        RecordMeta {
            length: self.length,
            last_id: self.last_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
        }
    }

    /// A stream from RDB nodes (key, listpack) in file order and its
    /// metadata; every node is checked, and the nodes must be in ID order,
    /// hold `meta.length` live entries and end at or below the last ID.
    pub fn from_nodes(
        nodes: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
        meta: RecordMeta,
    ) -> Result<StreamValue, &'static str> {
        let mut stream = StreamValue {
            last_id: meta.last_id,
            max_deleted_id: meta.max_deleted_id,
            entries_added: meta.entries_added,
            ..StreamValue::default()
        };
        let mut top: Option<StreamId> = None;
        for (key, lp) in nodes {
            let master = decode_node_key(&key)
                .ok_or("Stream node key entry is not the size of a stream ID")?;
            if top.is_some_and(|top| master <= top) {
                return Err("Stream nodes out of order");
            }
            let (node, last) = Node::from_bytes(lp, master)?;
            top = Some(last);
            stream.length += node.live();
            stream.nodes.insert(master, node);
        }
        if stream.length != meta.length {
            return Err("Stream length inconsistent with its nodes");
        }
        if top.is_some_and(|top| top > meta.last_id) {
            return Err("Stream last ID below its entries");
        }
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(ids: &[(u64, u64)]) -> StreamValue {
        let mut s = StreamValue::default();
        for &(ms, seq) in ids {
            let id = s.next_id(AddId::Exact(StreamId::new(ms, seq)), 0).unwrap();
            s.append(id, &[b"f", b"v"]);
        }
        s
    }

    #[test]
    fn ids_grow_strictly() {
        let mut s = stream_of(&[(5, 0)]);
        assert_eq!(s.next_id(AddId::Auto, 3), Ok(StreamId::new(5, 1)));
        assert_eq!(s.next_id(AddId::Auto, 9), Ok(StreamId::new(9, 0)));
        assert_eq!(s.next_id(AddId::Ms(5), 0), Ok(StreamId::new(5, 1)));
        assert_eq!(s.next_id(AddId::Ms(4), 0), Err(AddError::NotAboveTop));
        s.set_id(StreamId::new(5, u64::MAX), None, None).unwrap();
        assert_eq!(s.next_id(AddId::Ms(5), 0), Err(AddError::SequenceExhausted));
        assert_eq!(
            s.next_id(AddId::Exact(StreamId::new(5, 0)), 0),
            Err(AddError::NotAboveTop)
        );
        s.set_id(StreamId::MAX, None, None).unwrap();
        assert_eq!(s.next_id(AddId::Auto, 0), Err(AddError::Exhausted));
    }

    #[test]
    fn ranges_trims_and_deletes() {
        let mut s = stream_of(&[(1, 0), (2, 0), (3, 0), (4, 0)]);
        let ids: Vec<_> = s
            .range(StreamId::new(2, 0), StreamId::MAX, true)
            .map(|e| e.id.ms)
            .collect();
        assert_eq!(ids, [4, 3, 2]);
        assert_eq!(s.trim(Trim::MaxLen(3), None), 1);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(3, 0)), None), 1);
        assert_eq!(s.first_id(), StreamId::new(3, 0));
        assert!(s.delete(StreamId::new(4, 0)));
        assert!(!s.delete(StreamId::new(4, 0)));
        assert_eq!(s.max_deleted_id(), StreamId::new(4, 0));
        assert_eq!(s.entries_added(), 4);
        assert_eq!(s.last_id(), StreamId::new(4, 0));
    }

    fn ids(s: &StreamValue) -> Vec<u64> {
        s.range(StreamId::MIN, StreamId::MAX, false)
            .map(|e| e.id.ms)
            .collect()
    }

    fn numbered(n: u64) -> StreamValue {
        stream_of(&(1..=n).map(|i| (i, 0)).collect::<Vec<_>>())
    }

    #[test]
    fn nodes_fill_to_the_limits_and_approx_trims_whole_nodes() {
        let mut s = numbered(250);
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.trim_approx(Trim::MaxLen(120), None), 100);
        assert_eq!((s.len(), s.first_id()), (150, StreamId::new(101, 0)));
        assert_eq!(s.trim_approx(Trim::MaxLen(120), None), 0);
        assert_eq!(
            s.trim_approx(Trim::MinId(StreamId::new(240, 0)), Some(99)),
            0
        );
        assert_eq!(s.trim_approx(Trim::MinId(StreamId::new(240, 0)), None), 100);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(240, 0)), None), 39);
        assert_eq!(ids(&s)[..2], [240, 241]);
        let tiny = NodeLimits {
            max_entries: 0,
            max_bytes: 40,
        };
        let mut small = StreamValue::default();
        for i in 1..=4 {
            small.append_with(StreamId::new(i, 0), &[b"field", b"value"], tiny);
        }
        assert_eq!(small.node_count(), 4, "each node fills its 40 bytes");
    }

    #[test]
    fn deletes_flag_entries_and_drop_emptied_nodes() {
        let mut s = numbered(150);
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.first_id(), StreamId::new(2, 0));
        for i in 2..=100 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!((s.node_count(), s.len()), (1, 50));
        let back: Vec<u64> = s
            .range(StreamId::new(120, 0), StreamId::new(125, 0), true)
            .map(|e| e.id.ms)
            .collect();
        assert_eq!(back, [125, 124, 123, 122, 121, 120]);
        // New entries join the last node, counting its deleted ones.
        s.append(StreamId::new(151, 0), &[b"f", b"v"]);
        assert_eq!(s.node_count(), 1);
    }

    #[test]
    fn fields_read_back_as_given() {
        let mut s = StreamValue::default();
        s.append(StreamId::new(1, 0), &[b"a", b"1", b"b", b"-20"]);
        s.append(StreamId::new(2, 0), &[b"a", b"x", b"b", b"007"]);
        s.append(
            StreamId::new(3, 5),
            &[b"12", b"", b"c", b"9223372036854775807"],
        );
        let all: Vec<Vec<Vec<u8>>> = s
            .range(StreamId::MIN, StreamId::MAX, false)
            .map(|e| e.fields().map(<[u8]>::to_vec).collect())
            .collect();
        let text = |items: &[&str]| -> Vec<Vec<u8>> {
            items.iter().map(|i| i.as_bytes().to_vec()).collect()
        };
        assert_eq!(all[0], text(&["a", "1", "b", "-20"]));
        assert_eq!(all[1], text(&["a", "x", "b", "007"]));
        assert_eq!(all[2], text(&["12", "", "c", "9223372036854775807"]));
    }

    #[test]
    fn nodes_load_back_and_corruption_is_refused_without_panicking() {
        let mut s = numbered(120);
        s.delete(StreamId::new(50, 0));
        let nodes: Vec<(Vec<u8>, Vec<u8>)> =
            s.nodes().map(|(k, lp)| (k.to_vec(), lp.to_vec())).collect();
        let loaded = StreamValue::from_nodes(nodes.clone(), s.meta()).unwrap();
        assert_eq!(ids(&loaded), ids(&s));
        let mut wrong_len = s.meta();
        wrong_len.length += 1;
        assert!(StreamValue::from_nodes(nodes.clone(), wrong_len).is_err());
        for at in 0..nodes[1].1.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = nodes.clone();
                bad[1].1[at] ^= flip;
                // Either refused or a consistent stream; never a panic.
                if let Ok(odd) = StreamValue::from_nodes(bad, s.meta()) {
                    assert_eq!(
                        odd.range(StreamId::MIN, StreamId::MAX, false).count(),
                        odd.len()
                    );
                }
            }
        }
        let mut swapped = nodes;
        swapped.swap(0, 1);
        assert!(StreamValue::from_nodes(swapped, s.meta()).is_err());
    }
}
