#!/usr/bin/env bash
# What the web console costs, in one run on one server.
#
# 1. The server (the console must add nothing to the hot path): the same
#    `trove-bench wire` load -- EVENTS events/s over 200k players plus
#    CLAIMS claims/s, open loop -- runs three times against one `trove
#    serve`, phases interleaved for the noise: A without a console; S with
#    only the sampled topics (stats, hunts: the sampler's cost) held by a
#    plain WebSocket client (console_subscriber.mjs, no browser on the
#    cores); A; S; C with every subscription the console holds (plus the
#    dispatch feed, 1,000 pushes/s, and a leaderboard); B with the console
#    open in chromium (admin, one view after another); A. Compare the
#    server's CPU per event across them.
# 2. The browser (a view with 200k players and a feed at 1,000 claims/s
#    stays responsive): api/console/tests/bench.mjs, during phase B, prints
#    per view the switch time, long tasks, frame intervals, DOM size, feed
#    rows in the DOM and retained, and chromium's CPU.
#
#   cargo build --release -p trove-api -p trove-bench
#   (cd api/console/tests && npm ci)       # playwright-core; Debian's chromium
#   bash docs/bench/console.sh
#
# Env: TROVE, B (binaries), DUR (seconds per phase, default 30), SECS
# (seconds per view in the browser, default 6), EVENTS (default 100000),
# CLAIMS (default 1000).
set -euo pipefail
. "$(dirname "$0")/serve.sh"
TROVE=${TROVE:-target/release/trove}
B=${B:-target/release/trove-bench}
DUR=${DUR:-30}
SECS=${SECS:-6}
EVENTS=${EVENTS:-100000}
CLAIMS=${CLAIMS:-1000}
ADMIN=bench-admin-key-0001
GAME=bench-game-key-00001
WORK=$(mktemp -d /tmp/trove-console.XXXX)
OUT=$WORK/wire.jsonl
trap 'kill -TERM $TROVE_PID 2>/dev/null || true; wait 2>/dev/null || true' EXIT

TROVE_KEYS="admin:$ADMIN,game:$GAME" start_trove "$TROVE" "$WORK/data" "$WORK/server.out"
echo "trove serve pid $TROVE_PID at $TROVE_ADDR; results in $WORK"

phase() {
  local name=$1 dur=$2
  "$B" wire --url "ws://$TROVE_ADDR/v1/ws" --key "$GAME" --design-key "$ADMIN" --duration "$dur" \
    --event-rate "$EVENTS" --claim-rate "$CLAIMS" --claim-connections 2 --players 200000 \
    --pace-quantum-us 100 --server-pid "$TROVE_PID" --label "$name" --json-out "$OUT" >"$WORK/$name.txt"
  grep -E "events|claims|cpu" "$WORK/$name.txt" | sed "s/^/   [$name] /" | head -8
}

echo "== warm-up: every player resident (not measured)"
phase warmup 15
# subscribed NAME TOPICS: a phase with console_subscriber.mjs holding TOPICS.
subscribed() {
  phase "$1" "$DUR" &
  local load=$!
  sleep 1
  node --experimental-websocket "$(dirname "$0")/console_subscriber.mjs" "http://$TROVE_ADDR" "$ADMIN" \
    "$((DUR - 2))" "$2" >"$WORK/$1.json" 2>/dev/null
  wait $load
  echo "   [$1] pushes read: $(cat "$WORK/$1.json")"
}

echo "== A: no console / S: the sampled topics only (stats, hunts) / A / S"
phase no-console "$DUR"
subscribed sampled stats,hunts
phase no-console-2 "$DUR"
subscribed sampled-2 stats,hunts
echo "== C: every subscription the console holds (+ the dispatch feed, leaderboard), no browser"
subscribed subscribed stats,hunts,claims,leaderboard
echo "== B: console open in chromium (admin), one view after another"
phase console-open "$DUR" &
LOAD=$!
sleep 2
node api/console/tests/bench.mjs "http://$TROVE_ADDR" "$ADMIN" "$SECS" >"$WORK/browser.json"
wait $LOAD
echo "== A again"
phase no-console-3 "$DUR"
# The sampler's own time (wall clock per sample, stats and hunts topics).
curl -sf "http://$TROVE_ADDR/metrics" | grep '^trove_live_sample_seconds_\(sum\|count\)' | sed 's/^/   /'

python3 - "$OUT" "$WORK/browser.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"scenario":"wire"')]
print("\n== server: CPU per event with and without the console")
fmt = "{:<14} {:>10} {:>9} {:>10} {:>10} {:>9}"
print(fmt.format("phase", "events/s", "claims/s", "ev p99 ms", "srv cpu", "us/event"))
for r in rows:
    if r["label"] == "warmup":
        continue
    e, c, cpu = r["events"], r["claims"], r["cpu"]["server"]
    us = cpu["core_share"] * 1e6 / (e["events_per_s"] + c["ok_per_s"])
    print(fmt.format(r["label"], f"{e['events_per_s']:.0f}", f"{c['ok_per_s']:.0f}",
                     f"{e['latency_us']['p99'] / 1000:.2f}", f"{100 * cpu['core_share']:.0f}%", f"{us:.2f}"))
b = json.load(open(sys.argv[2]))
print("\n== browser (chromium), per view, %d s each" % b["secs"])
fmt = "{:<12} {:>9} {:>6} {:>9} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9} {:>8}"
print(fmt.format("view", "switch ms", "long", "long max", "frame50", "frame99", "framemax", "dom", "feed dom", "retained", "cpu"))
for name, v in b["views"].items():
    print(fmt.format(name, v["switch_ms"], v["long_tasks"], v["long_max_ms"], v["frame_p50_ms"], v["frame_p99_ms"],
                     v["frame_max_ms"], v["dom_nodes"], v["feed_rows_in_dom"], v["feed_retained"] or "-",
                     f"{100 * v['browser_cpu_share']:.0f}%"))
print("problems:", b["problems"] or "none")
PY
