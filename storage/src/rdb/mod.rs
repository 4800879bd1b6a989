//! Redis's RDB format: whole-keyspace snapshot files (SAVE, BGSAVE, loading
//! at startup, DEBUG RELOAD) and, through `object`, the value encoding DUMP
//! payloads share.
//!
//! A file is the magic `REDIS0010`, AUX fields, then per database a SELECTDB
//! and a RESIZEDB opcode followed by its keys (each optionally preceded by an
//! expiry and LRU/LFU hints), then the EOF opcode and a CRC-64 of everything
//! before it. `writer` produces Redis 7.0's layout; `reader` accepts files of
//! versions 1 to 10 and refuses what Ferrite cannot represent (modules,
//! stream consumer groups for now) with an error naming it and its byte offset. Function libraries
//! (`functions`) come after the AUX fields, before the first database, and
//! pass through as opaque code strings.

pub(crate) mod codec;
pub(crate) mod functions;
pub(crate) mod object;
mod reader;
mod stream;
pub(crate) mod stream_groups;
mod writer;

pub use reader::{parse, ParsedKey, RdbError, RdbSummary};
pub(crate) use writer::{assemble, write_entry};
pub use writer::{write, RdbFile, RdbStream};

/// The RDB version Redis 7.0 writes, and the newest Ferrite reads.
pub const RDB_VERSION: u16 = 10;

const MAGIC: &[u8; 5] = b"REDIS";
const OPCODE_FUNCTION_PRE_GA: u8 = 0xf6;
const OPCODE_FUNCTION2: u8 = 0xf5;
const OPCODE_MODULE_AUX: u8 = 0xf7;
const OPCODE_IDLE: u8 = 0xf8;
const OPCODE_FREQ: u8 = 0xf9;
const OPCODE_AUX: u8 = 0xfa;
const OPCODE_RESIZEDB: u8 = 0xfb;
const OPCODE_EXPIRETIME_MS: u8 = 0xfc;
const OPCODE_EXPIRETIME: u8 = 0xfd;
const OPCODE_SELECTDB: u8 = 0xfe;
const OPCODE_EOF: u8 = 0xff;

#[cfg(test)]
mod tests;
