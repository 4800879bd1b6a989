//! A Lua 5.1 interpreter set up as Redis 7.0 sets one up for scripts: only
//! the base, table, string and math libraries plus cjson, cmsgpack, bit and
//! struct; the `redis` API; read-only globals and library tables; Redis's
//! deterministic `math.random`. EVAL scripts share one such VM and the
//! function libraries another, as in Redis. The sandbox itself is Lua
//! (`prelude.lua`); this file supplies the parts written in Rust.

use std::cell::Cell;
use std::ffi::{c_int, CStr};

use mlua::{ffi, Function, Lua, LuaOptions, StdLib, Table, Value};

use super::convert::script_error_table;

use super::libs;

const PRELUDE: &str = include_str!("prelude.lua");

/// Redis's LUA_GC_CYCLE_PERIOD: runs between collection steps, and the
/// step's size in kilobytes.
const GC_CYCLE_PERIOD: u32 = 50;

/// Which API the VM offers: EVAL scripts (KEYS/ARGV globals,
/// `redis.breakpoint`) or function libraries (`redis.register_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmKind {
    Eval,
    Functions,
}

/// One sandboxed interpreter and the handles Rust needs to drive it.
pub struct Vm {
    pub lua: Lua,
    /// Private table shared with the prelude: `run` (the running script's
    /// dispatcher), `killed`, `register` (FUNCTION LOAD's registrar).
    pub ctl: Table,
    /// The read-only globals user code runs with.
    pub env: Table,
    /// The real globals (KEYS and ARGV are set here for EVAL).
    pub globals: Table,
    /// `xpcall(f, handler)` for EVAL chunks.
    pub run_eval: Function,
    /// `xpcall(function() return f(keys, args) end, handler)` for FCALL.
    pub run_fcall: Function,
    /// Functions VM only: `loading(true)` makes the globals the library
    /// API FUNCTION LOAD runs code with, `loading(false)` restores them.
    pub loading: Option<Function>,
    /// Runs since the last garbage-collection step (see `after_run`).
    runs_since_gc: Cell<u32>,
}

