//! A Lua 5.1 interpreter set up as Redis 7.0 sets one up for scripts: only
//! the base, table, string and math libraries plus cjson, cmsgpack, bit and
//! struct; the `redis` API; read-only globals and library tables; Redis's
//! deterministic `math.random`. EVAL scripts share one such VM and the
//! function libraries another, as in Redis. The sandbox itself is Lua
//! (`prelude.lua`); this file supplies the parts written in Rust.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;

use mlua::{ffi, Function, Lua, LuaOptions, RegistryKey, StdLib, Table, Value};

use super::call_args::CallSlot;
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
    /// What redis.call runs while no script runs (see `lend_dispatcher`).
    outside: Function,
    /// The registry slot redis.call's C entries call: `outside`, or the
    /// running script's dispatcher.
    dispatcher: RefCell<RegistryKey>,
    /// Lua strings for the names Rust sets and reads on every run.
    pub names: Names,
    /// Where redis.call's C entry leaves the call's arguments.
    pub call_slot: CallSlot,
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
        // Outside a script run, redis.call's registry slot holds a function
        // that raises "can only be called inside a script invocation";
        // `invoke::run` lends the slot its dispatcher for the run's length.
        let outside = {
            let ctl = ctl.clone();
            lua.create_function(move |lua, _: mlua::MultiValue| outside_call(lua, &ctl))?
        };
        let dispatcher = lua.create_registry_value(&outside)?;
        let dispatcher_id = dispatcher.id();
        let call_slot = CallSlot::default();
        let entries: [(&str, ffi::lua_CFunction); 3] = [
            ("call", call_entry),
            ("pcall", pcall_entry),
            ("acl_check", acl_check_entry),
        ];
        for (name, entry) in entries {
            let slot = call_slot.as_ptr().cast_mut().cast::<std::ffi::c_void>();
            // SAFETY: pushes a C closure whose upvalues are the slot, which
            // the `Vm` keeps alive as long as its Lua state, and the registry
            // reference of the dispatcher, which the `Vm` keeps too.
            let function: Function = unsafe {
                lua.exec_raw((), |state| {
                    ffi::lua_pushlightuserdata(state, slot);
                    ffi::lua_pushinteger(state, dispatcher_id as ffi::lua_Integer);
                    ffi::lua_pushcclosure(state, entry, 2);
                })?
            };
            native.set(name, function)?;
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
            outside,
            dispatcher: RefCell::new(dispatcher),
            call_slot,
            names: Names::new(&lua)?,
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

    /// Makes `dispatcher` what redis.call/pcall (registry slot) and the
    /// prelude's `ctl.run` call, for the run about to start; `end_dispatch`
    /// takes it back. It is called as `dispatcher(op, a)`: `op` is
    /// [`OP_CALL`], [`OP_PCALL`] or [`OP_ACL_CHECK`] from the C entries
    /// (the arguments are then in `call_slot`), or the prelude's name of an
    /// operation (`setresp`, `set_repl`) with its argument.
    pub fn lend_dispatcher(&self, dispatcher: &Function) -> mlua::Result<()> {
        self.lua
            .replace_registry_value(&mut self.dispatcher.borrow_mut(), dispatcher)?;
        self.ctl.raw_set(&self.names.run, dispatcher)
    }

    /// Ends what `lend_dispatcher` started: redis.call raises again.
    pub fn end_dispatch(&self) -> mlua::Result<()> {
        self.lua
            .replace_registry_value(&mut self.dispatcher.borrow_mut(), &self.outside)?;
        self.ctl.raw_set(&self.names.run, Value::Nil)
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

/// The names of `ctl` fields and globals a run sets, as Lua strings made
/// once (a `&str` key is hashed into a new Lua string at every use).
pub struct Names {
    pub run: mlua::String,
    pub killed: mlua::String,
    pub pending: mlua::String,
    pub keys: mlua::String,
    pub argv: mlua::String,
    /// The fields of Redis's reply tables (`{err = ...}`, `{ok = ...}`, ...).
    pub err: mlua::String,
    pub ignore_error_stats_update: mlua::String,
    pub ok: mlua::String,
    pub double: mlua::String,
    pub big_number: mlua::String,
    pub verbatim_string: mlua::String,
    pub map: mlua::String,
    pub set: mlua::String,
}

impl Names {
    pub fn new(lua: &Lua) -> mlua::Result<Names> {
        Ok(Names {
            run: lua.create_string("run")?,
            killed: lua.create_string("killed")?,
            pending: lua.create_string("pending")?,
            keys: lua.create_string("KEYS")?,
            argv: lua.create_string("ARGV")?,
            err: lua.create_string("err")?,
            ignore_error_stats_update: lua.create_string("ignore_error_stats_update")?,
            ok: lua.create_string("ok")?,
            double: lua.create_string("double")?,
            big_number: lua.create_string("big_number")?,
            verbatim_string: lua.create_string("verbatim_string")?,
            map: lua.create_string("map")?,
            set: lua.create_string("set")?,
        })
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

/// The `op` redis.call passes to the dispatcher: an error reply raises.
pub const OP_CALL: i64 = 1;
/// The `op` redis.pcall passes: an error reply is returned.
pub const OP_PCALL: i64 = 2;
/// The `op` redis.acl_check_cmd passes: a boolean, or the error text.
pub const OP_ACL_CHECK: i64 = 3;

unsafe extern "C-unwind" fn call_entry(state: *mut ffi::lua_State) -> c_int {
    forward(state, OP_CALL)
}

unsafe extern "C-unwind" fn pcall_entry(state: *mut ffi::lua_State) -> c_int {
    forward(state, OP_PCALL)
}

unsafe extern "C-unwind" fn acl_check_entry(state: *mut ffi::lua_State) -> c_int {
    forward(state, OP_ACL_CHECK)
}

/// The Lua-facing half of redis.call/pcall/acl_check_cmd, a plain C
/// function: it leaves its arguments in the VM's `CallSlot` (its first
/// upvalue) and calls the function in the registry slot its second upvalue
/// names (the running script's dispatcher) with `op`. Being a C function, it also keeps the caller's
/// frame in `return redis.call(...)`, so errors name the line.
///
/// # Safety
/// Called by Lua as a C closure made in `Vm::new`. Reading the arguments
/// raises no Lua error, and the frame keeps nothing that needs dropping
/// when it calls the dispatcher, so an error raised there may unwind
/// (longjmp) through it.
unsafe fn forward(state: *mut ffi::lua_State, op: i64) -> c_int {
    let slot = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1));
    CallSlot::fill(slot.cast_const().cast(), state, ffi::lua_gettop(state));
    let dispatcher = ffi::lua_tointeger(state, ffi::lua_upvalueindex(2));
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, dispatcher);
    ffi::lua_pushinteger(state, op as ffi::lua_Integer);
    ffi::lua_call(state, 1, 1);
    1
}

/// redis.call/pcall while no script runs. The error is left in
/// `ctl.pending`, where the message handler and the sandbox's pcall pick
/// it up, because a Rust function cannot raise a table.
fn outside_call(lua: &Lua, ctl: &Table) -> mlua::Result<Value> {
    let error = script_error_table(
        lua,
        "redis.call/pcall can only be called inside a script invocation",
    )?;
    ctl.raw_set("pending", error)?;
    Err(mlua::Error::runtime("redis.call outside a script"))
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
