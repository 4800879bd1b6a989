//! LuaBitOp (`bit`), as bundled with Redis: 32-bit operations on Lua
//! numbers, which are first wrapped to 32 bits the way LuaBitOp does it.

use mlua::{Lua, Table, Variadic};

/// LuaBitOp's `barg`: the number's low 32 bits after rounding, obtained by
/// adding 2^52 + 2^51 and reading the double's low mantissa bits.
fn bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

fn num(b: u32) -> f64 {
    f64::from(b as i32)
}

fn fold(args: &[f64], f: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let Some((first, rest)) = args.split_first() else {
        return Err(mlua::Error::runtime(
            "bad argument #1 (number expected, got no value)",
        ));
    };
    Ok(num(rest
        .iter()
        .fold(bits(*first), |acc, n| f(acc, bits(*n)))))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.set("tobit", lua.create_function(|_, n: f64| Ok(num(bits(n))))?)?;
    bit.set("bnot", lua.create_function(|_, n: f64| Ok(num(!bits(n))))?)?;
    bit.set(
        "band",
        lua.create_function(|_, n: Variadic<f64>| fold(&n, |a, b| a & b))?,
    )?;
    bit.set(
        "bor",
        lua.create_function(|_, n: Variadic<f64>| fold(&n, |a, b| a | b))?,
    )?;
    bit.set(
        "bxor",
        lua.create_function(|_, n: Variadic<f64>| fold(&n, |a, b| a ^ b))?,
    )?;
    type Shift = fn(u32, u32) -> u32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |b, n| b.wrapping_shl(n & 31)),
        ("rshift", |b, n| b.wrapping_shr(n & 31)),
        ("arshift", |b, n| ((b as i32) >> (n & 31)) as u32),
        ("rol", |b, n| b.rotate_left(n & 31)),
        ("ror", |b, n| b.rotate_right(n & 31)),
    ];
    for (name, shift) in shifts {
        bit.set(
            name,
            lua.create_function(move |_, (b, n): (f64, f64)| Ok(num(shift(bits(b), bits(n)))))?,
        )?;
    }
    bit.set(
        "bswap",
        lua.create_function(|_, n: f64| Ok(num(bits(n).swap_bytes())))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (b, n): (f64, Option<f64>)| {
            let mut value = bits(b);
            let mut digits = n.map_or(8, |n| bits(n) as i32);
            let upper = digits < 0;
            if upper {
                digits = -digits;
            }
            let digits = digits.clamp(1, 8) as usize;
            if digits < 8 {
                value &= (1u32 << (digits * 4)) - 1;
            }
            Ok(if upper {
                format!("{value:0digits$X}")
            } else {
                format!("{value:0digits$x}")
            })
        })?,
    )?;
    Ok(bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_wrap_to_32_bits() {
        assert_eq!(num(bits(4294967295.0)), -1.0);
        assert_eq!(num(bits(1.0) | bits(2.0)), 3.0);
        let lua = Lua::new();
        lua.globals().set("bit", open(&lua).unwrap()).unwrap();
        let hex: String = lua.load("return bit.tohex(255, -4)").eval().unwrap();
        assert_eq!(hex, "00FF");
        let shifted: f64 = lua.load("return bit.lshift(1, 31)").eval().unwrap();
        assert_eq!(shifted, -2147483648.0);
    }
}
