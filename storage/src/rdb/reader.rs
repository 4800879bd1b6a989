//! Parsing an RDB file of version 1 to 10 into keys, handed one at a time to
//! the caller (which builds fresh databases from them). Every failure is an
//! `RdbError` naming what was wrong and the byte offset where it was found;
//! nothing in the file can make the parser panic or allocate more than the
//! file's own size.

use std::fmt;

use super::codec::{CodecResult, Reader};
use super::functions::{is_function_opcode, read_library};
use super::object::{is_value_type, read_object, EMPTY_VALUE};
use super::{
    MAGIC, OPCODE_AUX, OPCODE_EOF, OPCODE_EXPIRETIME, OPCODE_EXPIRETIME_MS, OPCODE_FREQ,
    OPCODE_IDLE, OPCODE_MODULE_AUX, OPCODE_RESIZEDB, OPCODE_SELECTDB, RDB_VERSION,
};
use crate::crc64::crc64;
use crate::encoding::EncodingLimits;
use crate::value::Value;

/// Why an RDB file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Byte offset in the file of the element that could not be read.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte offset {})", self.message, self.offset)
    }
}

impl std::error::Error for RdbError {}

/// One key of the file, with the metadata that preceded it.
#[derive(Debug)]
pub struct ParsedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds (may already be past).
    pub expire_at_ms: Option<i64>,
    /// Seconds since last access (the IDLE opcode, written under LRU policies).
    pub idle_s: Option<u64>,
    /// The LFU counter (the FREQ opcode, written under LFU policies).
    pub frequency: Option<u8>,
}

/// What the file held besides its keys.
#[derive(Debug, Default)]
pub struct RdbSummary {
    pub version: u16,
    /// AUX fields in file order (unknown ones included; callers ignore them).
    pub aux: Vec<(String, String)>,
    /// The code of each function library, in file order (compiling them is
    /// the server's business).
    pub libraries: Vec<Vec<u8>>,
    /// Keys holding empty collections, skipped as Redis's loader skips them.
    pub empty_keys: Vec<String>,
    /// False when the file's checksum was 0 ("not computed") or not checked.
    pub checksum_verified: bool,
    /// Bytes the file took, up to and including its checksum: an AOF with
    /// an RDB preamble continues with commands from there.
    pub consumed: usize,
}

/// Metadata opcodes that apply to the next key.
#[derive(Default)]
struct Pending {
    expire_at_ms: Option<i64>,
    idle_s: Option<u64>,
    frequency: Option<u8>,
}

