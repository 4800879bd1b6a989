//! Conversions between Redis replies and Lua values, exactly as Redis 7.0's
//! script_lua.c does them: a command's RESP reply (as the command wrote it)
//! becomes a Lua value for redis.call, and the script's return value becomes
//! the caller's reply.

use ferrite_resp::ReplyWriter;
use mlua::{Lua, Table, Value};

use super::vm::Names;

/// Lua's own `tostring` of a number (`%.14g`).
pub fn lua_number_text(n: f64) -> String {
    format_g(n, 14)
}

/// C's `%.{precision}g`.
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, value);
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

/// A table `{ [field] = value }`.
fn single_field(
    lua: &Lua,
    field: impl mlua::IntoLua,
    value: impl mlua::IntoLua,
) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(field, value)?;
    Ok(Value::Table(table))
}

/// Redis's error table for an error reply `text` (`CODE message`): the
/// table redis.pcall returns and redis.call raises. It is marked so that the
/// script's own reply does not count the error a second time.
pub fn error_reply_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let text = String::from_utf8_lossy(text);
    let text = text.trim_matches(|c| c == '\r' || c == '\n');
    let table = lua.create_table()?;
    let full = if text.contains(' ') {
        text.to_string()
    } else {
        format!("ERR {text}")
    };
    table.raw_set("err", full)?;
    table.raw_set("ignore_error_stats_update", true)?;
    Ok(Value::Table(table))
}

/// An error table for a problem found by the script machinery itself
/// (`ERR message`), counted as an error reply when the script returns it.
pub fn script_error_table(lua: &Lua, message: &str) -> mlua::Result<Value> {
    single_field(lua, "err", format!("ERR {message}"))
}

/// Parses one RESP reply at the start of `bytes` into a Lua value.
pub fn reply_to_lua(lua: &Lua, names: &Names, bytes: &[u8]) -> mlua::Result<Value> {
    let mut reader = ReplyReader {
        bytes,
        at: 0,
        names,
    };
    reader.value(lua)
}

struct ReplyReader<'a> {
    bytes: &'a [u8],
    at: usize,
    names: &'a Names,
}

impl ReplyReader<'_> {
    fn line(&mut self) -> mlua::Result<&[u8]> {
        let rest = &self.bytes[self.at.min(self.bytes.len())..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| mlua::Error::runtime("truncated reply from command"))?;
        self.at += end + 2;
        Ok(&rest[..end])
    }

    fn number(&mut self) -> mlua::Result<i64> {
        let line = self.line()?;
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| mlua::Error::runtime("malformed number in reply"))
    }

    fn blob(&mut self, len: usize) -> mlua::Result<&[u8]> {
        let end = self.at + len;
        let blob = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| mlua::Error::runtime("truncated reply from command"))?;
        self.at = end + 2;
        Ok(blob)
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let kind = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| mlua::Error::runtime("empty reply from command"))?;
        self.at += 1;
        match kind {
            b'+' => {
                let line = self.line()?.to_vec();
                single_field(lua, &self.names.ok, lua.create_string(&line)?)
            }
            b'-' => {
                let line = self.line()?.to_vec();
                error_reply_table(lua, &line)
            }
            b':' => Ok(Value::Number(self.number()? as f64)),
            b'$' => match self.number()? {
                n if n < 0 => Ok(Value::Boolean(false)),
                n => Ok(Value::String(lua.create_string(self.blob(n as usize)?)?)),
            },
            b'*' => match self.number()? {
                n if n < 0 => Ok(Value::Boolean(false)),
                n => {
                    let table = lua.create_table_with_capacity(n as usize, 0)?;
                    for i in 1..=n {
                        table.raw_set(i, self.value(lua)?)?;
                    }
                    Ok(Value::Table(table))
                }
            },
            b'%' => {
                let n = self.number()?;
                let map = lua.create_table()?;
                for _ in 0..n {
                    let key = self.value(lua)?;
                    let value = self.value(lua)?;
                    map.raw_set(key, value)?;
                }
                single_field(lua, &self.names.map, map)
            }
            b'~' => {
                let n = self.number()?;
                let set = lua.create_table()?;
                for _ in 0..n {
                    set.raw_set(self.value(lua)?, true)?;
                }
                single_field(lua, &self.names.set, set)
            }
            b'|' => {
                let n = self.number()?;
                for _ in 0..n * 2 {
                    self.value(lua)?;
                }
                self.value(lua)
            }
            b'_' => {
                self.line()?;
                Ok(Value::Nil)
            }
            b'#' => Ok(Value::Boolean(self.line()? == b"t")),
            b',' => {
                let line = self.line()?;
                let text = std::str::from_utf8(line).unwrap_or("0");
                let value = match text {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    _ => text.parse().unwrap_or(f64::NAN),
                };
                single_field(lua, &self.names.double, value)
            }
            b'(' => {
                let line = self.line()?.to_vec();
                single_field(lua, &self.names.big_number, lua.create_string(&line)?)
            }
            b'=' => {
                let len = self.number()?.max(0) as usize;
                let blob = self.blob(len)?.to_vec();
                let (format, text) = if blob.len() >= 4 {
                    (&blob[..3], &blob[4..])
                } else {
                    (&b"txt"[..], &blob[..])
                };
                let verbatim = lua.create_table()?;
                verbatim.raw_set("string", lua.create_string(text)?)?;
                verbatim.raw_set("format", lua.create_string(format)?)?;
                single_field(lua, &self.names.verbatim_string, verbatim)
            }
            _ => Err(mlua::Error::runtime("unknown reply type from command")),
        }
    }
}

/// How deep a returned table may nest before the reply is cut with Redis's
/// "reached lua stack limit" error.
const MAX_DEPTH: usize = 1000;

