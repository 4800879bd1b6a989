//! One stream node: a listpack holding a run of entries in exactly Redis
//! 7.0's layout (`t_stream.c`), so RDB files and DUMP payloads carry its
//! bytes unchanged and node boundaries (`~` trims, XINFO's key count) match
//! Redis.
//!
//! ```text
//! master entry: count | deleted | num-fields | field_1 ... field_N | 0
//! each entry:   flags | ms-delta | seq-delta | [num-fields | field_1 |] value_1 [| field_2] ... | lp-count
//! ```
//!
//! IDs are deltas from the node's master ID (the ID of the first entry ever
//! added to it, the node's key). An entry whose fields are the master's
//! carries only its values (flag SAMEFIELDS). Deleting an entry only sets
//! its DELETED flag and moves one from `count` to `deleted`; the node goes
//! when its last live entry does.

use std::borrow::Cow;

use super::StreamId;
use crate::listpack::{self, Elem, HEADER};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// Redis's `STREAM_LISTPACK_MAX_SIZE`: the node byte limit never exceeds it.
pub(super) const MAX_NODE_BYTES: usize = 1 << 30;
/// Redis's `STREAM_LISTPACK_MAX_PRE_ALLOCATE`: a new node's initial room.
const MAX_PRE_ALLOCATE: usize = 4096;

/// When XADD starts a new node (`stream-node-max-entries` /
/// `stream-node-max-bytes`; 0 means no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

impl Default for NodeLimits {
    /// Redis's defaults (100 entries, 4096 bytes).
    fn default() -> Self {
        crate::EncodingLimits::default().stream_nodes()
    }
}

/// A node's listpack.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    lp: Vec<u8>,
}

/// Where an entry sits in its node, as a walk finds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub id: StreamId,
    pub deleted: bool,
    /// Offset of the entry's flags element.
    pub flags_at: usize,
    /// Offset of its first field (or value, with SAMEFIELDS).
    fields_at: usize,
    same_fields: bool,
    num_fields: usize,
}

fn int_at(lp: &[u8], pos: usize) -> Option<(i64, usize)> {
    let (elem, next) = listpack::get(lp, pos).ok()??;
    Some((elem.int()?, next))
}

fn elem_at(lp: &[u8], pos: usize) -> Option<(Elem<'_>, usize)> {
    listpack::get(lp, pos).ok()?
}

impl Node {
    /// A node whose master entry has the field names of `fields` (field,
    /// value, ...) and no entries yet; `append` adds the first.
    pub(super) fn new(fields: &[&[u8]], limits: NodeLimits) -> Node {
        let room = match limits.max_bytes as usize {
            0 => MAX_PRE_ALLOCATE,
            bytes => bytes.min(MAX_PRE_ALLOCATE),
        };
        let mut lp = Vec::with_capacity(room);
        lp.extend_from_slice(&listpack::new());
        listpack::push_int(&mut lp, 0);
        listpack::push_int(&mut lp, 0);
        listpack::push_int(&mut lp, (fields.len() / 2) as i64);
        for field in fields.iter().step_by(2) {
            listpack::push_str(&mut lp, field);
        }
        listpack::push_int(&mut lp, 0);
        Node { lp }
    }

