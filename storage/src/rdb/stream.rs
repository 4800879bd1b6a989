//! The RDB encoding of a stream (`RDB_TYPE_STREAM_LISTPACKS_2`, and reading
//! the older `RDB_TYPE_STREAM_LISTPACKS`), as Redis 7.0.15's `rdb.c`: the
//! node count, each node as its master-ID key and listpack, the length, last
//! ID, first ID, largest deleted ID and entries added (type 19 only), then
//! the consumer groups.
//!
//! Consumer groups are not held yet: the groups section written is an empty
//! one, and a record with groups is refused rather than loaded without them.

use super::codec::{write_bytes, write_length, CodecResult, Reader};
use crate::stream::{RecordMeta, StreamId, StreamMeta, StreamValue};
use crate::value::Value;

/// Appends the body of `stream`'s type-19 record.
pub(crate) fn write_stream(out: &mut Vec<u8>, stream: &StreamValue) {
    write_length(out, stream.node_count() as u64);
    for (key, lp) in stream.nodes() {
        write_bytes(out, &key);
        write_bytes(out, lp);
    }
    let meta = stream.meta();
    write_length(out, meta.length);
    write_id(out, meta.last_id);
    write_id(out, stream.first_id());
    write_id(out, meta.max_deleted_id);
    write_length(out, meta.entries_added);
    super::stream_groups::write(out, stream.groups());
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    write_length(out, id.ms);
    write_length(out, id.seq);
}

fn read_id(reader: &mut Reader<'_>) -> CodecResult<StreamId> {
    Ok(StreamId::new(reader.plain_u64()?, reader.plain_u64()?))
}

/// Reads a stream record; `v2` for type 19 (which adds the first ID, the
/// largest deleted ID and entries added).
pub(crate) fn read_stream(reader: &mut Reader<'_>, v2: bool) -> CodecResult<Value> {
    // A node is at least its 17-byte key and a listpack of a few bytes.
    let count = reader.count(18)?;
    let mut nodes = Vec::with_capacity(count);
    for _ in 0..count {
        let key = reader.string()?;
        let lp = reader.string()?;
        nodes.push((key, lp));
    }
    let length = reader.plain_u64()?;
    let last_id = read_id(reader)?;
    let (max_deleted_id, entries_added) = if v2 {
        // The first ID is recomputed from the entries.
        read_id(reader)?;
        (read_id(reader)?, reader.plain_u64()?)
    } else {
        (StreamId::MIN, length)
    };
    let meta = RecordMeta {
        length,
        last_id,
        max_deleted_id,
        entries_added,
    };
    let mut stream = StreamValue::from_nodes(nodes, meta)?;
    let groups = super::stream_groups::read(reader, &StreamMeta::of(&stream), v2)?;
    *stream.groups_mut() = groups;
    Ok(Value::Stream(Box::new(stream)))
}
