#!/usr/bin/env bash
# The TypeScript SDK (@trove/client, api/clients/typescript/): builds it and
# runs its tests against the real trove binary (target/debug/trove, built
# by `cargo test` before this; built here only if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TROVE_BIN:-}" ] && [ ! -x target/debug/trove ]; then
    cargo build -q -p trove-api --bin trove
fi
export TROVE_BIN="${TROVE_BIN:-$PWD/target/debug/trove}"

cd api/clients/typescript
npm ci --no-audit --no-fund
npm run build
npm test
