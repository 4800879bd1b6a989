//! `cjson`, Redis's bundled Lua CJSON 2.1: `encode`/`decode` with its
//! rules (arrays are tables whose keys are 1..n, excessively sparse arrays
//! refused, numbers as `%.14g`, `cjson.null`) and its configuration
//! functions, which keep their values per VM.

use std::ffi::c_void;

use mlua::{LightUserData, Lua, Table, Value};

use crate::scripting::convert::format_g;

/// The settings `cjson.encode_*`/`decode_*` change.
#[derive(Debug, Clone, Copy)]
struct Settings {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
    decode_invalid_numbers: bool,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
    number_precision: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: false,
            decode_invalid_numbers: true,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            number_precision: 14,
        }
    }
}

/// `cjson.null`: a NULL light userdata, as in Redis.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut::<c_void>()))
}

fn settings(lua: &Lua) -> Settings {
    lua.app_data_ref::<Settings>()
        .map(|s| *s)
        .unwrap_or_default()
}

fn update(lua: &Lua, f: impl FnOnce(&mut Settings)) -> Settings {
    if lua.app_data_ref::<Settings>().is_none() {
        lua.set_app_data(Settings::default());
    }
    match lua.app_data_mut::<Settings>() {
        Some(mut s) => {
            f(&mut s);
            *s
        }
        None => Settings::default(),
    }
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    lua.set_app_data(Settings::default());
    let cjson = lua.create_table()?;
    cjson.set(
        "encode",
        lua.create_function(|lua, value: Value| {
            let mut out = Vec::new();
            encode(&settings(lua), &value, 0, &mut out).map_err(mlua::Error::runtime)?;
            lua.create_string(&out)
        })?,
    )?;
    cjson.set(
        "decode",
        lua.create_function(|lua, text: mlua::String| {
            let bytes = text.as_bytes();
            let mut decoder = Decoder {
                lua,
                text: &bytes,
                at: 0,
                depth: 0,
                max_depth: settings(lua).decode_max_depth,
            };
            decoder.document().map_err(mlua::Error::runtime)
        })?,
    )?;
    cjson.set(
        "encode_max_depth",
        lua.create_function(|lua, depth: Option<usize>| {
            Ok(update(lua, |s| {
                s.encode_max_depth = depth.unwrap_or(s.encode_max_depth)
            })
            .encode_max_depth)
        })?,
    )?;
    cjson.set(
        "decode_max_depth",
        lua.create_function(|lua, depth: Option<usize>| {
            Ok(update(lua, |s| {
                s.decode_max_depth = depth.unwrap_or(s.decode_max_depth)
            })
            .decode_max_depth)
        })?,
    )?;
    cjson.set(
        "encode_invalid_numbers",
        lua.create_function(|lua, on: Option<Value>| {
            let s = update(lua, |s| {
                if let Some(on) = on.as_ref().and_then(truthy) {
                    s.encode_invalid_numbers = on;
                }
            });
            Ok(s.encode_invalid_numbers)
        })?,
    )?;
    cjson.set(
        "decode_invalid_numbers",
        lua.create_function(|lua, on: Option<Value>| {
            let s = update(lua, |s| {
                if let Some(on) = on.as_ref().and_then(truthy) {
                    s.decode_invalid_numbers = on;
                }
            });
            Ok(s.decode_invalid_numbers)
        })?,
    )?;
    cjson.set(
        "encode_sparse_array",
        lua.create_function(
            |lua, (convert, ratio, safe): (Option<Value>, Option<usize>, Option<usize>)| {
                let s = update(lua, |s| {
                    if let Some(convert) = convert.as_ref().and_then(truthy) {
                        s.sparse_convert = convert;
                    }
                    s.sparse_ratio = ratio.unwrap_or(s.sparse_ratio);
                    s.sparse_safe = safe.unwrap_or(s.sparse_safe);
                });
                Ok((s.sparse_convert, s.sparse_ratio, s.sparse_safe))
            },
        )?,
    )?;
    cjson.set(
        "encode_number_precision",
        lua.create_function(|lua, precision: Option<usize>| {
            let s = update(lua, |s| {
                s.number_precision = precision.unwrap_or(s.number_precision).clamp(1, 14)
            });
            Ok(s.number_precision)
        })?,
    )?;
    cjson.set(
        "encode_keep_buffer",
        lua.create_function(|_, on: Option<Value>| {
            Ok(on.as_ref().and_then(truthy).unwrap_or(true))
        })?,
    )?;
    cjson.set("null", null())?;
    cjson.set("_NAME", "cjson")?;
    cjson.set("_VERSION", "2.1.0")?;
    Ok(cjson)
}

