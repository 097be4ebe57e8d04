#!/bin/bash
# The server's allocator, measured through the wire (BENCHMARKS.md, "Wire
# speed (issue 11)"): the same `trove serve` built with mimalloc (default
# features) and with glibc malloc (`--no-default-features`), alternated, each
# on a fresh data folder, driven by `trove-sim load` on the same two cores.
# Prints the server's CPU per accepted event (utime+stime from /proc over the
# run, startup excluded) and its peak RSS.
#
#   cargo build --release -p trove-api && cp target/release/trove /tmp/trove-mimalloc
#   cargo build --release -p trove-api --no-default-features && cp target/release/trove /tmp/trove-glibc
#   cargo build --release -p trove-sim
#   bash docs/bench/alloc.sh [PLAYERS] [SECS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
PLAYERS=${1:-80000}
SECS=${2:-30}
RUNS=${3:-2}
SIM=${SIM:-target/release/trove-sim}
KEY=alloc-admin-key-01
WORK=$(mktemp -d)
trap 'pkill -f "trove-.* serve --data $WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
sed "s/^players = .*/players = $PLAYERS/" docs/examples/load-smoke.toml >"$WORK/load.toml"
ticks=$(getconf CLK_TCK)
echo "date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) players $PLAYERS secs $SECS"
for run in $(seq 1 "$RUNS"); do
  for build in mimalloc glibc; do
    data="$WORK/data-$build-$run"
    off=0; [ "$build" = glibc ] && off=1
    port=$((18900 + run * 2 + off))
    TROVE_KEYS="admin:$KEY" "/tmp/trove-$build" serve --data "$data" --listen "127.0.0.1:$port" --log-level warn >"$WORK/out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
    "$SIM" load --quiet --url "ws://127.0.0.1:$port/v1/ws" --key $KEY --batch 2000 --duration "$SECS" \
      --out "$WORK/rep-$build-$run" "$WORK/load.toml" >/dev/null 2>&1 || true
    cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
    rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
    kill -INT $pid; wait $pid 2>/dev/null || true
    python3 - "$WORK/rep-$build-$run/report.json" "$build" "$cpu0" "$cpu1" "$ticks" "$rss" "$SECS" <<'PY'
import json, sys
path, build, c0, c1, ticks, rss, secs = sys.argv[1:]
r = json.load(open(path))
def find(d, key):
    if isinstance(d, dict):
        if key in d:
            return d[key]
        d = list(d.values())
    if isinstance(d, list):
        for v in d:
            got = find(v, key)
            if got is not None:
                return got
    return None
acc = find(r, "events_accepted")
cpu = (float(c1) - float(c0)) / float(ticks)
print(f"{build:9s} events accepted {acc}  server CPU {cpu:.2f} s  = {cpu / max(acc or 1, 1) * 1e6:.2f} us/event  ({cpu / float(secs):.2f} cores)  peak RSS {int(rss) // 1024} MB")
PY
  done
done
