#!/usr/bin/env bash
# Trove over the wire, next to Redis, on the same machine in the same run.
#
# For each durability mode of `trove serve` (the default, flush; then strict,
# fdatasync) it starts a server on a fresh temporary data folder and a free
# port, and runs four `trove-bench wire` phases against it, each measuring
# the server's CPU (--server-pid):
#
#   1. claims-open:   claims alone, open loop, 20k/s on 8 connections
#   2. claims-closed: claims closed loop, 64 connections x 1 in flight
#                     (the shape of redis-benchmark -c 64 below)
#   3. mixed:         300k events/s + 20k claims/s, open loop
#   4. events:        events alone, offered 600k/s
#
# Then the Redis peer (as in compare.sh: appendonly yes, appendfsync always,
# one Lua script per claim = SET NX of the claim id + conditional DECR of the
# stock), with redis-benchmark -c 64, and the ratio Trove/Redis of claims/s
# (closed loop, 64 connections). It builds nothing:
#
#   cargo build --release -p trove-api -p trove-bench
#   sudo apt-get install -y redis-server          # redis-server, redis-benchmark
#   bash docs/bench/wire.sh                       # DUR=15 s per phase
#
# Env: TROVE (default target/release/trove), B (target/release/trove-bench),
# DUR (seconds per phase, default 15), PROTOCOL (json or msgpack, default
# json), OUT (the JSON lines; default a file in the run's temp folder),
# REDIS_N (claims redis-benchmark sends, default DUR * 50000),
# PACE_QUANTUM_US (default 100: the open-loop pacers wake at most every
# 100 us instead of at every request's time; at 20k claims/s exact pacing
# costs the generator about a third of a core in wake-ups on a 2-core
# machine shared with the server, for at most 100 us of send lag, which the
# latencies include; 0 = exact).
set -euo pipefail
. "$(dirname "$0")/serve.sh"
TROVE=${TROVE:-target/release/trove}
B=${B:-target/release/trove-bench}
DUR=${DUR:-15}
PROTOCOL=${PROTOCOL:-json}
PACE_QUANTUM_US=${PACE_QUANTUM_US:-100}
ADMIN=bench-admin-key-0001
GAME=bench-game-key-00001
REDIS_PORT=16379
WORK=$(mktemp -d /tmp/trove-wire.XXXX)
OUT=${OUT:-$WORK/wire.jsonl}
# Claims redis-benchmark sends: about DUR seconds at 50k claims/s.
REDIS_N=${REDIS_N:-$((DUR * 50000))}
SERVER_PID=
ADDR=

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap 'stop_server; redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true' EXIT

