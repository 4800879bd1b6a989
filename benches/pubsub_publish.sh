#!/usr/bin/env bash
# PUBLISH to 100 subscribers: Ferrite vs Redis 7.0 on the same machine, same run.
#
# Starts target/release/ferrite-server and /usr/bin/redis-server on free loopback
# ports, attaches 100 subscribers (one Python process draining 100 sockets, so the
# subscribers keep up and neither server hits its pubsub output buffer limit) to
# each, then alternates redis-benchmark runs of `PUBLISH chan <16 bytes>` between
# the two servers. Prints requests/s per run and the Ferrite/Redis ratio.
# Usage: benches/pubsub_publish.sh [rounds] [requests] [pipeline]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
REQUESTS=${2:-200000}
PIPELINE=${3:-1}
SUBSCRIBERS=100
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name command...
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

subscribe() { # port
  python3 - "$1" "$SUBSCRIBERS" <<'PY' &
import selectors, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"SUBSCRIBE chan\r\n")
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if not key.fileobj.recv(1 << 18):
            sel.unregister(key.fileobj)
PY
  pids+=($!)
}

wait_ready() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

FP=$(free_port); RP=$(free_port)
start ferrite target/release/ferrite-server --port "$FP" --bind 127.0.0.1 --save "" --dir "$work"
start redis /usr/bin/redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$work"
wait_ready "$FP"; wait_ready "$RP"
subscribe "$FP"; subscribe "$RP"
for port in "$FP" "$RP"; do
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" pubsub numsub chan | tail -1)" = "$SUBSCRIBERS" ] && break; sleep 0.1
  done
done

rps() { # port
  redis-benchmark -p "$1" -n "$REQUESTS" -c 50 -P "$PIPELINE" -q --csv PUBLISH chan 0123456789abcdef \
    | awk -F'"' 'NR==2 {print $4}'
}
sumf=0; sumr=0
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then f=$(rps "$FP"); r=$(rps "$RP"); else r=$(rps "$RP"); f=$(rps "$FP"); fi
  echo "round $round: ferrite $f rps, redis $r rps, ratio $(awk -v f="$f" -v r="$r" 'BEGIN{printf "%.2f", f/r}')"
  sumf=$(awk -v a="$sumf" -v b="$f" 'BEGIN{print a+b}'); sumr=$(awk -v a="$sumr" -v b="$r" 'BEGIN{print a+b}')
done
echo "subscribers still connected: ferrite $(redis-cli -p "$FP" pubsub numsub chan | tail -1), redis $(redis-cli -p "$RP" pubsub numsub chan | tail -1)"
echo "mean ratio ferrite/redis: $(awk -v f="$sumf" -v r="$sumr" 'BEGIN{printf "%.2f", f/r}')"
