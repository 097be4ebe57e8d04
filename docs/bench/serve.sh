# Sourced by the benchmark scripts (wire.sh, compare.sh, server_memory.sh):
# starting a `trove serve` to measure, one way.
#
#   start_trove BIN DATA OUT [serve args...]
#
# Starts BIN serve on a fresh folder DATA and a free port, with TROVE_KEYS
# from the caller's environment, warnings-only logs and no timed snapshots
# (snapshots by volume stay on, as in production); its stdout goes to OUT,
# its stderr to OUT.log. Waits until /readyz answers, then sets TROVE_PID and
# TROVE_ADDR (host:port). Exits the script if the server does not come up.
start_trove() {
  local bin=$1 data=$2 out=$3
  shift 3
  TROVE_LOG=warn TROVE_SNAPSHOT_INTERVAL_SECS=0 \
    "$bin" serve --data "$data" --listen 127.0.0.1:0 "$@" >"$out" 2>>"$out.log" &
  TROVE_PID=$!
  TROVE_ADDR=
  for _ in $(seq 600); do
    TROVE_ADDR=$(sed -n 's|^trove listening on http://\([^ ]*\).*|\1|p' "$out" | head -1)
    [ -n "$TROVE_ADDR" ] && curl -sf "http://$TROVE_ADDR/readyz" >/dev/null && return 0
    kill -0 "$TROVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "trove serve ($bin on $data) did not start; see $out.log" >&2
  exit 1
}