# CPU seconds (utime + stime) of a process.
cpu_secs() {
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

# start_server MODE: a fresh `trove serve` on a free port; sets SERVER_PID, ADDR.
start_server() {
  local mode=$1 args=()
  [ "$mode" = default ] || args=(--durability "$mode")
  TROVE_KEYS="admin:$ADMIN,game:$GAME" start_trove "$TROVE" "$WORK/data-$mode" "$WORK/server-$mode.out" "${args[@]}"
  SERVER_PID=$TROVE_PID
  ADDR=$TROVE_ADDR
}

# phase MODE NAME ARGS...: one `trove-bench wire` run, its human report
# indented, its JSON line appended to $OUT.
phase() {
  local mode=$1 name=$2
  shift 2
  echo "-- $mode: $name"
  "$B" wire --url "ws://$ADDR/v1/ws" --key "$GAME" --design-key "$ADMIN" --protocol "$PROTOCOL" \
    --pace-quantum-us "$PACE_QUANTUM_US" --duration "$DUR" --server-pid "$SERVER_PID" --label "$mode $name" --json-out "$OUT" "$@" |
    grep -v -e '^{"scenario":' -e '^machine:' -e '^$' | sed 's/^/   /'
}

echo "trove over the wire: $DUR s per phase, protocol $PROTOCOL, pace quantum $PACE_QUANTUM_US us, results in $OUT"
for mode in default strict; do
  echo "== trove serve, durability $mode"
  start_server "$mode"
  phase "$mode" claims-open --claim-rate 20000 --claim-connections 8
  phase "$mode" claims-closed --claim-mode closed --claim-connections 64 --in-flight 1
  phase "$mode" mixed --claim-rate 20000 --claim-connections 8 --event-rate 300000 --event-connections 4
  phase "$mode" events --claim-rate 0 --event-rate 600000 --event-connections 4
  stop_server
done

echo "== Redis $(redis-server --version | awk '{print $3}') (appendonly yes, appendfsync always), redis-benchmark -c 64"
redis-server --port $REDIS_PORT --dir "$WORK" --appendonly yes --appendfsync always --save '' \
  --daemonize yes --logfile "$WORK/redis.log" --pidfile "$WORK/redis.pid"
for _ in $(seq 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $REDIS_PORT set stock:mug 100000000 >/dev/null
REDIS_PID=$(cat "$WORK/redis.pid")
SCRIPT='if redis.call("SET", KEYS[1], ARGV[1], "NX") then if tonumber(redis.call("GET", KEYS[2])) > 0 then redis.call("DECR", KEYS[2]) return 1 end end return 0'
CPU0=$(cpu_secs "$REDIS_PID")
T0=$(date +%s.%N)
# --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
redis-benchmark -p $REDIS_PORT -c 64 -r 2000000000 -n "$REDIS_N" --csv \
  EVAL "$SCRIPT" 2 claim:__rand_int__ stock:mug '{"country":"NL"}' | tail -1 | tr -d '"' >"$WORK/redis.csv"
T1=$(date +%s.%N)
CPU1=$(cpu_secs "$REDIS_PID")
redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true
echo "   $(cat "$WORK/redis.csv")"

python3 - "$OUT" "$WORK/redis.csv" "$CPU0" "$CPU1" "$T0" "$T1" "$REDIS_N" <<'PY'
import json, sys
out, redis_csv, cpu0, cpu1, t0, t1, n = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
rows = [json.loads(l) for l in open(out) if l.startswith('{"scenario":"wire"')]
ms = lambda us: f"{us / 1000:.2f}"
print("\n== summary (latency in ms, from the intended send time for open loop)")
fmt = "{:<22} {:>9} {:>7} {:>7} {:>7} {:>10} {:>8} {:>7} {:>8} {:>9} {:>5}"
print(fmt.format("run", "claims/s", "p50", "p99", "p99.9", "events/s", "ev p99", "errors", "srv cpu", "us/op", "res"))
closed = {}
for r in rows:
    c, e, cpu = r.get("claims"), r.get("events"), (r.get("cpu") or {}).get("server") or {}
    per = cpu.get("us_per_claim") or cpu.get("us_per_event")
    errors = sum(x.get("errors_total", 0) + x.get("lost", 0) + x.get("shed", 0) for x in (c, e) if x)
    print(fmt.format(r["label"], f"{c['ok_per_s']:.0f}" if c else "-",
                     ms(c["latency_us"]["p50"]) if c else "-", ms(c["latency_us"]["p99"]) if c else "-",
                     ms(c["latency_us"]["p999"]) if c else "-", f"{e['events_per_s']:.0f}" if e else "-",
                     ms(e["latency_us"]["p99"]) if e else "-", errors,
                     f"{100 * cpu['core_share']:.0f}%" if cpu else "-", f"{per:.2f}" if per else "-", r["result"]))
    if r["phase"] == "claims-closed":
        closed[r["label"].split()[0]] = c["ok_per_s"]
# The test's name (the EVAL line) has commas: read the numbers from the end.
f = open(redis_csv).read().strip().split(",")
rps, p50, p99 = float(f[-7]), float(f[-4]), float(f[-2])
redis_cpu = cpu1 - cpu0
print(fmt.format("redis always -c 64", f"{rps:.0f}", f"{p50:.2f}", f"{p99:.2f}", "-", "-", "-", "-",
                 f"{100 * redis_cpu / (t1 - t0):.0f}%", f"{redis_cpu * 1e6 / n:.2f}", "-"))
for mode, rate in closed.items():
    print(f"Trove ({mode}) / Redis claims/s, 64 connections x 1 in flight: {rate / rps:.2f}")
PY
