//! Consumer groups of a stream (Redis 7.0's `streamCG`, `streamConsumer`
//! and `streamNACK`): each group's last delivered ID and read counter, its
//! pending entries list (PEL: entries delivered and not acknowledged, with
//! their owner, last delivery time and delivery count) and its consumers,
//! each with the IDs of the PEL it owns.
//!
//! Redis shares one NACK between the group PEL and its owner's PEL; here
//! the group PEL holds the NACK (naming its owner) and each consumer keeps
//! the set of IDs it owns, which every mutation below keeps in step.
//! Groups and consumers are ordered by name bytes, as Redis's radix trees
//! iterate them. The read counter and lag follow `t_stream.c`'s
//! `streamEstimateDistanceFromFirstEverEntry` and `streamReplyWithCGLag`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{StreamId, StreamValue};

/// The stream figures the read counter and lag depend on, copied so a
/// group can be changed while they are consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMeta {
    pub len: u64,
    pub first_id: StreamId,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

impl StreamMeta {
    pub fn of(stream: &StreamValue) -> StreamMeta {
        StreamMeta {
            len: stream.len() as u64,
            first_id: stream.first_id(),
            last_id: stream.last_id(),
            max_deleted_id: stream.max_deleted_id(),
            entries_added: stream.entries_added(),
        }
    }
}

/// A stream's consumer groups by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerGroups {
    groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
}

/// One consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroup {
    /// The last ID delivered to any consumer (`>` reads after it).
    pub last_id: StreamId,
    /// The group's logical read counter; `None` when unknown (Redis's
    /// `SCG_INVALID_ENTRIES_READ`, -1).
    pub entries_read: Option<u64>,
    pel: BTreeMap<StreamId, PendingEntry>,
    consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

/// An entry of a group's PEL (Redis's `streamNACK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    /// The consumer that owns it.
    pub consumer: Arc<[u8]>,
    /// Unix time in ms of its last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Unix time in ms it was last seen (read, claimed, created).
    pub seen_time: u64,
    pel: BTreeSet<StreamId>,
}

impl Consumer {
    fn new(seen_time: u64) -> Consumer {
        Consumer {
            seen_time,
            pel: BTreeSet::new(),
        }
    }

    /// The IDs of the group PEL this consumer owns, ascending.
    pub fn pending(&self) -> &BTreeSet<StreamId> {
        &self.pel
    }
}

/// How a claim (XCLAIM, XAUTOCLAIM) sets a pending entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub delivery_time: u64,
    /// RETRYCOUNT; `None` increments the count unless `justid`.
    pub retry_count: Option<u64>,
    pub justid: bool,
}

/// Why a groups section read from RDB data is inconsistent.
pub type LoadError = &'static str;

impl ConsumerGroups {
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn get(&self, name: &[u8]) -> Option<&ConsumerGroup> {
        self.groups.get(name)
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut ConsumerGroup> {
        self.groups.get_mut(name)
    }

    /// The groups in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &ConsumerGroup)> {
        self.groups.iter().map(|(name, group)| (&name[..], group))
    }

