#!/usr/bin/env bash
# The console's browser tests (api/console/tests/): Playwright
# (`playwright-core` from npm, pinned in package-lock.json) drives Debian's
# chromium (Playwright's own browser download does not work here) against
# real `trove serve` processes on free ports, started by the tests.
#
# Usage: .ci/console.sh     (as root in CI; installs chromium if missing)
# Env:   TROVE_CONSOLE_SCREENSHOTS=DIR  also save a screenshot of each view
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
chromium --version

TARGET="${CARGO_TARGET_DIR:-target}"
cargo build -q -p trove-api --bin trove
export TROVE_BIN="$PWD/$TARGET/debug/trove"
export CHROMIUM="$(command -v chromium)"

cd api/console/tests
npm ci --no-audit --no-fund --silent
npm test --silent
