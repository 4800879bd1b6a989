//! `cmsgpack`, Redis's bundled lua-cmsgpack 0.4: MessagePack `pack` of any
//! number of values (tables nested deeper than 16 become nil; a table is an
//! array when its keys are exactly 1..n) and `unpack`, `unpack_one`,
//! `unpack_limit`.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// lua-cmsgpack's LUACMSGPACK_MAX_NESTING.
const MAX_NESTING: usize = 16;

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let cmsgpack = lua.create_table()?;
    cmsgpack.set(
        "pack",
        lua.create_function(|lua, values: Variadic<Value>| {
            if values.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for value in values.iter() {
                encode(value, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    cmsgpack.set(
        "unpack",
        lua.create_function(|lua, data: mlua::String| {
            let (_, values) = unpack(lua, &data.as_bytes(), 0, 0)?;
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    cmsgpack.set(
        "unpack_one",
        lua.create_function(|lua, (data, offset): (mlua::String, Option<i64>)| {
            unpack_with_offset(lua, &data.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    cmsgpack.set(
        "unpack_limit",
        lua.create_function(
            |lua, (data, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_with_offset(
                    lua,
                    &data.as_bytes(),
                    limit.max(0) as usize,
                    offset.unwrap_or(0),
                )
            },
        )?,
    )?;
    cmsgpack.set("_NAME", "cmsgpack")?;
    cmsgpack.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(cmsgpack)
}

/// `(next offset or -1, values...)`.
fn unpack_with_offset(
    lua: &Lua,
    data: &[u8],
    limit: usize,
    offset: i64,
) -> mlua::Result<MultiValue> {
    if offset < 0 || offset as usize > data.len() {
        return Err(mlua::Error::runtime(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let (next, values) = unpack(lua, data, limit, offset as usize)?;
    let next = if next >= data.len() { -1 } else { next as i64 };
    let mut result = vec![Value::Number(next as f64)];
    result.extend(values);
    Ok(MultiValue::from_iter(result))
}

fn unpack(
    lua: &Lua,
    data: &[u8],
    limit: usize,
    offset: usize,
) -> mlua::Result<(usize, Vec<Value>)> {
    let mut decoder = Decoder {
        lua,
        data,
        at: offset,
    };
    let mut values = Vec::new();
    while decoder.at < data.len() && (limit == 0 || values.len() < limit) {
        values.push(decoder.value()?);
    }
    Ok((decoder.at, values))
}

fn encode(value: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Table(table) if level < MAX_NESTING => encode_table(table, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        encode_int(n as i64, out);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, small: u8, big: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(small);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(big);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Encodes as it reads (no collected values: each live value holds a slot
/// of mlua's bounded reference stack).
fn encode_table(table: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let mut count = 0usize;
    let mut max = 0.0f64;
    let mut integer_keys = true;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        count += 1;
        match key {
            Value::Number(n) if n > 0.0 && n.fract() == 0.0 => max = max.max(n),
            Value::Integer(i) if i > 0 => max = max.max(i as f64),
            _ => integer_keys = false,
        }
    }
    if integer_keys && max as usize == count {
        header(out, count, 0x90, 0xdc, 0xdd);
        for i in 1..=count {
            let value: Value = table.raw_get(i)?;
            encode(&value, level + 1, out)?;
        }
    } else {
        header(out, count, 0x80, 0xde, 0xdf);
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair?;
            encode(&key, level + 1, out)?;
            encode(&value, level + 1, out)?;
        }
    }
    Ok(())
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    at: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let bytes = self
            .data
            .get(self.at..self.at + n)
            .ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
        self.at += n;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn string(&mut self, len: usize) -> mlua::Result<Value> {
        let bytes = self.take(len)?.to_vec();
        Ok(Value::String(self.lua.create_string(&bytes)?))
    }

    fn array(&mut self, len: usize) -> mlua::Result<Value> {
        let table = self.lua.create_table()?;
        for i in 1..=len {
            table.raw_set(i, self.value()?)?;
        }
        Ok(Value::Table(table))
    }

    fn map(&mut self, len: usize) -> mlua::Result<Value> {
        let table = self.lua.create_table()?;
        for _ in 0..len {
            let key = self.value()?;
            let value = self.value()?;
            if key != Value::Nil {
                table.raw_set(key, value)?;
            }
        }
        Ok(Value::Table(table))
    }

    fn value(&mut self) -> mlua::Result<Value> {
        let kind = self.take(1)?[0];
        let number = |n: f64| Ok(Value::Number(n));
        match kind {
            0x00..=0x7f => number(f64::from(kind)),
            0x80..=0x8f => self.map(usize::from(kind & 0x0f)),
            0x90..=0x9f => self.array(usize::from(kind & 0x0f)),
            0xa0..=0xbf => self.string(usize::from(kind & 0x1f)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xc4 | 0xd9 => {
                let len = self.uint(1)? as usize;
                self.string(len)
            }
            0xc5 | 0xda => {
                let len = self.uint(2)? as usize;
                self.string(len)
            }
            0xc6 | 0xdb => {
                let len = self.uint(4)? as usize;
                self.string(len)
            }
            0xca => number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => number(f64::from_bits(self.uint(8)?)),
            0xcc => number(self.uint(1)? as f64),
            0xcd => number(self.uint(2)? as f64),
            0xce => number(self.uint(4)? as f64),
            0xcf => number(self.uint(8)? as f64),
            0xd0 => number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => number(self.uint(8)? as i64 as f64),
            0xdc => {
                let len = self.uint(2)? as usize;
                self.array(len)
            }
            0xdd => {
                let len = self.uint(4)? as usize;
                self.array(len)
            }
            0xde => {
                let len = self.uint(2)? as usize;
                self.map(len)
            }
            0xdf => {
                let len = self.uint(4)? as usize;
                self.map(len)
            }
            0xe0..=0xff => number(f64::from(kind as i8)),
            _ => Err(mlua::Error::runtime("Bad data format in input.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(code: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", open(&lua).unwrap()).unwrap();
        let packed: mlua::String = lua.load(code).eval().unwrap();
        packed
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn packs_as_lua_cmsgpack() {
        assert_eq!(hex("return cmsgpack.pack(0.1)"), "cb3fb999999999999a");
        assert_eq!(
            hex("return cmsgpack.pack(-1099511627776)"),
            "d3ffffff0000000000"
        );
        assert_eq!(hex("return cmsgpack.pack({1, 2})"), "920102");
        assert_eq!(hex("return cmsgpack.pack('ab', true)"), "a26162c3");
    }

    #[test]
    fn unpacks_what_it_packs() {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", open(&lua).unwrap()).unwrap();
        let ok: bool = lua
            .load("local t = cmsgpack.unpack(cmsgpack.pack({a = {1, 2, 3}, b = 'x'})) return t.a[3] == 3 and t.b == 'x'")
            .eval()
            .unwrap();
        assert!(ok);
    }
}
