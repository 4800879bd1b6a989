//! redis.call's way from a script into Rust, on its own: the C entry, the
//! VM's argument slot and the dispatcher a run lends the VM. The dispatcher
//! here only takes the arguments and returns a number (what the server's
//! does before and after executing the command), so the figure is the
//! scripting machinery's cost per call, without a command's.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrite_server_core::scripting::vm::{Vm, VmKind, OP_CALL};
use mlua::Value;

fn redis_call(c: &mut Criterion) {
    let vm = Vm::new(VmKind::Eval).expect("a Lua VM");
    let script = vm
        .compile(
            b"for i = 1, 100 do redis.call('SET', KEYS[1], ARGV[1], 'EX', 100) end",
            "@user_script",
        )
        .expect("the script compiles");
    let keys = vm.lua.create_table().expect("KEYS");
    keys.raw_set(1, "key:1").expect("KEYS[1]");
    let args = vm.lua.create_table().expect("ARGV");
    args.raw_set(1, "value").expect("ARGV[1]");
    vm.globals.raw_set(&vm.names.keys, keys).expect("KEYS set");
    vm.globals.raw_set(&vm.names.argv, args).expect("ARGV set");
    let slot = vm.call_slot.clone();
    let dispatcher = vm
        .lua
        .create_function(move |_, (op, _): (Value, Value)| {
            let taken = slot.take();
            assert!(matches!(op, Value::Integer(OP_CALL)));
            Ok(taken.map_or(0, |request| request.map_or(0, |r| r.len())))
        })
        .expect("the dispatcher");
    vm.lend_dispatcher(&dispatcher).expect("lent");
    c.bench_function("redis_call_x100", |b| {
        b.iter(|| {
            let (ok, _): (bool, Value) = vm.run_eval.call(script.clone()).expect("the run");
            assert!(ok);
        })
    });
}

criterion_group!(benches, redis_call);
criterion_main!(benches);