/// Parses `bytes`, calling `on_key` for every key in file order. `on_key` may
/// refuse a key (a duplicate, a database out of range) with a message.
pub fn parse(
    bytes: &[u8],
    limits: &EncodingLimits,
    verify_checksum: bool,
    mut on_key: impl FnMut(ParsedKey) -> Result<(), String>,
) -> Result<RdbSummary, RdbError> {
    let mut reader = Reader::new(bytes);
    let fail = |offset: usize, message: &str| RdbError {
        offset,
        message: message.to_string(),
    };
    let header = reader
        .take(9)
        .map_err(|_| fail(0, "Wrong signature trying to load DB from file"))?;
    let version = std::str::from_utf8(&header[5..])
        .ok()
        .and_then(|v| v.parse::<u16>().ok());
    let version = match version {
        Some(v) if &header[..5] == MAGIC => v,
        _ => return Err(fail(0, "Wrong signature trying to load DB from file")),
    };
    if !(1..=RDB_VERSION).contains(&version) {
        return Err(fail(
            5,
            &format!("Can't handle RDB format version {version}"),
        ));
    }
    let mut summary = RdbSummary {
        version,
        ..RdbSummary::default()
    };
    let mut db = 0usize;
    let mut pending = Pending::default();
    loop {
        let at = reader.pos;
        let context = |what: &'static str| failed_reading(at, what);
        let opcode = reader.byte().map_err(context("reading an opcode"))?;
        match opcode {
            OPCODE_EOF => break,
            OPCODE_SELECTDB => db = reader.plain_length().map_err(context("SELECTDB"))?,
            OPCODE_RESIZEDB => {
                reader.plain_length().map_err(context("RESIZEDB"))?;
                reader.plain_length().map_err(context("RESIZEDB"))?;
            }
            OPCODE_AUX => {
                let name = reader.string().map_err(context("AUX field name"))?;
                let value = reader.string().map_err(context("AUX field value"))?;
                summary.aux.push((
                    String::from_utf8_lossy(&name).into_owned(),
                    String::from_utf8_lossy(&value).into_owned(),
                ));
            }
            OPCODE_EXPIRETIME_MS => {
                let ms = i64::from_le_bytes(reader.array().map_err(context("EXPIRETIME_MS"))?);
                pending.expire_at_ms = Some(ms);
            }
            OPCODE_EXPIRETIME => {
                let s = i32::from_le_bytes(reader.array().map_err(context("EXPIRETIME"))?);
                pending.expire_at_ms = Some(s as i64 * 1000);
            }
            OPCODE_IDLE => {
                pending.idle_s = Some(reader.plain_length().map_err(context("IDLE"))? as u64)
            }
            OPCODE_FREQ => pending.frequency = Some(reader.byte().map_err(context("FREQ"))?),
            opcode if is_function_opcode(opcode) => {
                let code = read_library(opcode, &mut reader).map_err(|e| fail(at, e))?;
                summary.libraries.push(code);
            }
            OPCODE_MODULE_AUX => {
                return Err(fail(
                    at,
                    "The RDB file contains module AUX data, which Ferrite does not support",
                ))
            }
            value_type if is_value_type(value_type) => {
                let key = reader.string().map_err(context("reading a key"))?;
                let quoted = String::from_utf8_lossy(&key).into_owned();
                let meta = std::mem::take(&mut pending);
                match read_object(value_type, &mut reader, limits) {
                    Ok(value) => on_key(ParsedKey {
                        db,
                        key,
                        value,
                        expire_at_ms: meta.expire_at_ms,
                        idle_s: meta.idle_s,
                        frequency: meta.frequency,
                    })
                    .map_err(|message| fail(at, &message))?,
                    Err(EMPTY_VALUE) => summary.empty_keys.push(quoted),
                    Err(what) => {
                        return Err(fail(
                            at,
                            &format!("Key '{quoted}' (RDB type {value_type}): {what}"),
                        ))
                    }
                }
            }
            other => return Err(fail(at, &format!("Unknown RDB opcode or type {other}"))),
        }
    }
    summary.checksum_verified = check_crc(&mut reader, bytes, version, verify_checksum)?;
    summary.consumed = reader.pos;
    Ok(summary)
}

/// Turns a codec error met while reading `what` at `offset` into an `RdbError`.
fn failed_reading(offset: usize, what: &'static str) -> impl FnOnce(&'static str) -> RdbError {
    move |e| RdbError {
        offset,
        message: format!("{what}: {e}"),
    }
}

/// Checks the CRC-64 that follows EOF (files of version 5 and later). A
/// stored 0 means the writer did not compute one (`rdbchecksum no`).
fn check_crc(
    reader: &mut Reader<'_>,
    bytes: &[u8],
    version: u16,
    verify: bool,
) -> Result<bool, RdbError> {
    if version < 5 {
        return Ok(false);
    }
    let covered = reader.pos;
    let stored: CodecResult<[u8; 8]> = reader.array();
    let stored =
        u64::from_le_bytes(stored.map_err(failed_reading(covered, "reading the checksum"))?);
    if !verify || stored == 0 {
        return Ok(false);
    }
    let computed = crc64(0, &bytes[..covered]);
    if computed != stored {
        return Err(RdbError {
            offset: covered,
            message: format!(
                "Wrong RDB checksum expected: ({computed:x}) but got ({stored:x}): RDB CRC error"
            ),
        });
    }
    Ok(true)
}
