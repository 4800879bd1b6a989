//! `ferrite-server [config-file] [--directive value ...]`, like redis-server.

/// mimalloc, with the bytes in use counted for INFO `used_memory` and `maxmemory`.
#[global_allocator]
static GLOBAL: ferrite_server_core::CountingAllocator<mimalloc::MiMalloc> =
    ferrite_server_core::CountingAllocator(mimalloc::MiMalloc);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(ferrite_server_core::run(args));
}
