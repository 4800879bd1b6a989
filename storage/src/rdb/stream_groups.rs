//! The consumer-group section of a stream in RDB data: what Redis 7.0.15's
//! `rdbSaveObject` writes for a stream after its entries and metadata, and
//! `rdbLoadObject` reads back. The stream writer and reader call these
//! (`write` after the entries-added count, `read` once the stream's entries
//! and metadata are known).
//!
//! Layout: the group count, then per group (in name order) its name, last
//! ID as two lengths (ms, seq), its read counter as a length (-1, unknown,
//! as 2^64-1; only in `STREAM_LISTPACKS_2` and later), its PEL (a count,
//! then per entry the ID as 16 raw big-endian bytes, the delivery time as
//! 8 little-endian bytes and the delivery count as a length), then its
//! consumers (a count, then per consumer its name, seen time as 8
//! little-endian bytes, and its own PEL: a count and the raw IDs, each of
//! which must be in the group's PEL).

use std::collections::BTreeMap;

use super::codec::{write_bytes, write_length, CodecResult, Reader};
use crate::stream::{estimate_entries_read, ConsumerGroup, ConsumerGroups, StreamId, StreamMeta};

/// The read counter's "unknown" (Redis's -1 written as a length).
const UNKNOWN_ENTRIES_READ: u64 = u64::MAX;

fn write_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

fn read_raw_id(reader: &mut Reader<'_>) -> CodecResult<StreamId> {
    let ms = u64::from_be_bytes(reader.array()?);
    let seq = u64::from_be_bytes(reader.array()?);
    Ok(StreamId::new(ms, seq))
}

/// A millisecond time as Redis's `rdbSaveMillisecondTime` writes it.
fn write_ms(out: &mut Vec<u8>, ms: u64) {
    out.extend_from_slice(&(ms as i64).to_le_bytes());
}

fn read_ms(reader: &mut Reader<'_>) -> CodecResult<u64> {
    Ok(i64::from_le_bytes(reader.array()?).max(0) as u64)
}

/// Appends the groups section (from the group count on).
pub(crate) fn write(out: &mut Vec<u8>, groups: &ConsumerGroups) {
    write_length(out, groups.len() as u64);
    for (name, group) in groups.iter() {
        write_bytes(out, name);
        write_length(out, group.last_id.ms);
        write_length(out, group.last_id.seq);
        write_length(out, group.entries_read.unwrap_or(UNKNOWN_ENTRIES_READ));
        write_length(out, group.pending().len() as u64);
        for (&id, nack) in group.pending() {
            write_raw_id(out, id);
            write_ms(out, nack.delivery_time);
            write_length(out, nack.delivery_count);
        }
        write_length(out, group.consumers().len() as u64);
        for (name, consumer) in group.consumers() {
            write_bytes(out, name);
            write_ms(out, consumer.seen_time);
            write_length(out, consumer.pending().len() as u64);
            for &id in consumer.pending() {
                write_raw_id(out, id);
            }
        }
    }
}

/// Reads a groups section. `stream` is the stream it belongs to (a group
/// without a stored read counter, in `STREAM_LISTPACKS` (15) data where
/// `with_entries_read` is false, gets Redis's estimate from it). Refuses
/// what Redis's loader refuses (duplicate groups, consumers or PEL
/// entries, a consumer's entry missing from the group PEL) and, always, a
/// group PEL entry no consumer owns (Redis checks that only with
/// `sanitize-dump-payload`; Ferrite cannot hold an entry without an owner).
pub(crate) fn read(
    reader: &mut Reader<'_>,
    stream: &StreamMeta,
    with_entries_read: bool,
) -> CodecResult<ConsumerGroups> {
    let mut groups = ConsumerGroups::default();
    // A group takes at least 6 bytes: name, ms, seq, counter, two counts.
    let count = reader.count(6)?;
    for _ in 0..count {
        let name = reader.string()?;
        let ms = reader.plain_length()? as u64;
        let seq = reader.plain_length()? as u64;
        let last_id = StreamId::new(ms, seq);
        let entries_read = if with_entries_read {
            match reader.plain_length()? as u64 {
                UNKNOWN_ENTRIES_READ => None,
                n => Some(n),
            }
        } else {
            estimate_entries_read(stream, last_id)
        };
        let mut group = ConsumerGroup::new(last_id, entries_read);
        let pel = read_group_pel(reader)?;
        read_consumers(reader, &mut group, &pel)?;
        if group.pending().len() != pel.len() {
            return Err("Stream CG PEL entry without consumer");
        }
        groups.insert_loaded(&name, group)?;
    }
    Ok(groups)
}

