//! Lua scripting as Redis 7.0 offers it: EVAL scripts (`eval.rs`), function
//! libraries (`functions.rs`), both running in sandboxed Lua 5.1 VMs
//! (`vm.rs`, `prelude.lua`, the libraries in `libs/`), one run at a time with
//! the keyspace held exclusively (`invoke.rs`), and the BUSY / SCRIPT KILL
//! rules other clients see while one runs (`run.rs`). The commands are in
//! `commands/scripting.rs`.

pub mod call_args;
pub mod convert;
pub mod eval;
pub mod functions;
pub mod invoke;
pub mod libs;
pub mod run;
pub mod vm;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
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
    /// What INFO and FUNCTION STATS report of the engines, recorded when
    /// they change: readable while a script holds the engines (FUNCTION
    /// STATS is allowed while BUSY, INFO must not wait).
    libraries: AtomicUsize,
    functions: AtomicUsize,
    cached_scripts: AtomicUsize,
    eval_vm_bytes: AtomicUsize,
    functions_vm_bytes: AtomicUsize,
    /// Every library's code, recorded when the libraries change: what SAVE,
    /// BGSAVE and a full sync write, read without waiting for a running
    /// script to release the engines.
    library_codes: Mutex<Vec<Bytes>>,
}

/// INFO memory's scripting fields.
pub struct ScriptingMemory {
    pub cached_scripts: usize,
    pub libraries: usize,
    pub functions: usize,
    /// Bytes the EVAL VM and the functions VM hold.
    pub eval_vm: usize,
    pub functions_vm: usize,
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
            cached_scripts: AtomicUsize::new(0),
            eval_vm_bytes: AtomicUsize::new(0),
            functions_vm_bytes: AtomicUsize::new(0),
            library_codes: Mutex::default(),
        })
    }

    /// Records the libraries after FUNCTION LOAD, DELETE, FLUSH or RESTORE
    /// or an RDB load changed them (and what `engines_changed` records).
    pub fn libraries_changed(&self, engines: &Engines) {
        self.engines_changed(engines);
        *self.library_codes.lock() = engines.functions.library_codes();
    }

    /// The code of every library, as of the last change.
    pub fn library_codes(&self) -> Vec<Bytes> {
        self.library_codes.lock().clone()
    }

    /// Makes `functions` the function engine (FUNCTION RESTORE FLUSH, or an
    /// RDB file's libraries replacing the current ones).
    pub fn replace_functions(&self, functions: functions::FunctionEngine) {
        let mut engines = self.engines();
        engines.functions = functions;
        self.libraries_changed(&engines);
    }

    /// Records the engines' counts and VM sizes after a script ran or was
    /// loaded, or the libraries changed (through `libraries_changed`).
    pub fn engines_changed(&self, engines: &Engines) {
        let functions = &engines.functions;
        self.libraries
            .store(functions.library_count(), Ordering::Relaxed);
        self.functions
            .store(functions.function_count(), Ordering::Relaxed);
        self.cached_scripts
            .store(engines.eval.script_count(), Ordering::Relaxed);
        self.eval_vm_bytes
            .store(engines.eval.vm.lua.used_memory(), Ordering::Relaxed);
        self.functions_vm_bytes
            .store(functions.vm.lua.used_memory(), Ordering::Relaxed);
    }

    /// (libraries, functions) loaded.
    pub fn function_counts(&self) -> (usize, usize) {
        (
            self.libraries.load(Ordering::Relaxed),
            self.functions.load(Ordering::Relaxed),
        )
    }

    pub fn memory(&self) -> ScriptingMemory {
        let (libraries, functions) = self.function_counts();
        ScriptingMemory {
            cached_scripts: self.cached_scripts.load(Ordering::Relaxed),
            libraries,
            functions,
            eval_vm: self.eval_vm_bytes.load(Ordering::Relaxed),
            functions_vm: self.functions_vm_bytes.load(Ordering::Relaxed),
        }
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
