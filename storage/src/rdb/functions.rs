//! Function libraries in RDB files and FUNCTION DUMP payloads. Redis 7.0
//! stores a library as nothing but its code (`#!lua name=...` first line
//! included) after the `FUNCTION2` opcode, so the storage crate carries
//! libraries as opaque byte strings and never looks inside them; the server
//! compiles them. Files from Redis 7.0's release candidates use the older
//! `FUNCTION` opcode (name, engine, optional description, code), which is
//! read and turned into the same code string, as Redis's `rdbFunctionLoad`.

use super::codec::{write_bytes, CodecResult, Reader};
use super::{OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA};

/// Whether `opcode` starts a function record.
pub(crate) fn is_function_opcode(opcode: u8) -> bool {
    opcode == OPCODE_FUNCTION2 || opcode == OPCODE_FUNCTION_PRE_GA
}

/// One `FUNCTION2` record per library, as Redis's `rdbSaveFunctions`.
pub(crate) fn write_libraries<C: AsRef<[u8]>>(out: &mut Vec<u8>, libraries: &[C]) {
    for code in libraries {
        out.push(OPCODE_FUNCTION2);
        write_bytes(out, code.as_ref());
    }
}

/// Reads the record after `opcode` (one of the function opcodes): the
/// library's code. The error is Redis's text for the part that failed.
pub(crate) fn read_library(opcode: u8, reader: &mut Reader<'_>) -> Result<Vec<u8>, &'static str> {
    if opcode == OPCODE_FUNCTION2 {
        return reader
            .string()
            .map_err(|_| "Failed loading library payload");
    }
    let name = reader.string().map_err(|_| "Failed loading library name")?;
    let engine = reader.string().map_err(|_| "Failed loading engine name")?;
    let has_description: CodecResult<usize> = reader.plain_length();
    match has_description {
        Err(_) => return Err("Failed loading library description indicator"),
        Ok(0) => {}
        Ok(_) => {
            reader
                .string()
                .map_err(|_| "Failed loading library description")?;
        }
    }
    let blob = reader.string().map_err(|_| "Failed loading library blob")?;
    let mut code = Vec::with_capacity(blob.len() + engine.len() + name.len() + 9);
    code.extend_from_slice(b"#!");
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&blob);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::super::codec::write_length;
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut out = Vec::new();
        write_libraries(&mut out, &[b"#!lua name=a\nx".as_slice()]);
        assert_eq!(out[0], OPCODE_FUNCTION2);
        let mut reader = Reader::new(&out[1..]);
        assert_eq!(
            read_library(OPCODE_FUNCTION2, &mut reader).unwrap(),
            b"#!lua name=a\nx"
        );
        assert_eq!(reader.remaining(), 0);
    }

    #[test]
    fn pre_ga_records_become_code_with_metadata() {
        let mut record = Vec::new();
        write_bytes(&mut record, b"lib");
        write_bytes(&mut record, b"LUA");
        write_length(&mut record, 1);
        write_bytes(&mut record, b"a description");
        write_bytes(&mut record, b"redis.register_function('f', function() end)");
        let mut reader = Reader::new(&record);
        assert_eq!(
            read_library(OPCODE_FUNCTION_PRE_GA, &mut reader).unwrap(),
            b"#!LUA name=lib\nredis.register_function('f', function() end)"
        );
        let mut truncated = Reader::new(&record[..6]);
        assert_eq!(
            read_library(OPCODE_FUNCTION_PRE_GA, &mut truncated),
            Err("Failed loading engine name")
        );
    }
}
