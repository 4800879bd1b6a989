//! The Ferrite server process: configuration, the listener and connections,
//! client state, the command table and the command implementations.

pub mod acl;
mod aof;
mod background;
mod blocking;
mod client;
mod client_eviction;
mod command;
mod command_flags;
mod commands;
pub mod config;
mod connection;
mod crash;
mod debug_protocol;
mod digest;
mod eviction;
mod geo;
mod key_spec;
mod latency;
mod lcs;
mod listen;
mod loading;
mod log;
mod memory;
mod migrate;
mod notify;
mod outgoing;
mod output;
mod pause;
mod persistence;
mod protected;
mod pubsub;
mod redact;
mod repl;
pub mod scripting;
mod server;
mod shutdown;
mod slowlog;
mod stats;
mod tracking;
mod transaction;
mod watch;

pub use memory::CountingAllocator;

use std::sync::Arc;

/// The Redis version Ferrite is compatible with, reported by INFO and HELLO so
/// clients enable the features they expect.
pub const REDIS_VERSION: &str = "7.0.15";

/// Runs the server with redis-server's command line; returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    if matches!(args.first().map(String::as_str), Some("-v" | "--version")) {
        println!(
            "Ferrite server v={} (Redis {REDIS_VERSION} compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    let config = match config::load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return 1;
        }
    };
    if let Err(error) = log::init(config.get("loglevel"), config.get("logfile")) {
        eprintln!("Can't open the log file: {error}");
        return 1;
    }
    crash::install(config.get("logfile"));
    if !config.get("dir").is_empty() {
        if let Err(error) = std::env::set_current_dir(config.get("dir")) {
            tracing::warn!("Can't chdir to '{}': {error}", config.get("dir"));
            return 1;
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let io_threads = config.get_i64("io-threads");
    if io_threads > 0 {
        builder.worker_threads(io_threads as usize);
    }
    builder.on_thread_start(scripting::run::mark_runtime_thread);
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!("Failed to start the runtime: {error}");
            return 1;
        }
    };
    let pidfile = config.get("pidfile").to_string();
    create_pid_file(&pidfile);
    // The replication link runs on this (the main) thread: see
    // `repl::replica::spawn_supervisor`.
    let main_thread_tasks = tokio::task::LocalSet::new();
    let code = runtime.block_on(main_thread_tasks.run_until(async move {
        let port = config.get_i64("port") as u16;
        let bind = config.get("bind").to_string();
        tracing::info!("Ferrite {} (Redis {REDIS_VERSION} compatible), 64 bit, standalone mode, port {port}, PID: {}", env!("CARGO_PKG_VERSION"), std::process::id());
        let listeners = match listen::bind_all(&bind, port) {
            Ok(listeners) => listeners,
            Err(error) => {
                tracing::warn!("{error}");
                return 1;
            }
        };
        let unix = match config.get("unixsocket") {
            "" => None,
            path => match server::bind_unix(path, config.get("unixsocketperm")) {
                Ok(listener) => Some(listener),
                Err(error) => {
                    tracing::warn!("{error}");
                    return 1;
                }
            },
        };
        let server = Arc::new(server::Server::new(config, port));
        tracing::info!("Server initialized");
        if let Err(lines) = acl::file::load_at_startup(&server) {
            for line in lines {
                tracing::warn!("{line}");
            }
            return 1;
        }
        // With `appendonly yes` the AOF is loaded instead of the RDB file.
        let loaded = if server.config.read().get_bool("appendonly") {
            aof::load_at_startup(&server)
        } else {
            persistence::load_at_startup(&server).map_err(|_| ())
        };
        if loaded.is_err() {
            // Redis exits there at once (its pid file stays).
            std::process::exit(1);
        }
        server::serve(server, listeners, unix).await;
        0
    }));
    remove_pid_file(&pidfile);
    code
}

/// Redis writes `pidfile` whenever one is configured (not only when daemonized).
fn create_pid_file(path: &str) {
    if !path.is_empty() {
        if let Err(error) = std::fs::write(path, format!("{}\n", std::process::id())) {
            tracing::warn!("Failed to write PID file: {error}");
        }
    }
}

fn remove_pid_file(path: &str) {
    if !path.is_empty() {
        tracing::info!("Removing the pid file.");
        let _ = std::fs::remove_file(path);
    }
}
