//! redis.call's arguments, read straight off the Lua stack by its C entry
//! (`vm::pack_and_forward`) into a request the run's dispatcher takes.
//!
//! Reading them in C-function context, with Lua's own API, costs a few
//! instructions per argument; going through mlua values instead (a table,
//! then one `raw_get` per argument) cost more than the command itself, and
//! each live mlua value holds a slot of its bounded reference stack, which
//! has room for fewer than the 7,999 + 2 arguments Redis takes.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrite_resp::format_double;
use mlua::ffi;
use parking_lot::Mutex;

/// Room kept per number argument before it is formatted.
const NUMBER_ROOM: usize = 24;

/// The arguments of the call being made: the request, or the script error
/// for a bad argument (Redis's texts).
pub type CallRequest = Result<Vec<Bytes>, &'static str>;

/// Where the C entry leaves the arguments for the dispatcher. One per VM:
/// a call's arguments are taken before the next call can be made.
#[derive(Clone, Default)]
pub struct CallSlot(Arc<Mutex<Option<CallRequest>>>);

impl CallSlot {
    /// The arguments the C entry left, taken (a dispatcher called any other
    /// way finds none).
    pub fn take(&self) -> Option<CallRequest> {
        self.0.lock().take()
    }

    /// What the C entry's upvalue points at (kept alive by the `Vm`).
    pub fn as_ptr(&self) -> *const Mutex<Option<CallRequest>> {
        Arc::as_ptr(&self.0)
    }

    /// Reads arguments 1..=`count` of the running C function into the slot
    /// behind `slot`.
    ///
    /// # Safety
    /// `state` is a C function's stack with at least `count` values, and
    /// `slot` comes from `as_ptr` of a slot that is still alive. Nothing here
    /// raises a Lua error (strings are read in place, numbers with
    /// `lua_tonumber`), so no Rust frame is ever skipped by a longjmp.
    pub unsafe fn fill(
        slot: *const Mutex<Option<CallRequest>>,
        state: *mut ffi::lua_State,
        count: i32,
    ) {
        let request = read(state, count);
        *(*slot).lock() = Some(request);
    }
}

/// Arguments 1..=`count` as a request: strings as they are, numbers as
/// `number_text` formats them, anything else the script error Redis gives.
///
/// # Safety
/// As [`CallSlot::fill`].
unsafe fn read(state: *mut ffi::lua_State, count: i32) -> CallRequest {
    if count == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut room = 0;
    for i in 1..=count {
        room += match ffi::lua_type(state, i) {
            ffi::LUA_TSTRING => ffi::lua_objlen(state, i),
            ffi::LUA_TNUMBER => NUMBER_ROOM,
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        };
    }
    let mut buffer = BytesMut::with_capacity(room);
    let mut ends = Vec::with_capacity(count as usize);
    for i in 1..=count {
        if ffi::lua_type(state, i) == ffi::LUA_TSTRING {
            let mut len = 0;
            let data = ffi::lua_tolstring(state, i, &mut len);
            buffer.extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), len));
        } else {
            number_text(ffi::lua_tonumber(state, i), &mut buffer);
        }
        ends.push(buffer.len());
    }
    let buffer = buffer.freeze();
    let mut start = 0;
    Ok(ends
        .into_iter()
        .map(|end| {
            let arg = buffer.slice(start..end);
            start = end;
            arg
        })
        .collect())
}

/// A number argument as text: an integral value as an integer (`5`),
/// anything else as `%.17g`.
fn number_text(n: f64, out: &mut BytesMut) {
    let integral = n >= i64::MIN as f64 && n < i64::MAX as f64 && {
        let i = n as i64;
        (n - i as f64).abs() < f64::EPSILON
    };
    if integral {
        out.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
    } else {
        out.extend_from_slice(format_double(n).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: f64) -> String {
        let mut out = BytesMut::new();
        number_text(n, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn numbers_format_as_before() {
        assert_eq!(text(5.0), "5");
        assert_eq!(text(-3.0), "-3");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(0.5), "0.5");
        assert_eq!(text(1e300), "1.0000000000000001e+300");
        assert_eq!(text(f64::NAN), "nan");
        assert_eq!(text(f64::INFINITY), "inf");
    }
}