/// Lua CJSON's boolean options accept booleans and "on"/"off".
fn truthy(value: &Value) -> Option<bool> {
    match value {
        Value::Boolean(b) => Some(*b),
        Value::String(s) => match s.to_string_lossy().as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn encode(
    settings: &Settings,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => encode_number(settings, *n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(table) => {
            let depth = depth + 1;
            if depth > settings.encode_max_depth {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(settings, table)? {
                Some(len) => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let element: Value = table.raw_get(i).map_err(|e| e.to_string())?;
                        encode(settings, &element, depth, out)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in table.pairs::<Value, Value>() {
                        let (key, value) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &key {
                            Value::String(s) => encode_string(&s.as_bytes(), out),
                            Value::Number(n) => {
                                out.push(b'"');
                                encode_number(settings, *n, out)?;
                                out.push(b'"');
                            }
                            Value::Integer(i) => {
                                out.extend_from_slice(format!("\"{i}\"").as_bytes())
                            }
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                ))
                            }
                        }
                        out.push(b':');
                        encode(settings, &value, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn encode_number(settings: &Settings, n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        if !settings.encode_invalid_numbers {
            return Err("Cannot serialise number: must not be NaN or Inf".to_string());
        }
        out.extend_from_slice(if n.is_nan() {
            b"nan"
        } else if n > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return Ok(());
    }
    out.extend_from_slice(format_g(n, settings.number_precision).as_bytes());
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// Lua CJSON's `lua_array_length`: `Some(n)` when every key is a positive
/// integer (n the largest), `None` for an object. Empty tables are objects.
fn array_length(settings: &Settings, table: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let index = match key {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        items += 1;
    }
    if items == 0 {
        return Ok(None);
    }
    if settings.sparse_ratio > 0
        && max > items * settings.sparse_ratio
        && max > settings.sparse_safe
    {
        if settings.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".to_string());
    }
    Ok(Some(max))
}

struct Decoder<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    at: usize,
    depth: usize,
    max_depth: usize,
}

impl Decoder<'_> {
    fn document(&mut self) -> Result<Value, String> {
        let value = self.value()?;
        self.skip_blank();
        if self.at < self.text.len() {
            return Err(self.unexpected("the end"));
        }
        Ok(value)
    }

    fn skip_blank(&mut self) {
        while self.at < self.text.len()
            && matches!(self.text[self.at], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.at += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        let found = match self.text.get(self.at) {
            None => "T_END".to_string(),
            Some(_) => "invalid token".to_string(),
        };
        format!(
            "Expected {expected} but found {found} at character {}",
            self.at + 1
        )
    }

    fn lua_err(e: mlua::Error) -> String {
        e.to_string()
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_blank();
        let Some(&first) = self.text.get(self.at) else {
            return Err(self.unexpected("value"));
        };
        match first {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => {
                let s = self.string()?;
                self.lua
                    .create_string(&s)
                    .map(Value::String)
                    .map_err(Self::lua_err)
            }
            b't' => self.literal(b"true", Value::Boolean(true)),
            b'f' => self.literal(b"false", Value::Boolean(false)),
            b'n' if self.text[self.at..].starts_with(b"null") => self.literal(b"null", null()),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, String> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("value"))
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self.at < self.text.len()
            && matches!(self.text[self.at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'x' | b'X' | b'a'..=b'd' | b'f' | b'A'..=b'D' | b'F' | b'i' | b'n' | b'I' | b'N')
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
        let parsed = match text.to_ascii_lowercase().as_str() {
            "nan" | "-nan" => Some(f64::NAN),
            "inf" | "infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            t if t.starts_with("0x") || t.starts_with("-0x") => {
                let (neg, hex) = match t.strip_prefix('-') {
                    Some(rest) => (true, &rest[2..]),
                    None => (false, &t[2..]),
                };
                i64::from_str_radix(hex, 16)
                    .ok()
                    .map(|v| if neg { -(v as f64) } else { v as f64 })
            }
            t => t.parse::<f64>().ok(),
        };
        match parsed {
            Some(n) if !text.is_empty() => Ok(Value::Number(n)),
            _ => {
                self.at = start;
                Err(self.unexpected("value"))
            }
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.text.get(self.at) else {
                return Err(format!(
                    "Expected value but found unexpected end of string at character {}",
                    self.at + 1
                ));
            };
            self.at += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&escape) = self.text.get(self.at) else {
                        return Err(format!(
                            "Expected value but found invalid escape code at character {}",
                            self.at
                        ));
                    };
                    self.at += 1;
                    match escape {
                        b'"' | b'\\' | b'/' => out.push(escape),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let code = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&code)
                                && self.text[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                0x10000
                                    + ((code - 0xD800) << 10)
                                    + (low.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                code
                            };
                            let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(format!(
                                "Expected value but found invalid escape code at character {}",
                                self.at - 1
                            ))
                        }
                    }
                }
                b => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| {
                format!(
                    "Expected value but found invalid unicode escape code at character {}",
                    self.at
                )
            })?;
        self.at += 4;
        Ok(digits)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                self.at + 1
            ));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.at += 1;
        let table = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_blank();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut index = 1;
        loop {
            let value = self.value()?;
            table.raw_set(index, value).map_err(Self::lua_err)?;
            index += 1;
            self.skip_blank();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.unexpected("comma or array end")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.at += 1;
        let table = self.lua.create_table().map_err(Self::lua_err)?;
        self.skip_blank();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            self.skip_blank();
            if self.text.get(self.at) != Some(&b'"') {
                return Err(self.unexpected("object key string"));
            }
            let key = self.string()?;
            self.skip_blank();
            if self.text.get(self.at) != Some(&b':') {
                return Err(self.unexpected("colon"));
            }
            self.at += 1;
            let value = self.value()?;
            let key = self.lua.create_string(&key).map_err(Self::lua_err)?;
            table.raw_set(key, value).map_err(Self::lua_err)?;
            self.skip_blank();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.unexpected("comma or object end")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("cjson", open(&lua).unwrap()).unwrap();
        lua.load(code).eval::<String>().unwrap()
    }

    #[test]
    fn round_trips_as_lua_cjson() {
        assert_eq!(
            eval("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')"),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(
            eval("return cjson.encode({1, 2, 'a/b'})"),
            "[1,2,\"a\\/b\"]"
        );
        assert_eq!(eval("return cjson.encode({})"), "{}");
        assert_eq!(
            eval("return cjson.encode({a = cjson.null})"),
            "{\"a\":null}"
        );
        assert_eq!(
            eval("local ok, e = pcall(cjson.encode, {[1]=1, [100]=2}) return tostring(ok)"),
            "false"
        );
    }
}