    /// XGROUP CREATE: false if a group of that name exists.
    pub fn create(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<u64>) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups
            .insert(name.into(), ConsumerGroup::new(last_id, entries_read));
        true
    }

    /// XGROUP DESTROY: true if it existed.
    pub fn destroy(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Adds a group read from RDB data; refused if the name is taken.
    pub fn insert_loaded(&mut self, name: &[u8], group: ConsumerGroup) -> Result<(), LoadError> {
        if self.groups.contains_key(name) {
            return Err("Duplicated consumer group name");
        }
        self.groups.insert(name.into(), group);
        Ok(())
    }

    /// Heap bytes the groups take (MEMORY USAGE), roughly per node.
    pub fn heap_size(&self) -> usize {
        const NODE: usize = 4 * std::mem::size_of::<usize>();
        self.groups
            .iter()
            .map(|(name, group)| {
                let consumers: usize = group
                    .consumers
                    .iter()
                    .map(|(name, c)| NODE + name.len() + c.pel.len() * (NODE + 16))
                    .sum();
                NODE + name.len()
                    + std::mem::size_of::<ConsumerGroup>()
                    + group.pel.len() * (NODE + std::mem::size_of::<(StreamId, PendingEntry)>())
                    + consumers
            })
            .sum()
    }
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The group PEL, ascending by ID.
    pub fn pending(&self) -> &BTreeMap<StreamId, PendingEntry> {
        &self.pel
    }

    /// The consumers in name order.
    pub fn consumers(&self) -> impl ExactSizeIterator<Item = (&[u8], &Consumer)> {
        self.consumers.iter().map(|(name, c)| (&name[..], c))
    }

    pub fn consumer(&self, name: &[u8]) -> Option<&Consumer> {
        self.consumers.get(name)
    }

    /// Looks a consumer up and marks it seen at `now` (Redis's
    /// `streamLookupConsumer` with refresh); false if there is none.
    pub fn touch_consumer(&mut self, name: &[u8], now: u64) -> bool {
        match self.consumers.get_mut(name) {
            Some(consumer) => {
                consumer.seen_time = now;
                true
            }
            None => false,
        }
    }

    /// Creates a consumer seen at `now`; false if it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(name.into(), Consumer::new(now));
        true
    }

    /// Looks the consumer up (seen at `now`) or creates it; true if created.
    pub fn touch_or_create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        !self.touch_consumer(name, now) && self.create_consumer(name, now)
    }

    /// XGROUP DELCONSUMER: removes the consumer and its pending entries
    /// from the group PEL; the number it had pending, `None` if absent.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }

    /// XACK of one ID: true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        self.remove_pending(id).is_some()
    }

    /// Removes a pending entry from the group and its owner.
    pub fn remove_pending(&mut self, id: StreamId) -> Option<PendingEntry> {
        let nack = self.pel.remove(&id)?;
        if let Some(owner) = self.consumers.get_mut(&nack.consumer) {
            owner.pel.remove(&id);
        }
        Some(nack)
    }

    /// Makes `consumer` (which must exist) own `id`, taking it from its
    /// previous owner; returns the entry to update.
    fn assign(&mut self, id: StreamId, consumer: &[u8], now: u64) -> &mut PendingEntry {
        let name = match self.consumers.get_key_value(consumer) {
            Some((name, _)) => name.clone(),
            None => {
                // Callers create the consumer first; create it rather than
                // leave an owner that does not exist.
                self.consumers.insert(consumer.into(), Consumer::new(now));
                Arc::from(consumer)
            }
        };
        let nack = self.pel.entry(id).or_insert_with(|| PendingEntry {
            consumer: name.clone(),
            delivery_time: now,
            delivery_count: 0,
        });
        if nack.consumer != name {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = name.clone();
        }
        if let Some(owner) = self.consumers.get_mut(&name) {
            owner.pel.insert(id);
        }
        nack
    }

    /// A `>` read delivered `id` to `consumer` at `now`: a new pending
    /// entry, or one reassigned (delivered once, now).
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: u64) {
        let nack = self.assign(id, consumer, now);
        nack.delivery_time = now;
        nack.delivery_count = 1;
    }

    /// A history read delivered `id` again to its owner at `now`.
    pub fn redeliver(&mut self, id: StreamId, now: u64) {
        if let Some(nack) = self.pel.get_mut(&id) {
            nack.delivery_time = now;
            nack.delivery_count += 1;
        }
    }

    /// XCLAIM/XAUTOCLAIM: `consumer` (which must exist) takes `id`, whose
    /// pending entry is created when missing (FORCE).
    pub fn claim(&mut self, id: StreamId, consumer: &[u8], claim: Claim) -> &PendingEntry {
        let nack = self.assign(id, consumer, claim.delivery_time);
        nack.delivery_time = claim.delivery_time;
        match claim.retry_count {
            Some(count) => nack.delivery_count = count,
            None if !claim.justid => nack.delivery_count += 1,
            None => {}
        }
        nack
    }

    /// Adds a pending entry read from RDB data, owned by `consumer` (added
    /// before); refused if `id` is pending already.
    pub fn insert_loaded_pending(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        delivery_time: u64,
        delivery_count: u64,
    ) -> Result<(), LoadError> {
        let name = self
            .consumers
            .get_key_value(consumer)
            .map(|(name, _)| name.clone())
            .ok_or("Consumer entry not found in group global PEL")?;
        let owner = self
            .consumers
            .get_mut(consumer)
            .ok_or("Consumer entry not found in group global PEL")?;
        let nack = PendingEntry {
            consumer: name,
            delivery_time,
            delivery_count,
        };
        if self.pel.contains_key(&id) || !owner.pel.insert(id) {
            return Err("Duplicated consumer PEL entry loading a stream consumer group");
        }
        self.pel.insert(id, nack);
        Ok(())
    }

    /// Adds a consumer read from RDB data; refused if it exists.
    pub fn insert_loaded_consumer(&mut self, name: &[u8], seen_time: u64) -> Result<(), LoadError> {
        if !self.create_consumer(name, seen_time) {
            return Err("Duplicate stream consumer detected.");
        }
        Ok(())
    }

    /// The group read `id` (a `>` delivery past the last ID): advances the
    /// last ID and the read counter as `streamReplyWithRange` does.
    pub fn advance(&mut self, stream: &StreamMeta, id: StreamId) {
        if id <= self.last_id {
            return;
        }
        match self.entries_read {
            Some(read) if !range_has_tombstones(stream, id) => self.entries_read = Some(read + 1),
            _ if stream.entries_added > 0 => self.entries_read = estimate_entries_read(stream, id),
            _ => {}
        }
        self.last_id = id;
    }

    /// The entries not yet delivered to the group, `None` when it cannot be
    /// known (Redis's `streamReplyWithCGLag`: XINFO GROUPS shows a null).
    pub fn lag(&self, stream: &StreamMeta) -> Option<i64> {
        let added = stream.entries_added;
        if added == 0 {
            return Some(0);
        }
        let read = match self.entries_read {
            Some(read) if !range_has_tombstones(stream, self.last_id) => Some(read),
            _ => estimate_entries_read(stream, self.last_id),
        }?;
        // Negative when ENTRIESREAD set the counter past the stream's.
        Some(added as i64 - read as i64)
    }
}

