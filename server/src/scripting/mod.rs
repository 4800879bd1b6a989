//! Lua scripting as Redis 7.0 offers it: EVAL scripts (`eval.rs`), function
//! libraries (`functions.rs`), both running in sandboxed Lua 5.1 VMs
//! (`vm.rs`, `prelude.lua`, the libraries in `libs/`), one run at a time with
//! the keyspace held exclusively (`invoke.rs`), and the BUSY / SCRIPT KILL
//! rules other clients see while one runs (`run.rs`). The commands are in
//! `commands/scripting.rs`.

pub mod convert;
pub mod eval;
pub mod functions;
pub mod invoke;
pub mod libs;
pub mod run;
pub mod vm;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

pub use run::refuse_while_busy;

/// The two scripting engines. One lock covers both, so at most one script
/// or function runs at a time (Redis runs one); it is taken after the
/// keyspace gate, never before.
pub struct Engines {
    pub eval: eval::EvalEngine,
    pub functions: functions::FunctionEngine,
}

/// The server's scripting state.
pub struct Scripting {
    engines: Mutex<Engines>,
    /// The running script, as other connections see it.
    pub run: Arc<run::RunState>,
    /// Library and function counts, readable while a script holds the
    /// engines (FUNCTION STATS is allowed while BUSY).
    libraries: AtomicUsize,
    functions: AtomicUsize,
}

impl Scripting {
    pub fn new() -> mlua::Result<Scripting> {
        Ok(Scripting {
            engines: Mutex::new(Engines {
                eval: eval::EvalEngine::new()?,
                functions: functions::FunctionEngine::new()?,
            }),
            run: Arc::default(),
            libraries: AtomicUsize::new(0),
            functions: AtomicUsize::new(0),
        })
    }

    /// Records the function engine's counts after FUNCTION LOAD, DELETE or
    /// FLUSH changed them.
    pub fn functions_changed(&self, engines: &Engines) {
        let functions = &engines.functions;
        self.libraries
            .store(functions.library_count(), Ordering::Relaxed);
        self.functions
            .store(functions.function_count(), Ordering::Relaxed);
    }

    /// (libraries, functions) loaded.
    pub fn function_counts(&self) -> (usize, usize) {
        (
            self.libraries.load(Ordering::Relaxed),
            self.functions.load(Ordering::Relaxed),
        )
    }

    /// The engines, waiting for them off the tokio worker pool if a script
    /// holds them.
    pub fn engines(&self) -> MutexGuard<'_, Engines> {
        match self.engines.try_lock() {
            Some(engines) => engines,
            None => run::off_worker(|| self.engines.lock()),
        }
    }
}