impl Vm {
    pub fn new(kind: VmKind) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_app_data(Rand48::default());
        let native = lua.create_table()?;
        let ctl = lua.create_table()?;
        native.set("ctl", ctl.clone())?;
        let pending = ctl.clone();
        native.set(
            "handler",
            lua.create_function(move |lua, error| error_handler(lua, &pending, error))?,
        )?;
        let entries: [(&str, &CStr, ffi::lua_CFunction, bool); 2] = [
            ("call", CALL_KEY, call_entry, true),
            ("pcall", PCALL_KEY, pcall_entry, false),
        ];
        for (name, key, entry, raise) in entries {
            let ctl = ctl.clone();
            let forward = lua.create_function(move |lua, (args, count): (Table, usize)| {
                redis_call(lua, &ctl, raise, args, count)
            })?;
            lua.set_named_registry_value(key.to_str().map_err(mlua::Error::external)?, forward)?;
            // SAFETY: the entry only moves values on the Lua stack it is called with.
            native.set(name, unsafe { lua.create_c_function(entry)? })?;
        }
        native.set(
            "sha1hex",
            lua.create_function(|_, text: mlua::String| {
                Ok(sha1_smol::Sha1::from(&*text.as_bytes())
                    .digest()
                    .to_string())
            })?,
        )?;
        native.set("log", lua.create_function(log)?)?;
        native.set(
            "rand",
            lua.create_function(|lua, ()| {
                Ok(lua
                    .app_data_mut::<Rand48>()
                    .map_or(0.0, |mut r| r.next_f64()))
            })?,
        )?;
        native.set(
            "srand",
            lua.create_function(|lua, seed: f64| {
                if let Some(mut rand) = lua.app_data_mut::<Rand48>() {
                    rand.seed(seed as i32);
                }
                Ok(())
            })?,
        )?;
        native.set("libs", libs::open_all(&lua)?)?;
        let kind_name = match kind {
            VmKind::Eval => "eval",
            VmKind::Functions => "function",
        };
        let exports: Table = lua
            .load(PRELUDE)
            .set_name("=ferrite")
            .call((native, kind_name))?;
        Ok(Vm {
            globals: lua.globals(),
            env: exports.get("env")?,
            run_eval: exports.get("eval")?,
            run_fcall: exports.get("fcall")?,
            loading: exports.get("loading")?,
            runs_since_gc: Cell::new(0),
            ctl,
            lua,
        })
    }

    /// Called after each script run: every `GC_CYCLE_PERIOD` runs, one
    /// incremental collection step of that many kilobytes, as Redis's
    /// `luaCallFunction` does, so garbage is reclaimed steadily instead of
    /// in a full cycle whenever Lua decides (and the VM's memory stays
    /// close to what is live).
    pub fn after_run(&self) {
        let runs = self.runs_since_gc.get() + 1;
        if runs < GC_CYCLE_PERIOD {
            self.runs_since_gc.set(runs);
            return;
        }
        self.runs_since_gc.set(0);
        if let Err(e) = self.lua.gc_step_kbytes(GC_CYCLE_PERIOD as i32) {
            tracing::warn!("Lua garbage collection step failed: {e}");
        }
    }

    /// Compiles user code under `chunk_name` (`@user_script`,
    /// `@user_function`) with the sandboxed globals. The error is Lua's
    /// message (`user_script:1: ...`).
    pub fn compile(&self, code: &[u8], chunk_name: &str) -> Result<Function, String> {
        if code.first() == Some(&27) {
            return Err("attempt to load a binary chunk".to_string());
        }
        self.lua
            .load(code)
            .set_name(chunk_name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| error_message(&e))
    }
}

/// The text of an mlua error without mlua's decorations.
pub fn error_message(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// The message handler of every script run (Redis's `__redis__err__handler`):
/// turns the error into a Redis error table and records where in the user's
/// code it happened (`source`, `line`), which the error reply then names.
fn error_handler(lua: &Lua, ctl: &Table, error: Value) -> mlua::Result<Table> {
    let pending: Value = ctl.raw_get("pending")?;
    ctl.raw_set("pending", Value::Nil)?;
    let error = match pending {
        Value::Table(pending) => Value::Table(pending),
        _ => error,
    };
    let table = match error {
        Value::Table(table) => table,
        other => {
            let text = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Error(e) => error_message(e),
                Value::Number(n) => super::convert::lua_number_text(*n),
                Value::Integer(i) => i.to_string(),
                Value::Nil => "nil".to_string(),
                Value::Boolean(b) => b.to_string(),
                _ => other.type_name().to_string(),
            };
            let table = lua.create_table()?;
            table.raw_set("err", format!("ERR {text}"))?;
            table
        }
    };
    for level in 1..200 {
        let Some(frame) = lua.inspect_stack(level) else {
            break;
        };
        let source = frame.source();
        if let Some(name) = source.source.filter(|s| s.starts_with("@user_")) {
            table.raw_set("source", name.to_string())?;
            table.raw_set("line", frame.curr_line())?;
            break;
        }
    }
    Ok(table)
}

/// Registry keys of the Rust halves of redis.call and redis.pcall.
const CALL_KEY: &CStr = c"ferrite.redis_call";
const PCALL_KEY: &CStr = c"ferrite.redis_pcall";

unsafe extern "C-unwind" fn call_entry(state: *mut ffi::lua_State) -> c_int {
    pack_and_forward(state, CALL_KEY)
}

unsafe extern "C-unwind" fn pcall_entry(state: *mut ffi::lua_State) -> c_int {
    pack_and_forward(state, PCALL_KEY)
}