    /// A node loaded from an RDB file or DUMP payload, checked the way
    /// Redis's deep `streamValidateListpackIntegrity` checks it, and more:
    /// the counts must match the flags and the IDs must grow from `master`.
    /// Returns the node and its last entry's ID.
    pub(super) fn from_bytes(
        lp: Vec<u8>,
        master: StreamId,
    ) -> Result<(Node, StreamId), &'static str> {
        const BAD: &str = "Stream listpack integrity check failed.";
        listpack::check(&lp).map_err(|_| BAD)?;
        let node = Node { lp };
        let (count, deleted) = node.counts().ok_or(BAD)?;
        let (mut live, mut dead, mut end) = (0i64, 0i64, node.first_slot_at().ok_or(BAD)?);
        let mut last: Option<StreamId> = None;
        for slot in node.walk(master) {
            let slot = slot.ok_or(BAD)?;
            if last.is_some_and(|last| slot.id <= last) || slot.id < master {
                return Err(BAD);
            }
            last = Some(slot.id);
            if slot.deleted {
                dead += 1;
            } else {
                live += 1;
            }
            end = node.slot_end(&slot).ok_or(BAD)?;
        }
        if elem_at(&node.lp, end).is_some() || (live, dead) != (count, deleted) {
            return Err(BAD);
        }
        let last = last.ok_or("Empty listpack inside stream")?;
        Ok((node, last))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.lp
    }

    /// Heap bytes the node holds.
    pub(super) fn heap_size(&self) -> usize {
        self.lp.capacity()
    }

    /// Live and deleted entry counts from the master entry.
    fn counts(&self) -> Option<(i64, i64)> {
        let (count, next) = int_at(&self.lp, HEADER)?;
        let (deleted, _) = int_at(&self.lp, next)?;
        Some((count, deleted))
    }

    /// The number of live entries.
    pub(super) fn live(&self) -> u64 {
        self.counts().map_or(0, |(count, _)| count.max(0) as u64)
    }

    /// Whether XADD must start a new node rather than append an entry whose
    /// fields and values total `entry_bytes` (`streamAppendItem`'s test).
    pub(super) fn is_full(&self, entry_bytes: usize, limits: NodeLimits) -> bool {
        let max_bytes = match limits.max_bytes as usize {
            0 => MAX_NODE_BYTES,
            bytes => bytes.min(MAX_NODE_BYTES),
        };
        if self.lp.len() + entry_bytes >= max_bytes {
            return true;
        }
        let (count, deleted) = self.counts().unwrap_or_default();
        limits.max_entries != 0 && (count + deleted) as u64 >= limits.max_entries
    }

    /// Gives back the room reserved for appends (a node no longer written).
    pub(super) fn shrink(&mut self) {
        self.lp.shrink_to_fit();
    }

    /// The master entry's field names and where they start.
    fn master_fields(&self) -> Option<(usize, usize)> {
        let (_, next) = int_at(&self.lp, HEADER)?;
        let (_, next) = int_at(&self.lp, next)?;
        let (n, next) = int_at(&self.lp, next)?;
        Some((usize::try_from(n).ok()?, next))
    }

    /// Offset of the first entry's flags (past the master entry).
    fn first_slot_at(&self) -> Option<usize> {
        let (n, mut pos) = self.master_fields()?;
        for _ in 0..n {
            pos = elem_at(&self.lp, pos)?.1;
        }
        let (zero, next) = int_at(&self.lp, pos)?;
        (zero == 0).then_some(next)
    }

    /// Appends entry `id` with `fields` (field, value, ...): `master` is
    /// the node's key.
    pub(super) fn append(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]]) {
        let (count, _) = self.counts().unwrap_or_default();
        listpack::replace_int(&mut self.lp, HEADER, count + 1);
        let same = self.master_fields().is_some_and(|(n, mut pos)| {
            n * 2 == fields.len()
                && fields.iter().step_by(2).all(|field| {
                    let Some((elem, next)) = elem_at(&self.lp, pos) else {
                        return false;
                    };
                    pos = next;
                    elem.to_bytes() == *field
                })
        });
        let lp = &mut self.lp;
        listpack::push_int(lp, if same { FLAG_SAMEFIELDS } else { 0 });
        listpack::push_int(lp, id.ms.wrapping_sub(master.ms) as i64);
        listpack::push_int(lp, id.seq.wrapping_sub(master.seq) as i64);
        let pairs = fields.len() / 2;
        if !same {
            listpack::push_int(lp, pairs as i64);
        }
        for pair in fields.chunks_exact(2) {
            if !same {
                listpack::push_str(lp, pair[0]);
            }
            listpack::push_str(lp, pair[1]);
        }
        let lp_count = 3 + pairs + if same { 0 } else { pairs + 1 };
        listpack::push_int(lp, lp_count as i64);
    }

    /// The entries in ID order, deleted ones included (`None` marks a node
    /// that is not a valid stream node; checked nodes never yield one).
    pub(super) fn walk(&self, master: StreamId) -> impl Iterator<Item = Option<Slot>> + '_ {
        let master_count = self.master_fields().map(|(n, _)| n);
        let mut pos = self.first_slot_at();
        std::iter::from_fn(move || {
            let at = pos?;
            elem_at(&self.lp, at)?; // EOF ends the walk
            let slot = self.slot_at(master, at, master_count);
            pos = slot.as_ref().and_then(|slot| self.slot_end(slot));
            Some(slot)
        })
    }

    fn slot_at(&self, master: StreamId, at: usize, master_count: Option<usize>) -> Option<Slot> {
        let (flags, next) = int_at(&self.lp, at)?;
        let (ms, next) = int_at(&self.lp, next)?;
        let (seq, mut next) = int_at(&self.lp, next)?;
        let same_fields = flags & FLAG_SAMEFIELDS != 0;
        let num_fields = if same_fields {
            master_count?
        } else {
            let (n, after) = int_at(&self.lp, next)?;
            next = after;
            usize::try_from(n).ok()?
        };
        Some(Slot {
            id: StreamId::new(
                master.ms.wrapping_add(ms as u64),
                master.seq.wrapping_add(seq as u64),
            ),
            deleted: flags & FLAG_DELETED != 0,
            flags_at: at,
            fields_at: next,
            same_fields,
            num_fields,
        })
    }

    /// Offset past `slot`'s lp-count, checking that count.
    fn slot_end(&self, slot: &Slot) -> Option<usize> {
        let stored = if slot.same_fields {
            slot.num_fields
        } else {
            slot.num_fields * 2
        };
        let mut pos = slot.fields_at;
        for _ in 0..stored {
            pos = elem_at(&self.lp, pos)?.1;
        }
        let (lp_count, next) = int_at(&self.lp, pos)?;
        let expected = 3 + stored + usize::from(!slot.same_fields);
        (usize::try_from(lp_count).ok()? == expected).then_some(next)
    }

    /// `slot`'s field, value, field, value...
    pub(super) fn fields(&self, slot: &Slot) -> Vec<Cow<'_, [u8]>> {
        let mut out = Vec::with_capacity(slot.num_fields * 2);
        let mut pos = slot.fields_at;
        let mut master_pos = self.master_fields().map_or(0, |(_, at)| at);
        for _ in 0..slot.num_fields {
            let field = if slot.same_fields {
                let Some((field, next)) = elem_at(&self.lp, master_pos) else {
                    break;
                };
                master_pos = next;
                field
            } else {
                let Some((field, next)) = elem_at(&self.lp, pos) else {
                    break;
                };
                pos = next;
                field
            };
            let Some((value, next)) = elem_at(&self.lp, pos) else {
                break;
            };
            pos = next;
            out.push(field.to_bytes());
            out.push(value.to_bytes());
        }
        out
    }

    /// Flags the entry at `slot` deleted and moves it from the live to the
    /// deleted count (`streamIteratorRemoveEntry`; the caller drops the
    /// node instead when it was its last live entry).
    pub(super) fn mark_deleted(&mut self, slot: &Slot) {
        self.flag_deleted(slot);
        self.add_to_counts(-1, 1);
    }

    /// Adds to the live and deleted counts.
    pub(super) fn add_to_counts(&mut self, live: i64, deleted: i64) {
        let (count, dead) = self.counts().unwrap_or_default();
        listpack::replace_int(&mut self.lp, HEADER, count + live);
        if let Some((_, next)) = int_at(&self.lp, HEADER) {
            listpack::replace_int(&mut self.lp, next, dead + deleted);
        }
    }

    /// Flags `slot` deleted without touching the counts (a trim updates
    /// them once for the node).
    pub(super) fn flag_deleted(&mut self, slot: &Slot) {
        let flags = int_at(&self.lp, slot.flags_at).map_or(0, |(f, _)| f);
        listpack::replace_int(&mut self.lp, slot.flags_at, flags | FLAG_DELETED);
    }

    /// The last entry's ID, deleted or not (`lpGetEdgeStreamID`).
    pub(super) fn last_id(&self, master: StreamId) -> Option<StreamId> {
        self.walk(master).last().flatten().map(|slot| slot.id)
    }
}