/// The group PEL: ID to (delivery time, delivery count), owners unknown yet.
fn read_group_pel(reader: &mut Reader<'_>) -> CodecResult<BTreeMap<StreamId, (u64, u64)>> {
    let mut pel = BTreeMap::new();
    // ID (16), time (8), count (at least 1).
    let count = reader.count(25)?;
    for _ in 0..count {
        let id = read_raw_id(reader)?;
        let delivery_time = read_ms(reader)?;
        let delivery_count = reader.plain_length()? as u64;
        if pel.insert(id, (delivery_time, delivery_count)).is_some() {
            return Err("Duplicated global PEL entry loading stream consumer group");
        }
    }
    Ok(pel)
}

/// The consumers and the PEL entries each owns.
fn read_consumers(
    reader: &mut Reader<'_>,
    group: &mut ConsumerGroup,
    pel: &BTreeMap<StreamId, (u64, u64)>,
) -> CodecResult<()> {
    // Name (at least 1), seen time (8), PEL count (at least 1).
    let count = reader.count(10)?;
    for _ in 0..count {
        let name = reader.string()?;
        let seen_time = read_ms(reader)?;
        group.insert_loaded_consumer(&name, seen_time)?;
        let owned = reader.count(16)?;
        for _ in 0..owned {
            let id = read_raw_id(reader)?;
            let &(time, deliveries) = pel
                .get(&id)
                .ok_or("Consumer entry not found in group global PEL")?;
            group.insert_loaded_pending(id, &name, time, deliveries)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{AddId, Claim, StreamValue};

    fn stream_with_groups() -> StreamValue {
        let mut stream = StreamValue::default();
        for ms in 1..=3 {
            let id = stream
                .next_id(AddId::Exact(StreamId::new(ms, 0)), 0)
                .unwrap();
            stream.append(id, &[b"f", b"v"]);
        }
        let groups = stream.groups_mut();
        groups.create(b"g", StreamId::new(2, 0), Some(2));
        groups.create(b"late", StreamId::new(1, 5), None);
        let g = groups.get_mut(b"g").unwrap();
        g.create_consumer(b"bob", 1_000);
        g.create_consumer(b"alice", 2_000);
        g.create_consumer(b"idle", 3_000);
        g.deliver(StreamId::new(1, 0), b"alice", 5_000);
        g.deliver(StreamId::new(2, 0), b"bob", 6_000);
        let claim = Claim {
            delivery_time: 7_000,
            retry_count: Some(300),
            justid: false,
        };
        g.claim(StreamId::new(3, 0), b"alice", claim);
        stream
    }

    /// The section as Redis 7.0.15's rdbSaveObject lays it out, by hand.
    fn redis_bytes() -> Vec<u8> {
        let raw = |ms: u64, seq: u64| [ms.to_be_bytes(), seq.to_be_bytes()].concat();
        let time = |ms: i64| ms.to_le_bytes().to_vec();
        [
            vec![2],                // two groups
            vec![1, b'g', 2, 0, 2], // "g", last ID 2-0, entries read 2
            vec![3],                // PEL of three
            raw(1, 0),
            time(5_000),
            vec![1],
            raw(2, 0),
            time(6_000),
            vec![1],
            raw(3, 0),
            time(7_000),
            vec![0x41, 0x2c], // count 300 (14-bit)
            vec![3],          // consumers in name order
            vec![5],
            b"alice".to_vec(),
            time(2_000),
            vec![2],
            raw(1, 0),
            raw(3, 0),
            vec![3],
            b"bob".to_vec(),
            time(1_000),
            vec![1],
            raw(2, 0),
            vec![4],
            b"idle".to_vec(),
            time(3_000),
            vec![0],
            vec![4],
            b"late".to_vec(),
            vec![1, 5], // last ID 1-5
            vec![0x81],
            u64::MAX.to_be_bytes().to_vec(), // entries read unknown
            vec![0, 0],                      // no PEL, no consumers
        ]
        .concat()
    }

    #[test]
    fn writes_redis_layout_and_reads_it_back() {
        let stream = stream_with_groups();
        let mut out = Vec::new();
        write(&mut out, stream.groups());
        assert_eq!(out, redis_bytes());
        let mut reader = Reader::new(&out);
        let read = read(&mut reader, &StreamMeta::of(&stream), true).unwrap();
        assert_eq!(reader.remaining(), 0);
        assert_eq!(&read, stream.groups());
    }

    #[test]
    fn version_15_data_estimates_the_read_counter() {
        let stream = stream_with_groups();
        // A group at the stream's last ID, without its counter: Redis's
        // estimate there is the entries added.
        let bytes = [vec![1, 1, b'g', 3, 0, 0, 0]].concat();
        let read = read(&mut Reader::new(&bytes), &StreamMeta::of(&stream), false).unwrap();
        assert_eq!(read.get(b"g").unwrap().entries_read, Some(3));
    }

    #[test]
    fn corrupt_sections_are_errors() {
        let meta = StreamMeta::of(&stream_with_groups());
        let good = redis_bytes();
        // Every truncation fails cleanly.
        for len in 0..good.len() {
            assert!(
                read(&mut Reader::new(&good[..len]), &meta, true).is_err(),
                "{len}"
            );
        }
        let raw = |ms: u64| [ms.to_be_bytes(), 0u64.to_be_bytes()].concat();
        let time = 0i64.to_le_bytes().to_vec();
        let group =
            |pel: Vec<u8>, consumers: Vec<u8>| [vec![1, 1, b'g', 0, 0, 0], pel, consumers].concat();
        let one_pending = [vec![1], raw(1), time.clone(), vec![1]].concat();
        let cases = [
            // A consumer owning an entry the group PEL lacks.
            (
                group(
                    vec![0],
                    [vec![1, 1, b'a'], time.clone(), vec![1], raw(1)].concat(),
                ),
                "Consumer entry not found in group global PEL",
            ),
            // A group PEL entry nobody owns.
            (
                group(one_pending.clone(), vec![0]),
                "Stream CG PEL entry without consumer",
            ),
            // The same entry owned twice.
            (
                group(
                    one_pending.clone(),
                    [
                        vec![2, 1, b'a'],
                        time.clone(),
                        vec![1],
                        raw(1),
                        vec![1, b'b'],
                        time.clone(),
                        vec![1],
                        raw(1),
                    ]
                    .concat(),
                ),
                "Duplicated consumer PEL entry loading a stream consumer group",
            ),
            // A consumer twice.
            (
                group(
                    vec![0],
                    [
                        vec![2, 1, b'a'],
                        time.clone(),
                        vec![0, 1, b'a'],
                        time.clone(),
                        vec![0],
                    ]
                    .concat(),
                ),
                "Duplicate stream consumer detected.",
            ),
            // The same ID twice in the group PEL.
            (
                group(
                    [
                        vec![2],
                        raw(1),
                        time.clone(),
                        vec![1],
                        raw(1),
                        time.clone(),
                        vec![1],
                    ]
                    .concat(),
                    vec![0],
                ),
                "Duplicated global PEL entry loading stream consumer group",
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(read(&mut Reader::new(&bytes), &meta, true), Err(error));
        }
        // Two groups of one name.
        let twice = [
            vec![2],
            vec![1, b'g', 0, 0, 0, 0, 0],
            vec![1, b'g', 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(
            read(&mut Reader::new(&twice), &meta, true),
            Err("Duplicated consumer group name")
        );
        // A count no data can hold allocates nothing and fails.
        let huge = [vec![0x81], u64::MAX.to_be_bytes().to_vec()].concat();
        assert!(read(&mut Reader::new(&huge), &meta, true).is_err());
    }

    /// The groups section of a real Redis 5 DUMP payload (type 15, no read
    /// counters), from unit/type/stream-cgroups's "Loading from legacy"
    /// test: a stream of 5-0 and 6-0 (entries added 2, as Redis's loader
    /// sets it for type 15), g1 at 5-0 with four entries pending for c11,
    /// g2 at 0-0.
    #[test]
    fn reads_a_redis_5_groups_section() {
        const SECTION: &[u8] = b"\x02\x02\x67\x31\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x3e\xf7\x83\x43\x7a\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x3e\xf7\x83\x43\x7a\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x3e\xf7\x83\x43\x7a\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x3e\xf7\x83\x43\x7a\x01\x00\x00\x01\x01\x03\x63\x31\x31\x3e\xf7\x83\x43\x7a\x01\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x02\x67\x32\x00\x00\x00\x00";
        let mut stream = StreamValue::default();
        for ms in [5, 6] {
            let id = stream
                .next_id(AddId::Exact(StreamId::new(ms, 0)), 0)
                .unwrap();
            stream.append(id, &[b"data", b"e"]);
        }
        let mut reader = Reader::new(SECTION);
        let groups = read(&mut reader, &StreamMeta::of(&stream), false).unwrap();
        assert_eq!(reader.remaining(), 0);
        let g1 = groups.get(b"g1").unwrap();
        assert_eq!(
            (g1.last_id, g1.entries_read),
            (StreamId::new(5, 0), Some(1))
        );
        let pending: Vec<u64> = g1.pending().keys().map(|id| id.ms).collect();
        assert_eq!(pending, [1, 2, 4, 5]);
        let nack = &g1.pending()[&StreamId::new(4, 0)];
        assert_eq!(
            (&*nack.consumer, nack.delivery_time, nack.delivery_count),
            (&b"c11"[..], 0x017a_4383_f73e, 1)
        );
        assert_eq!(g1.consumer(b"c11").unwrap().pending().len(), 4);
        let g2 = groups.get(b"g2").unwrap();
        assert_eq!((g2.last_id, g2.entries_read), (StreamId::MIN, Some(0)));
        // The lags XINFO STREAM FULL shows for it in Redis.
        let meta = StreamMeta::of(&stream);
        assert_eq!((g1.lag(&meta), g2.lag(&meta)), (Some(1), Some(2)));
    }
}
