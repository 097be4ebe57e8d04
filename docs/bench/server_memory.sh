#!/bin/bash
# Memory per resident player in `trove serve` (BENCHMARKS.md, "Wire speed
# (issue 11)", target <= 2 KB per player). For each build (glibc malloc,
# `--no-default-features`, and mimalloc, the default), alternated RUNS times, on a fresh data
# folder: start the server, read its RSS, then drive PLAYERS distinct
# players through the WebSocket with `trove-bench wire` (events only, RATE
# events/s for SECS s over random players of p0..p<PLAYERS-1>, so every
# player gets ~RATE*SECS/PLAYERS events), wait 2 s, read RSS and the
# server's own `trove_players_resident` from /metrics. Per player =
# (RSS after - RSS before) / players resident: everything the players cost
# the process (engine state and actors, the leaderboard projection, the
# allocator's overhead and fragmentation), not the engine alone.
#
#   cargo build --release -p trove-api -p trove-bench && cp target/release/trove /tmp/trove-mimalloc
#   cargo build --release -p trove-api --no-default-features && cp target/release/trove /tmp/trove-glibc
#   bash docs/bench/server_memory.sh [PLAYERS] [RATE] [SECS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. docs/bench/serve.sh
PLAYERS=${1:-200000}
RATE=${2:-200000}
SECS=${3:-10}
RUNS=${4:-1}
B=${B:-target/release/trove-bench}
ADMIN=mem-admin-key-000001
WORK=$(mktemp -d /tmp/trove-mem.XXXX)
trap 'pkill -f "trove-.* serve --data $WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
echo "date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) players $PLAYERS rate $RATE secs $SECS"
printf "%-9s %12s %12s %10s %12s %12s %14s\n" build "rss before" "rss after" "peak" resident "bytes/player" "events"
for run in $(seq 1 "$RUNS"); do
  for build in glibc mimalloc; do
    data="$WORK/data-$build-$run"
    TROVE_KEYS="admin:$ADMIN" start_trove "/tmp/trove-$build" "$data" "$WORK/out-$build-$run"
    pid=$TROVE_PID addr=$TROVE_ADDR
    before=$(rss_kb $pid)
    "$B" wire --url "ws://$addr/v1/ws" --key $ADMIN --claim-rate 0 --event-rate "$RATE" \
      --players "$PLAYERS" --duration "$SECS" --event-connections 4 >"$WORK/wire-$build-$run" 2>&1 || true
    sleep 2
    after=$(rss_kb $pid)
    peak=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
    resident=$(curl -sf "http://$addr/metrics" | awk '/^trove_players_resident /{print $2}')
    events=$(grep -o 'events [0-9]* ([0-9]*/s)' "$WORK/wire-$build-$run" | head -1)
    kill -INT $pid; wait $pid 2>/dev/null || true
    per=$(python3 -c "print(round(($after - $before) * 1024 / max(1, float('$resident'))))")
    printf "%-9s %9s KB %9s KB %7s KB %12s %12s %14s\n" "$build" "$before" "$after" "$peak" "$resident" "$per" "$events"
  done
done