/// Whether the largest deleted ID is at or after `start` and not before
/// the first entry (`streamRangeHasTombstones` with no end).
fn range_has_tombstones(stream: &StreamMeta, start: StreamId) -> bool {
    let max_deleted = stream.max_deleted_id;
    if stream.len == 0 || max_deleted == StreamId::MIN {
        return false;
    }
    if stream.first_id > max_deleted {
        return false;
    }
    start <= max_deleted
}

/// The read counter of `id`, when it can be known
/// (`streamEstimateDistanceFromFirstEverEntry`).
pub fn estimate_entries_read(stream: &StreamMeta, id: StreamId) -> Option<u64> {
    let added = stream.entries_added;
    if added == 0 {
        return Some(0);
    }
    let last = stream.last_id;
    if stream.len == 0 && id <= last {
        return Some(added);
    }
    if id == last {
        return Some(added);
    } else if id > last {
        return None;
    }
    let max_deleted = stream.max_deleted_id;
    let first = stream.first_id;
    if max_deleted == StreamId::MIN || max_deleted < first {
        let len = stream.len;
        if id < first {
            return Some(added.saturating_sub(len));
        } else if id == first {
            return Some(added.saturating_sub(len) + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::AddId;

    fn stream_of(n: u64) -> StreamValue {
        let mut s = StreamValue::default();
        for ms in 1..=n {
            let id = s.next_id(AddId::Exact(StreamId::new(ms, 0)), 0).unwrap();
            s.append(id, &[b"f", b"v"]);
        }
        s
    }

    #[test]
    fn deliveries_move_between_consumers() {
        let mut g = ConsumerGroup::new(StreamId::MIN, Some(0));
        g.create_consumer(b"a", 1);
        g.create_consumer(b"b", 1);
        g.deliver(StreamId::new(1, 0), b"a", 10);
        g.deliver(StreamId::new(2, 0), b"a", 10);
        g.deliver(StreamId::new(1, 0), b"b", 20);
        assert_eq!(g.consumer(b"a").unwrap().pending().len(), 1);
        assert_eq!(g.consumer(b"b").unwrap().pending().len(), 1);
        assert_eq!(&*g.pending()[&StreamId::new(1, 0)].consumer, b"b");
        g.redeliver(StreamId::new(1, 0), 30);
        assert_eq!(g.pending()[&StreamId::new(1, 0)].delivery_count, 2);
        let claim = Claim {
            delivery_time: 40,
            retry_count: None,
            justid: false,
        };
        assert_eq!(g.claim(StreamId::new(2, 0), b"b", claim).delivery_count, 2);
        assert!(g.consumer(b"a").unwrap().pending().is_empty());
        assert_eq!(g.delete_consumer(b"b"), Some(2));
        assert!(g.pending().is_empty());
        assert!(!g.ack(StreamId::new(1, 0)));
    }

    #[test]
    fn read_counter_and_lag_as_redis() {
        let mut s = stream_of(5);
        let mut g = ConsumerGroup::new(StreamId::MIN, Some(0));
        assert_eq!(g.lag(&StreamMeta::of(&s)), Some(5));
        g.advance(&StreamMeta::of(&s), StreamId::new(1, 0));
        g.advance(&StreamMeta::of(&s), StreamId::new(2, 0));
        assert_eq!(
            (g.entries_read, g.lag(&StreamMeta::of(&s))),
            (Some(2), Some(3))
        );
        // A tombstone ahead of the group makes the lag unknown...
        s.delete(StreamId::new(4, 0));
        assert_eq!(g.lag(&StreamMeta::of(&s)), None);
        // ...and the counter with it, until the group reads the last entry.
        g.advance(&StreamMeta::of(&s), StreamId::new(3, 0));
        assert_eq!(g.entries_read, None);
        g.advance(&StreamMeta::of(&s), StreamId::new(5, 0));
        assert_eq!(
            (g.entries_read, g.lag(&StreamMeta::of(&s))),
            (Some(5), Some(0))
        );
        // A group created at an arbitrary ID has no counter.
        let mut late = ConsumerGroup::new(StreamId::new(3, 0), None);
        assert_eq!(late.lag(&StreamMeta::of(&s)), None);
        late.advance(&StreamMeta::of(&s), StreamId::new(5, 0));
        assert_eq!(late.entries_read, Some(5));
        let empty = StreamValue::default();
        assert_eq!(late.lag(&StreamMeta::of(&empty)), Some(0));
    }
}
