//! Writing a whole keyspace as an RDB version 10 file, in the layout Redis
//! 7.0's `rdbSaveRio` produces (AUX fields, function libraries, then
//! SELECTDB, RESIZEDB and the keys of each non-empty database, EOF, CRC-64).

use super::codec::{write_bytes, write_length, write_string_value};
use super::functions::write_libraries;
use super::object::{object_type, write_body};
use super::{
    MAGIC, OPCODE_AUX, OPCODE_EOF, OPCODE_EXPIRETIME_MS, OPCODE_RESIZEDB, OPCODE_SELECTDB,
    RDB_VERSION,
};
use crate::crc64::crc64;
use crate::db::Db;
use crate::shard::Entry;
use crate::snapshot::DbChunk;
use crate::value::StringValue;

/// The RDB file for `databases` as of `now_ms` (keys already expired then are
/// left out), with `aux` fields (name, value) after the header and then the
/// function `libraries` (their code). The caller holds the keyspace gate
/// exclusively, so the file is one point in time.
pub fn write<C: AsRef<[u8]>>(
    databases: &[Db],
    aux: &[(&str, String)],
    libraries: &[C],
    now_ms: u64,
) -> Vec<u8> {
    let chunks: Vec<DbChunk> = databases
        .iter()
        .map(|db| {
            let mut chunk = DbChunk::default();
            db.for_each_live_entry(now_ms, |key, entry| chunk.add(key, entry));
            chunk
        })
        .collect();
    assemble(chunks.iter(), aux, libraries)
}

/// One key: its expiry if any, then type, key and value.
pub(crate) fn write_entry(out: &mut Vec<u8>, key: &[u8], entry: &Entry) {
    if let Some(at) = entry.expire_at_ms() {
        out.push(OPCODE_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.push(object_type(&entry.value));
    write_bytes(out, key);
    write_body(out, &entry.value)
}

impl DbChunk {
    /// Appends one key.
    pub(crate) fn add(&mut self, key: &[u8], entry: &Entry) {
        write_entry(&mut self.bytes, key, entry);
        self.keys += 1;
        self.volatile += entry.expire_at_ms().is_some() as u64;
    }
}

/// The file around the serialised keys of each database (in database order).
pub(crate) fn assemble<'a, C: AsRef<[u8]>>(
    databases: impl Iterator<Item = &'a DbChunk>,
    aux: &[(&str, String)],
    libraries: &[C],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{RDB_VERSION:04}").as_bytes());
    for (name, value) in aux {
        out.push(OPCODE_AUX);
        write_bytes(&mut out, name.as_bytes());
        // Redis saves AUX values with rdbSaveRawString: integers as integers.
        write_string_value(&mut out, &StringValue::from_bytes(value.as_bytes()));
    }
    write_libraries(&mut out, libraries);
    for (index, chunk) in databases.enumerate() {
        if chunk.keys == 0 {
            continue;
        }
        out.push(OPCODE_SELECTDB);
        write_length(&mut out, index as u64);
        out.push(OPCODE_RESIZEDB);
        write_length(&mut out, chunk.keys);
        write_length(&mut out, chunk.volatile);
        out.extend_from_slice(&chunk.bytes);
    }
    out.push(OPCODE_EOF);
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
