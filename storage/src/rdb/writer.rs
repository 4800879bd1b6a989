//! Writing a whole keyspace as an RDB version 10 file, in the layout Redis
//! 7.0's `rdbSaveRio` produces (AUX fields, function libraries, then
//! SELECTDB, RESIZEDB and the keys of each non-empty database, EOF, CRC-64).
//! A file is built as a list of pieces (`RdbFile`), never copied into one
//! buffer: a snapshot of millions of keys is sent or written piece by piece.

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
) -> RdbFile {
    let chunks = databases.iter().map(|db| {
        let mut chunk = DbChunk::default();
        db.for_each_raw_shard(|shard| chunk.add(now_ms, shard.entries()));
        chunk
    });
    assemble(chunks, aux, libraries)
}

/// An RDB file as the pieces it was built from, in order.
#[derive(Debug, Default)]
pub struct RdbFile {
    pieces: Vec<Vec<u8>>,
    len: usize,
    keys: u64,
}

impl RdbFile {
    fn push(&mut self, piece: Vec<u8>) {
        self.len += piece.len();
        self.pieces.push(piece);
    }

    /// The file's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many keys the file holds.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The pieces, to be sent or written one after another.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.pieces.iter().map(Vec::as_slice)
    }

    /// The whole file in one buffer (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces.concat()
    }
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

/// The file around the serialised keys of each database (in database order).
pub(crate) fn assemble<C: AsRef<[u8]>>(
    databases: impl Iterator<Item = DbChunk>,
    aux: &[(&str, String)],
    libraries: &[C],
) -> RdbFile {
    let mut file = RdbFile::default();
    let (mut stream, header) = RdbStream::start(aux, libraries);
    file.push(header);
    for (index, chunk) in databases.enumerate() {
        if chunk.keys == 0 {
            continue;
        }
        file.keys += chunk.keys;
        let counts = Some((chunk.keys, chunk.volatile));
        for piece in chunk.pieces {
            stream.keys(index, counts, piece, |piece| file.push(piece));
        }
    }
    file.push(stream.finish());
    file
}

/// An RDB file produced piece by piece, as the keys of each database arrive
/// in database order, keeping the CRC-64 as it goes: a full sync's snapshot
/// is sent to the replica while the walk is still capturing shards.
pub struct RdbStream {
    crc: u64,
    db: Option<usize>,
}

impl RdbStream {
    /// The stream, and its first piece: the header, `aux` fields (name,
    /// value) and the function `libraries` (their code).
    pub fn start<C: AsRef<[u8]>>(aux: &[(&str, String)], libraries: &[C]) -> (RdbStream, Vec<u8>) {
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
        let stream = RdbStream {
            crc: crc64(0, &out),
            db: None,
        };
        (stream, out)
    }

    /// Hands `emit` serialised keys of database `db` (`piece`), preceded by
    /// the database's SELECTDB when it is not the current one, and RESIZEDB
    /// when its `counts` (keys, keys with an expiry) are known: a streamed
    /// snapshot does not know them until its walk ends, and RESIZEDB only
    /// presizes the loader's tables (Redis's `dictExpand`; Ferrite's loader
    /// ignores it), so it is left out there.
    pub fn keys(
        &mut self,
        db: usize,
        counts: Option<(u64, u64)>,
        piece: Vec<u8>,
        mut emit: impl FnMut(Vec<u8>),
    ) {
        if self.db != Some(db) {
            self.db = Some(db);
            let mut out = vec![OPCODE_SELECTDB];
            write_length(&mut out, db as u64);
            if let Some((keys, volatile)) = counts {
                out.push(OPCODE_RESIZEDB);
                write_length(&mut out, keys);
                write_length(&mut out, volatile);
            }
            self.crc = crc64(self.crc, &out);
            emit(out);
        }
        self.crc = crc64(self.crc, &piece);
        emit(piece);
    }

    /// The last piece: EOF and the CRC-64 of everything before it.
    pub fn finish(self) -> Vec<u8> {
        let crc = crc64(self.crc, &[OPCODE_EOF]);
        let mut out = vec![OPCODE_EOF];
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}
