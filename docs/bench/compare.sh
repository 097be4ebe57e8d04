#!/usr/bin/env bash
# Side-by-side: what a team would pick instead of Trove for the same two jobs,
# on the same machine, in the same run, with the same durability promise
# (acknowledged = on disk): PostgreSQL with synchronous_commit=on and Redis
# with appendfsync=always, both from Debian's packages.
#
#   sudo apt-get install -y postgresql redis-server
#   cargo build --release -p trove-api -p trove-bench
#   bash docs/bench/compare.sh            # prints one block per system (Trove over the wire last)
#
# Jobs:
#   events: batches of 1000 telemetry events, 8 concurrent clients, 20 s.
#   claims: one claim per transaction (dedup on (player, claim_id) plus a
#           conditional stock decrement), 64 concurrent clients, 20 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/docs/bench/serve.sh"
DUR=${DUR:-20}
PGVER=$(ls /usr/lib/postgresql | sort -n | tail -1)
PGBIN=/usr/lib/postgresql/$PGVER/bin
WORK=$(mktemp -d /tmp/trove-compare.XXXX)
chown postgres "$WORK"
trap 'su postgres -c "$PGBIN/pg_ctl -D $WORK/pg stop -m fast" >/dev/null 2>&1 || true; redis-cli -p 16379 shutdown nosave >/dev/null 2>&1 || true' EXIT

echo "== PostgreSQL $PGVER (synchronous_commit=on, fsync=on)"
su postgres -c "$PGBIN/initdb -D $WORK/pg -A trust" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $WORK/pg -o '-p 15432 -c shared_buffers=1GB -c max_connections=200 -c synchronous_commit=on' -l $WORK/pg.log start" >/dev/null
sleep 2
PSQL="psql -h localhost -p 15432 -U postgres -q"
$PSQL -c "CREATE TABLE stock(sku text PRIMARY KEY, remaining bigint NOT NULL);
          CREATE TABLE claims(player text, claim_id text, sku text, customs jsonb, PRIMARY KEY (player, claim_id));
          CREATE TABLE events(seq bigserial PRIMARY KEY, player text, hunt text, type text, detail text, at timestamptz DEFAULT now());
          INSERT INTO stock VALUES ('mug', 100000000);"
cat > $WORK/events.sql <<'SQL'
INSERT INTO events(player, hunt, type, detail)
SELECT 'p' || (random() * 200000)::int, 'h1', 'checkin', 'gate-' || g FROM generate_series(1, 1000) g;
SQL
cat > $WORK/claims.sql <<'SQL'
\set p random(1, 200000)
\set n random(1, 2000000000)
BEGIN;
INSERT INTO claims VALUES ('p' || :p, 'c' || :n, 'mug', '{"country":"NL"}') ON CONFLICT DO NOTHING;
UPDATE stock SET remaining = remaining - 1 WHERE sku = 'mug' AND remaining > 0;
COMMIT;
SQL
cd $WORK
pgbench -h localhost -p 15432 -U postgres -n -c 8 -j 2 -T $DUR -f events.sql postgres 2>/dev/null | grep -E "^tps|latency average" | sed 's/^/  events (x1000 per transaction): /'
pgbench -h localhost -p 15432 -U postgres -n -c 64 -j 2 -T $DUR -f claims.sql -l --log-prefix=claims postgres 2>/dev/null | grep -E "^tps|latency average" | sed 's/^/  claims: /'
cat claims.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "  claims latency: p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, a[int(NR*0.999)]/1000}'

echo "== Redis $(redis-server --version | awk '{print $3}') (appendonly yes, appendfsync always)"
redis-server --port 16379 --dir $WORK --appendonly yes --appendfsync always --save '' --daemonize yes --logfile $WORK/redis.log
sleep 1
redis-cli -p 16379 set stock:mug 100000000 >/dev/null
redis-benchmark -p 16379 -q -c 8 -P 1000 -r 200000 -n $((DUR * 200000)) \
  XADD events '*' player p__rand_int__ hunt h1 type checkin detail gate | tr '\r' '\n' | grep -v '^$' | sed 's/^/  events (XADD, pipelined 1000): /' | tail -1
SCRIPT='if redis.call("SET", KEYS[1], ARGV[1], "NX") then if tonumber(redis.call("GET", KEYS[2])) > 0 then redis.call("DECR", KEYS[2]) return 1 end end return 0'
redis-benchmark -p 16379 -q -c 64 -r 2000000000 -n $((DUR * 20000)) \
  EVAL "$SCRIPT" 2 claim:__rand_int__ stock:mug '{"country":"NL"}' | tr '\r' '\n' | grep -v '^$' | sed 's/^/  claims (Lua SETNX + DECR): /' | tail -1
redis-benchmark -p 16379 -c 64 -r 2000000000 -n 200000 --precision 2 \
  EVAL "$SCRIPT" 2 claim:__rand_int__ stock:mug '{"country":"NL"}' 2>/dev/null | grep -E "^ +[0-9.]+% <=|latency summary" -A2 | grep -E "p50|avg" -A1 | tail -2 | sed 's/^/  claims latency summary: /'

# Trove over the wire: `trove serve` (default durability: decisions synced
# before the answer) on a fresh folder, driven through its WebSocket by
# `trove-bench wire` with the same shapes: events in batches of 1000 on 8
# connections (open loop, offered EVENT_RATE/s, default 600k), then claims
# closed loop on 64 connections with one in flight each (redis-benchmark -c
# 64, pgbench -c 64). Needs `cargo build --release -p trove-api -p trove-bench`.
TROVE=${TROVE:-$ROOT/target/release/trove}
B=${B:-$ROOT/target/release/trove-bench}
if [ -x "$TROVE" ] && [ -x "$B" ]; then
  echo "== Trove over the wire ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), trove serve, default durability)"
  TKEY=compare-admin-key-01
  TROVE_KEYS="admin:$TKEY" start_trove "$TROVE" "$WORK/trove" "$WORK/trove.out"
  TPID=$TROVE_PID TADDR=$TROVE_ADDR
  trap 'kill $TPID 2>/dev/null || true; su postgres -c "$PGBIN/pg_ctl -D $WORK/pg stop -m fast" >/dev/null 2>&1 || true; redis-cli -p 16379 shutdown nosave >/dev/null 2>&1 || true' EXIT
  "$B" wire --url "ws://$TADDR/v1/ws" --key $TKEY --duration "$DUR" --server-pid $TPID \
    --claim-rate 0 --event-rate "${EVENT_RATE:-600000}" --event-connections 8 --batch 1000 |
    grep -E "events: |latency from intended|server CPU" | sed 's/^ */  events (ws, batches of 1000, 8 connections): /'
  "$B" wire --url "ws://$TADDR/v1/ws" --key $TKEY --duration "$DUR" --server-pid $TPID \
    --claim-mode closed --claim-connections 64 --in-flight 1 |
    grep -E "claims: |latency \(closed|server CPU" | sed 's/^ */  claims (ws, 64 connections x 1 in flight): /'
  kill -INT $TPID; wait $TPID 2>/dev/null || true
else
  echo "== Trove over the wire: skipped ($TROVE or $B missing; cargo build --release -p trove-api -p trove-bench)"
fi
