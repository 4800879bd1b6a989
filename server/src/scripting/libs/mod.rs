//! The Lua libraries Redis 7.0 ships to scripts, written in Rust with the
//! semantics of Redis's bundled C versions: `cjson`, `cmsgpack`, `bit` and
//! `struct`.

mod bit;
mod cjson;
mod cmsgpack;
mod structs;

use mlua::{Lua, Table};

/// A table `{cjson = ..., cmsgpack = ..., bit = ..., struct = ...}`.
pub fn open_all(lua: &Lua) -> mlua::Result<Table> {
    let libs = lua.create_table()?;
    libs.set("cjson", cjson::open(lua)?)?;
    libs.set("cmsgpack", cmsgpack::open(lua)?)?;
    libs.set("bit", bit::open(lua)?)?;
    libs.set("struct", structs::open(lua)?)?;
    Ok(libs)
}
