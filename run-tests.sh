#!/usr/bin/env bash
# The repo's test command: build, unit tests, then Redis's own test suite (redis-tests/).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release
cargo test --release --workspace
redis-tests/run
