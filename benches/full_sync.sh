#!/usr/bin/env bash
# Full sync of KEYS keys (64-byte values): Ferrite -> Ferrite against Redis 7.0 ->
# Redis 7.0 on the same machine, same run (issue: replication, performance).
#
# For each pair (master + replica of the same server), loads the master with KEYS
# `SET key:N <64 bytes>` through redis-cli --pipe, then:
#  1. runs redis-benchmark SET (-c 50) against the master alone: p99 without a sync;
#  2. attaches the replica (REPLICAOF) while the same SET load runs: seconds until the
#     replica reports master_link_status:up with all keys, and the master's p99 meanwhile.
# Prints one line per server and the Ferrite/Redis ratios. Not a test: numbers only.
# Usage: benches/full_sync.sh [keys] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-1000000}
ROUNDS=${2:-1}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name port command...
  local name=$1 port=$2; shift 2
  mkdir -p "$work/$name"
  "$@" --port "$port" --bind 127.0.0.1 --save "" --dir "$work/$name" \
    --repl-diskless-sync-delay 0 >"$work/$name.log" 2>&1 &
  pids+=($!)
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
}

load() { # port
  python3 - "$KEYS" <<'PY' | redis-cli -p "$1" --pipe >/dev/null
import sys
n = int(sys.argv[1])
value = b"v" * 64
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$64\r\n%s\r\n" % (len(key), key, value))
PY
}

# p99 (ms) of redis-benchmark SET -c 50 against port, for n requests.
p99() { # port requests
  redis-benchmark -p "$1" -t set -c 50 -n "$2" -r 100000 -d 64 --csv 2>/dev/null |
    awk -F'","' 'NR==2 { gsub(/"/, "", $7); print $7 }'
}

field() { # port name
  redis-cli -p "$1" info replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

run_pair() { # name binary
  local name=$1 bin=$2 master replica
  master=$(free_port); replica=$(free_port)
  start "$name-master" "$master" "$bin"
  start "$name-replica" "$replica" "$bin"
  load "$master"
  local alone during started elapsed
  alone=$(p99 "$master" 100000)
  started=$(date +%s.%N)
  redis-cli -p "$replica" replicaof 127.0.0.1 "$master" >/dev/null
  p99 "$master" 100000 >"$work/during" &
  local bench=$!
  until [[ $(field "$replica" master_link_status) == up ]]; do sleep 0.05; done
  elapsed=$(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 2))" "$(date +%s.%N)" "$started")
  wait "$bench"
  during=$(cat "$work/during")
  echo "$name sync_s=$elapsed p99_alone_ms=$alone p99_during_sync_ms=$during"
  redis-cli -p "$replica" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$master" shutdown nosave >/dev/null 2>&1 || true
}

for _ in $(seq "$ROUNDS"); do
  run_pair ferrite target/release/ferrite-server
  run_pair redis /usr/bin/redis-server
done