/// The Lua-facing half of redis.call/pcall, a plain C function: it packs
/// its arguments into a table and calls the Rust half (registry `key`)
/// with (table, count). A Rust function taking the arguments one by one
/// holds each in mlua's reference stack, which has room for fewer than the
/// 7,999 + 2 arguments Redis takes (`unpack` of a big table). Being a C
/// function, it also keeps the caller's frame in `return redis.call(...)`,
/// so errors name the script's line.
///
/// # Safety
/// Called by Lua as a C function. It keeps nothing that needs dropping, so
/// an error raised by the Rust half may unwind (longjmp) through it.
unsafe fn pack_and_forward(state: *mut ffi::lua_State, key: &CStr) -> c_int {
    let count = ffi::lua_gettop(state);
    ffi::lua_createtable(state, count, 0);
    for i in 1..=count {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti(state, -2, i as ffi::lua_Integer);
    }
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_insert(state, -2);
    ffi::lua_pushinteger(state, count as ffi::lua_Integer);
    ffi::lua_call(state, 2, 1);
    1
}

/// redis.call (`raise`) and redis.pcall: runs the command through the
/// running script's dispatcher (`ctl.run`). redis.call raises a Redis error
/// reply as the error table itself: it is left in `ctl.pending`, where the
/// message handler and the sandbox's pcall pick it up, because a Rust
/// function cannot raise a table.
fn redis_call(
    lua: &Lua,
    ctl: &Table,
    raise: bool,
    args: Table,
    count: usize,
) -> mlua::Result<Value> {
    let reply = match ctl.raw_get::<Value>("run")? {
        Value::Function(run) => run.call::<Value>(("call", args, count))?,
        _ => {
            let error = script_error_table(
                lua,
                "redis.call/pcall can only be called inside a script invocation",
            )?;
            ctl.raw_set("pending", error)?;
            return Err(mlua::Error::runtime("redis.call outside a script"));
        }
    };
    let failed =
        matches!(&reply, Value::Table(t) if t.raw_get::<Value>("err").is_ok_and(|e| !e.is_nil()));
    if raise && failed {
        ctl.raw_set("pending", reply)?;
        return Err(mlua::Error::runtime("redis.call failed"));
    }
    Ok(reply)
}

/// `redis.log(level, message)`: Redis's levels 0-3 mapped onto tracing's.
fn log(_: &Lua, (level, message): (i64, mlua::String)) -> mlua::Result<()> {
    let message = message.to_string_lossy();
    match level {
        0 => tracing::debug!("{message}"),
        1 => tracing::debug!("{message}"),
        2 => tracing::info!("{message}"),
        _ => tracing::warn!("{message}"),
    }
    Ok(())
}

/// Redis's `redisLrand48` (src/rand.c): the 48-bit linear congruential
/// generator of drand48, with Redis's initial state, so `math.random`
/// sequences after `math.randomseed(n)` match Redis's.
struct Rand48 {
    state: u64,
}

impl Default for Rand48 {
    fn default() -> Self {
        Rand48 {
            state: 0x1234_ABCD_330E,
        }
    }
}

impl Rand48 {
    const MASK: u64 = (1 << 48) - 1;

    fn seed(&mut self, seed: i32) {
        self.state = ((u64::from(seed as u32) << 16) | 0x330E) & Self::MASK;
    }

    /// A number in [0, 1): `(lrand48() % INT32_MAX) / INT32_MAX`.
    fn next_f64(&mut self) -> f64 {
        self.state = (self.state.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & Self::MASK;
        let value = (self.state >> 17) as i64;
        let max = i64::from(i32::MAX);
        (value % max) as f64 / max as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat() {
        let mut a = Rand48::default();
        let mut b = Rand48::default();
        a.seed(10);
        b.seed(10);
        assert_eq!(a.next_f64(), b.next_f64());
        b.seed(20);
        assert_ne!(a.next_f64(), b.next_f64());
    }
}