/// Writes the script's return value as the caller's reply. `resp3_booleans`
/// is the script's `redis.setresp(3)`: booleans are then RESP3 booleans.
/// Returns whether an error reply was written that must not be counted
/// again (it came from redis.pcall).
pub fn lua_to_reply(
    out: &mut ReplyWriter,
    names: &Names,
    value: &Value,
    resp3_booleans: bool,
) -> bool {
    let mut writer = ValueWriter {
        out,
        names,
        resp3_booleans,
        uncounted_error: false,
    };
    writer.value(value, 0);
    writer.uncounted_error
}

/// The state of one [`lua_to_reply`].
struct ValueWriter<'a> {
    out: &'a mut ReplyWriter,
    names: &'a Names,
    /// The script's `redis.setresp(3)`: booleans are RESP3 booleans.
    resp3_booleans: bool,
    /// An error reply was written that must not be counted again.
    uncounted_error: bool,
}

impl ValueWriter<'_> {
    fn value(&mut self, value: &Value, depth: usize) {
        match value {
            Value::String(s) => self.out.bulk(&s.as_bytes()),
            Value::Boolean(b) => {
                if self.resp3_booleans {
                    self.out.boolean(*b);
                } else if *b {
                    self.out.integer(1);
                } else {
                    self.out.null();
                }
            }
            Value::Number(n) => self.out.integer(*n as i64),
            Value::Integer(i) => self.out.integer(*i),
            Value::Table(table) => {
                if depth >= MAX_DEPTH {
                    self.out.error("ERR reached lua stack limit");
                    return;
                }
                self.table(table, depth);
            }
            _ => self.out.null(),
        }
    }

    fn table(&mut self, table: &Table, depth: usize) {
        let names = self.names;
        let field = |name: &mlua::String| table.raw_get::<Value>(name).unwrap_or(Value::Nil);
        if let Value::String(err) = field(&names.err) {
            let text = String::from_utf8_lossy(&err.as_bytes()).into_owned();
            self.out.error(&text);
            if matches!(
                field(&names.ignore_error_stats_update),
                Value::Boolean(true)
            ) {
                self.out.take_last_error_code();
                self.uncounted_error = true;
            }
            return;
        }
        if let Value::String(ok) = field(&names.ok) {
            let text = String::from_utf8_lossy(&ok.as_bytes()).replace(['\r', '\n'], " ");
            self.out.simple(&text);
            return;
        }
        if let Value::Number(n) = field(&names.double) {
            self.out.double(n);
            return;
        }
        if let Value::String(digits) = field(&names.big_number) {
            let digits = String::from_utf8_lossy(&digits.as_bytes()).replace(['\r', '\n'], " ");
            self.out.big_number(&digits);
            return;
        }
        if let Value::Table(verbatim) = field(&names.verbatim_string) {
            let format = verbatim.raw_get::<Value>("format").unwrap_or(Value::Nil);
            let text = verbatim.raw_get::<Value>("string").unwrap_or(Value::Nil);
            if let (Value::String(format), Value::String(text)) = (format, text) {
                let format = String::from_utf8_lossy(&format.as_bytes()).into_owned();
                self.out.verbatim(&format, &text.as_bytes());
                return;
            }
        }
        // Values are written as they are read, never collected: each live Lua
        // value holds a slot of mlua's reference stack, which is bounded.
        if let Value::Table(map) = field(&names.map) {
            self.out.map(map.pairs::<Value, Value>().count());
            for (key, value) in map.pairs::<Value, Value>().flatten() {
                self.value(&key, depth + 1);
                self.value(&value, depth + 1);
            }
            return;
        }
        if let Value::Table(set) = field(&names.set) {
            self.out.set(set.pairs::<Value, Value>().count());
            for (member, _) in set.pairs::<Value, Value>().flatten() {
                self.value(&member, depth + 1);
            }
            return;
        }
        let element = |i: usize| match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => None,
            Ok(value) => Some(value),
        };
        let len = (1..).take_while(|&i| element(i).is_some()).count();
        self.out.array(len);
        for i in 1..=len {
            if let Some(value) = element(i) {
                self.value(&value, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_resp::Protocol;

    #[test]
    fn g_formatting_matches_c() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1023.2, 14), "1023.2");
        assert_eq!(format_g(0.0003, 14), "0.0003");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(9007199254740991.0, 17), "9007199254740991");
        assert_eq!(format_g(-5000.0, 14), "-5000");
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let names = Names::new(&lua).unwrap();
        let value = reply_to_lua(&lua, &names, b"*3\r\n:1\r\n$3\r\nabc\r\n$-1\r\n").unwrap();
        let Value::Table(t) = value else {
            panic!("not a table")
        };
        assert_eq!(t.raw_get::<f64>(1).unwrap(), 1.0);
        assert_eq!(t.raw_get::<String>(2).unwrap(), "abc");
        assert!(!t.raw_get::<bool>(3).unwrap());
        let Value::Table(err) = reply_to_lua(&lua, &names, b"-WRONGTYPE bad\r\n").unwrap() else {
            panic!("not a table")
        };
        assert_eq!(err.raw_get::<String>("err").unwrap(), "WRONGTYPE bad");
    }

    #[test]
    fn return_values_become_replies() {
        let lua = Lua::new();
        let value: Value = lua
            .load("return {1, 'two', {3}, false, nil, 5}")
            .eval()
            .unwrap();
        let mut out = ReplyWriter::new(Protocol::Resp2);
        lua_to_reply(&mut out, &Names::new(&lua).unwrap(), &value, false);
        assert_eq!(
            out.as_bytes(),
            b"*4\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n$-1\r\n"
        );
    }
}
