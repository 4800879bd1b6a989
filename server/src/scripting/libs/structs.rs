//! `struct`, Roberto Ierusalimschy's library bundled with Redis:
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])` and
//! `struct.size(fmt)` over the formats `<>=!` (endianness, alignment),
//! `x b B h H l L T i[n] I[n] f d c[n] s`.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// One parsed format item.
enum Item {
    Padding,
    /// Integer of `size` bytes.
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    /// `c[n]`: `Some(n)` fixed, `None` for `c0` (the whole string when
    /// packing, the previous value's length when unpacking).
    Chars(Option<usize>),
    /// `s`: zero-terminated string.
    Zstr,
}

struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    little: bool,
    max_align: usize,
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        Format {
            fmt,
            at: 0,
            little: true,
            max_align: 1,
        }
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.at;
        while self.at < self.fmt.len() && self.fmt[self.at].is_ascii_digit() {
            self.at += 1;
        }
        std::str::from_utf8(&self.fmt[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    /// The next item with its alignment, handling option characters.
    fn next(&mut self) -> mlua::Result<Option<(Item, usize)>> {
        while let Some(&c) = self.fmt.get(self.at) {
            self.at += 1;
            let item = match c {
                b' ' => continue,
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'!' => {
                    self.max_align = self.number().unwrap_or(8);
                    continue;
                }
                b'x' => Item::Padding,
                b'b' | b'B' => Item::Int {
                    size: 1,
                    signed: c == b'b',
                },
                b'h' | b'H' => Item::Int {
                    size: 2,
                    signed: c == b'h',
                },
                b'l' | b'L' => Item::Int {
                    size: 8,
                    signed: c == b'l',
                },
                b'T' => Item::Int {
                    size: 8,
                    signed: false,
                },
                b'i' | b'I' => {
                    let size = self.number().unwrap_or(4);
                    if size == 0 || size > 8 {
                        return Err(err(format!(
                            "integral size {size} is larger than limit of 8"
                        )));
                    }
                    Item::Int {
                        size,
                        signed: c == b'i',
                    }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b'c' => match self.number() {
                    Some(0) => Item::Chars(None),
                    Some(n) => Item::Chars(Some(n)),
                    None => Item::Chars(Some(1)),
                },
                b's' => Item::Zstr,
                other => return Err(err(format!("invalid format option '{}'", other as char))),
            };
            let size = match &item {
                Item::Int { size, .. } => *size,
                Item::Float => 4,
                Item::Double => 8,
                _ => 1,
            };
            let align = size.min(self.max_align).max(1);
            return Ok(Some((item, align)));
        }
        Ok(None)
    }
}

fn pad(len: usize, align: usize) -> usize {
    (align - (len % align)) % align
}

fn put_int(out: &mut Vec<u8>, value: u64, size: usize, little: bool) {
    let bytes = value.to_le_bytes();
    if little {
        out.extend_from_slice(&bytes[..size]);
    } else {
        out.extend(bytes[..size].iter().rev());
    }
}

fn pack(lua: &Lua, fmt: &[u8], args: &[Value]) -> mlua::Result<mlua::String> {
    let mut format = Format::new(fmt);
    let mut out = Vec::new();
    let mut next_arg = args.iter();
    let mut arg_no = 1;
    let mut take = |what: &str| {
        arg_no += 1;
        next_arg.next().cloned().ok_or_else(|| {
            err(format!(
                "bad argument #{arg_no} to 'pack' ({what} expected, got no value)"
            ))
        })
    };
    while let Some((item, align)) = format.next()? {
        out.resize(out.len() + pad(out.len(), align), 0);
        let number = |v: Value| match v {
            Value::Number(n) => Ok(n),
            Value::Integer(i) => Ok(i as f64),
            Value::String(s) => s
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .ok_or_else(|| err("bad argument to 'pack' (number expected, got string)")),
            other => Err(err(format!(
                "bad argument to 'pack' (number expected, got {})",
                other.type_name()
            ))),
        };
        let string = |v: Value| match v {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Number(n) => Ok(crate::scripting::convert::lua_number_text(n).into_bytes()),
            other => Err(err(format!(
                "bad argument to 'pack' (string expected, got {})",
                other.type_name()
            ))),
        };
        match item {
            Item::Padding => out.push(0),
            Item::Int { size, signed } => {
                let n = number(take("number")?)?;
                let value = if signed { n as i64 as u64 } else { n as u64 };
                put_int(&mut out, value, size, format.little);
            }
            Item::Float => {
                let bits = (number(take("number")?)? as f32).to_bits();
                put_int(&mut out, u64::from(bits), 4, format.little);
            }
            Item::Double => {
                let bits = number(take("number")?)?.to_bits();
                put_int(&mut out, bits, 8, format.little);
            }
            Item::Chars(len) => {
                let s = string(take("string")?)?;
                let len = len.unwrap_or(s.len());
                if s.len() < len {
                    return Err(err("bad argument to 'pack' (string too short)"));
                }
                out.extend_from_slice(&s[..len]);
            }
            Item::Zstr => {
                let s = string(take("string")?)?;
                if s.contains(&0) {
                    return Err(err("bad argument to 'pack' (string contains zeros)"));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, fmt: &[u8], data: &[u8], start: usize) -> mlua::Result<MultiValue> {
    let mut format = Format::new(fmt);
    let mut at = start;
    let mut values: Vec<Value> = Vec::new();
    let too_short = || err("bad argument #2 to 'unpack' (data string too short)");
    while let Some((item, align)) = format.next()? {
        at += pad(at, align);
        match item {
            Item::Padding => at += 1,
            Item::Int { size, signed } => {
                let bytes = data.get(at..at + size).ok_or_else(too_short)?;
                let mut value = 0u64;
                for i in 0..size {
                    let b = if format.little {
                        bytes[size - 1 - i]
                    } else {
                        bytes[i]
                    };
                    value = (value << 8) | u64::from(b);
                }
                let n = if signed && size < 8 {
                    let shift = 64 - 8 * size as u32;
                    (((value << shift) as i64) >> shift) as f64
                } else if signed {
                    value as i64 as f64
                } else {
                    value as f64
                };
                values.push(Value::Number(n));
                at += size;
            }
            Item::Float | Item::Double => {
                let size = if matches!(item, Item::Float) { 4 } else { 8 };
                let bytes = data.get(at..at + size).ok_or_else(too_short)?;
                let mut raw = 0u64;
                for i in 0..size {
                    let b = if format.little {
                        bytes[size - 1 - i]
                    } else {
                        bytes[i]
                    };
                    raw = (raw << 8) | u64::from(b);
                }
                let n = if size == 4 {
                    f64::from(f32::from_bits(raw as u32))
                } else {
                    f64::from_bits(raw)
                };
                values.push(Value::Number(n));
                at += size;
            }
            Item::Chars(len) => {
                let len = match len {
                    Some(len) => len,
                    None => match values.pop() {
                        Some(Value::Number(n)) if n >= 0.0 => n as usize,
                        _ => return Err(err("format 'c0' needs a previous size")),
                    },
                };
                let bytes = data.get(at..at + len).ok_or_else(too_short)?;
                values.push(Value::String(lua.create_string(bytes)?));
                at += len;
            }
            Item::Zstr => {
                let rest = data.get(at..).ok_or_else(too_short)?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| err("unfinished string in data"))?;
                values.push(Value::String(lua.create_string(&rest[..end])?));
                at += end + 1;
            }
        }
    }
    values.push(Value::Number((at + 1) as f64));
    Ok(MultiValue::from_iter(values))
}

fn size(fmt: &[u8]) -> mlua::Result<usize> {
    let mut format = Format::new(fmt);
    let mut total = 0;
    while let Some((item, align)) = format.next()? {
        total += pad(total, align);
        total += match item {
            Item::Padding => 1,
            Item::Int { size, .. } => size,
            Item::Float => 4,
            Item::Double => 8,
            Item::Chars(Some(len)) => len,
            Item::Chars(None) | Item::Zstr => {
                return Err(err("options 'c0' - 's' have undefined sizes"))
            }
        };
    }
    Ok(total)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set(
        "pack",
        lua.create_function(|lua, (fmt, args): (mlua::String, Variadic<Value>)| {
            pack(lua, &fmt.as_bytes(), &args)
        })?,
    )?;
    table.set(
        "unpack",
        lua.create_function(
            |lua, (fmt, data, pos): (mlua::String, mlua::String, Option<i64>)| {
                let start = pos.unwrap_or(1).max(1) as usize - 1;
                unpack(lua, &fmt.as_bytes(), &data.as_bytes(), start)
            },
        )?,
    )?;
    table.set(
        "size",
        lua.create_function(|_, fmt: mlua::String| size(&fmt.as_bytes()))?,
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let lua = Lua::new();
        lua.globals().set("struct", open(&lua).unwrap()).unwrap();
        let hex: String = lua
            .load("local s = struct.pack('>Ih', 1, -2) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))")
            .eval()
            .unwrap();
        assert_eq!(hex, "00000001fffe");
        let (a, b, next): (f64, String, f64) = lua
            .load("return struct.unpack('<i s', struct.pack('<i s', 7, 'hi'))")
            .eval()
            .unwrap();
        assert_eq!((a, b.as_str(), next), (7.0, "hi", 8.0));
        let size: usize = lua.load("return struct.size('>iHd')").eval().unwrap();
        assert_eq!(size, 14);
    }
}
