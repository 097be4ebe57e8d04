#!/usr/bin/env bash
# The TypeScript SDK (@trove/client, api/clients/typescript/): builds it and
# runs its tests against the real trove binary (target/debug/trove, built
# by `cargo test` before this; built here only if missing). The browser
# test (tests/browser.test.mjs) drives Debian's chromium with playwright-core;
# chromium is installed here if missing (as root in CI, like .ci/console.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

if [ -z "${TROVE_BIN:-}" ] && [ ! -x target/debug/trove ]; then
    cargo build -q -p trove-api --bin trove
fi
export TROVE_BIN="${TROVE_BIN:-$PWD/target/debug/trove}"

cd api/clients/typescript
npm ci --no-audit --no-fund
npm run build
npm test
