#!/usr/bin/env bash
# Fuzzes `trove serve` against the OpenAPI document it serves
# (GET /v1/openapi.json, generated from trove-protocol's types) with
# schemathesis: no 5xx, answers that match their documented schemas and
# status codes, documented methods only (405 with Allow otherwise), auth
# enforced. Builds the binary, starts it on a free port with a temporary data
# folder and known keys, defines a hunt so paths have data, runs, stops.
#
# Usage: .ci/schemathesis.sh            (MAX_EXAMPLES=25 by default)
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
VENV="${SCHEMATHESIS_VENV:-${TMPDIR:-/tmp}/trove-schemathesis-venv}"
TARGET="${CARGO_TARGET_DIR:-target}"
ADMIN=st-admin-key-0001
KEYS="admin:$ADMIN,game:st-game-key-0001,designer:st-designer-key-01,auditor:st-auditor-key-01"

if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "schemathesis==4.32.5"
fi
"$VENV/bin/schemathesis" --version

cargo build -q -p trove-api --bin trove

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

: >"$WORK/stdout"
TROVE_KEYS="$KEYS" "$TARGET/debug/trove" serve --data "$WORK/data" --listen 127.0.0.1:0 --log-level warn \
    >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!

ADDR=""
for _ in $(seq 1 600); do
    ADDR="$(sed -n 's|^trove listening on http://||p' "$WORK/stdout" | head -n1)"
    [ -n "$ADDR" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr"; echo "trove serve exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$ADDR" ] || { echo "trove serve did not say where it listens" >&2; exit 1; }
BASE="http://$ADDR"

# Wait until ready, then give the fuzzer a hunt, events and claims to find.
python3 - "$BASE" "$ADMIN" <<'PY'
import json, sys, time, urllib.request, urllib.error
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
for _ in range(600):
    if call("GET", "/readyz") == 200:
        break
    time.sleep(0.1)
else:
    sys.exit("trove serve did not become ready")
with open("docs/examples/hunt.json") as f:
    hunt = json.load(f)
assert call("POST", "/v1/hunts", hunt) in (200, 201)
h = hunt["id"]
clue = hunt["clues"][0]["id"]
sku = hunt["products"][0]["sku"]
assert call("POST", "/v1/events", {"events": [{"player": "p1", "hunt": h, "type": "clue_found", "clue": clue}]}) == 200
assert call("POST", "/v1/claims", {"claim_id": "c1", "player": "p1", "hunt": h, "sku": sku, "customs": {"a": 1}}) == 200
print("hunt", h, "defined at", base)
PY

# Checks: all, except
# - positive_data_acceptance: a schema-valid request can still be refused by
#   a rule no schema can state (the hunt must exist, the clue must belong to
#   it, `opens_at` < `closes_at`, stock only for a known sku); those answers
#   (400 invalid_event/invalid_hunt, 404 unknown_hunt, 409 hunt_conflict) are
#   documented and checked by status_code_conformance instead.
# - object_level_authorization: Trove has roles, not per-object ownership.
# Run from the temporary folder: schemathesis keeps a cache in its working directory.
status=0
(cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE/v1/openapi.json" \
    --header "Authorization: Bearer $ADMIN" \
    --checks all \
    --exclude-checks positive_data_acceptance,object_level_authorization \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 30 \
    --suppress-health-check all \
    --no-color) || status=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "trove serve died during the run" >&2
    tail -n 50 "$WORK/stderr" >&2
    exit 1
fi
exit "$status"
