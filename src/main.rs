//! `ferrite-server [config-file] [--directive value ...]`, like redis-server.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(ferrite_server_core::run(args));
}
