//! Streams, Redis 7.0's `t_stream.c` data type: entries of field-value
//! pairs under strictly increasing IDs, with the metadata Redis keeps beside
//! them (last ID, entries ever added, the largest deleted ID).
//!
//! Each entry is one `PackedSeq` (field, value, field, value...) in a
//! `BTreeMap` keyed by ID. Redis packs up to `stream-node-max-entries`
//! entries into one listpack per radix-tree node; Ferrite does not yet, so
//! `~` trimming removes exactly what is asked (bounded by LIMIT) rather than
//! whole nodes (STREAMS-STATUS.md). Consumer groups live in `groups`.

mod groups;
mod id;

use std::collections::BTreeMap;
use std::ops::Bound;

pub use groups::{
    estimate_entries_read, Claim, Consumer, ConsumerGroup, ConsumerGroups, PendingEntry, StreamMeta,
};
pub use id::{AddId, InvalidId, StreamId};

use crate::packed::PackedSeq;

/// A stream value (Redis's `stream` struct).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamValue {
    entries: BTreeMap<StreamId, PackedSeq>,
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
    fields: &'a PackedSeq,
}

impl<'a> StreamEntry<'a> {
    /// Field, value, field, value...
    pub fn fields(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        self.fields.iter()
    }
}

/// How a trim decides what goes (XADD's and XTRIM's MAXLEN or MINID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
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
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

    /// The first entry's ID, 0-0 when empty (Redis's `first_id`).
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
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

    /// Appends an entry under `id`, which `next_id` chose.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]]) {
        debug_assert!(id > self.last_id || (self.entries_added == 0 && id > StreamId::MIN));
        let mut packed = PackedSeq::default();
        packed.insert_many(0, fields);
        self.entries.insert(id, packed);
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
        let range = self
            .entries
            .range((Bound::Included(start), Bound::Included(end)))
            .map(|(&id, fields)| StreamEntry { id, fields });
        if rev {
            Box::new(range.rev())
        } else {
            Box::new(range)
        }
    }

    /// Deletes the entry `id`; true if it existed (XDEL).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let deleted = self.entries.remove(&id).is_some();
        if deleted && id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        deleted
    }

    /// Removes the oldest entries `trim` selects, at most `limit` of them
    /// when given; the number removed.
    pub fn trim(&mut self, trim: Trim, limit: Option<u64>) -> u64 {
        let mut removed = 0;
        while limit.is_none_or(|limit| removed < limit) {
            let len = self.entries.len() as u64;
            let Some(entry) = self.entries.first_entry() else {
                break;
            };
            let id = *entry.key();
            let goes = match trim {
                Trim::MaxLen(max) => len > max,
                Trim::MinId(min) => id < min,
            };
            if !goes {
                break;
            }
            entry.remove();
            self.max_deleted_id = self.max_deleted_id.max(id);
            removed += 1;
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
        if let Some(&top) = self.entries.keys().next_back() {
            if last_id < top {
                return Err(SetIdError::BelowTop);
            }
            if entries_added.is_some_and(|added| added < self.len() as u64) {
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

    /// Heap bytes the entries take (MEMORY USAGE): each entry's buffer and
    /// its share of the tree (ID, handle and about a word of node overhead).
    pub fn heap_size(&self) -> usize {
        let per_entry = std::mem::size_of::<(StreamId, PackedSeq)>() + std::mem::size_of::<usize>();
        self.entries
            .values()
            .map(|fields| per_entry + fields.heap_size())
            .sum()
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
        assert_eq!(s.trim(Trim::MinId(StreamId::new(4, 0)), Some(1)), 1);
        assert_eq!(s.first_id(), StreamId::new(3, 0));
        assert!(s.delete(StreamId::new(4, 0)));
        assert!(!s.delete(StreamId::new(4, 0)));
        assert_eq!(s.max_deleted_id(), StreamId::new(4, 0));
        assert_eq!(s.entries_added(), 4);
        assert_eq!(s.last_id(), StreamId::new(4, 0));
    }
}
