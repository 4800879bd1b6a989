#!/usr/bin/env bash
# Replication lag under write load: Ferrite (master + 2 replicas) against
# Redis 7.0 (the same) on this machine, same run (issue: replication, §6).
#
# For each server: starts a master and two replicas, waits until both replicas
# are online, then runs `redis-benchmark -t set -P 16` (-c 50, 64-byte values)
# on the master while a sampler reads, every few milliseconds and in this order,
# the master's INFO replication (master_repl_offset, and each replica's ACKed
# offset, slaveN:...,offset=) and each replica's own INFO replication
# (slave_repl_offset: the bytes it applied). Per replica and sample:
#   acked bytes   = master offset - the replica's last ACKed offset
#   applied bytes = master offset - the replica's applied offset
#   ms            = time until a later sample shows the replica (ACKed or
#                   applied) at or past that master offset (the sampling
#                   interval is the resolution).
# Replicas ACK once a second (both servers, as Redis's replicationCron), so the
# ACKed lag is mostly that period; the applied lag is how far the replica's
# data is behind. Prints median and p99 of each, over both replicas, per
# server, and the benchmark's throughput. Not a test: numbers only.
# Usage: [FERRITE=path/to/ferrite-server] benches/repl_lag.sh [requests] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-2000000}
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

online() { # master port: both replicas online
  [[ $(redis-cli -p "$1" info replication | tr -d '\r' | grep -c 'state=online') == 2 ]]
}

# Samples until the file $work/stop exists; prints the statistics.
sample() { # master replica1 replica2
  python3 - "$work/stop" "$@" <<'PY'
import os, socket, sys, time

stop, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]

def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")

def info(conn):
    sock, reader = conn
    sock.sendall(b"INFO replication\r\n")
    header = reader.readline()
    body = reader.read(int(header[1:]) + 2).decode()
    return dict(line.split(":", 1) for line in body.splitlines() if ":" in line)

conns = [connect(p) for p in ports]
samples = []  # (time, master offset, [acked per replica], [applied per replica])
while not os.path.exists(stop):
    master = info(conns[0])
    now = time.monotonic()
    acked = []
    for n in range(2):
        fields = dict(kv.split("=", 1) for kv in master.get(f"slave{n}", "offset=0").split(","))
        acked.append(int(fields.get("offset", 0)))
    applied = [int(info(c).get("slave_repl_offset", 0)) for c in conns[1:]]
    samples.append((now, int(master["master_repl_offset"]), acked, applied))
    time.sleep(0.002)

# Only samples while the stream grows (the benchmark running).
first = next(i for i, s in enumerate(samples) if s[1] > samples[0][1])
last = max(i for i, s in enumerate(samples) if s[1] < samples[-1][1])
window = samples[first:last + 1]

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]

def catch_up_ms(kind):
    out = []
    for i, (t, offset, *_rest) in enumerate(window):
        for n in range(2):
            caught = next((s[0] for s in samples[first + i:] if s[kind][n] >= offset), None)
            if caught is not None:
                out.append((caught - t) * 1000)
    return out

for name, kind in (("acked", 2), ("applied", 3)):
    lag = [s[1] - s[kind][n] for s in window for n in range(2)]
    ms = catch_up_ms(kind)
    print(f"{name}_bytes_p50={pct(lag, 50)} {name}_bytes_p99={pct(lag, 99)} "
          f"{name}_ms_p50={pct(ms, 50):.1f} {name}_ms_p99={pct(ms, 99):.1f}", end=" ")
print(f"samples={len(window)}")
PY
}

run() { # name binary
  local name=$1 bin=$2 master r1 r2
  master=$(free_port); r1=$(free_port); r2=$(free_port)
  start "$name-master" "$master" "$bin"
  start "$name-r1" "$r1" "$bin"
  start "$name-r2" "$r2" "$bin"
  redis-cli -p "$r1" replicaof 127.0.0.1 "$master" >/dev/null
  redis-cli -p "$r2" replicaof 127.0.0.1 "$master" >/dev/null
  until online "$master"; do sleep 0.1; done
  rm -f "$work/stop"
  sample "$master" "$r1" "$r2" >"$work/lag" &
  local sampler=$!
  sleep 0.5
  local rps
  rps=$(redis-benchmark -p "$master" -t set -P 16 -c 50 -n "$REQUESTS" -r 100000 -d 64 --csv 2>/dev/null |
    awk -F'","' 'NR==2 { print $2 }')
  # Let the replicas catch up (and ACK) before the sampler stops.
  sleep 2
  touch "$work/stop"
  wait "$sampler"
  echo "$name rps=$rps $(cat "$work/lag")"
  for port in "$r2" "$r1" "$master"; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
}

for _ in $(seq "$ROUNDS"); do
  run ferrite ${FERRITE:-target/release/ferrite-server}
  run redis /usr/bin/redis-server
done
