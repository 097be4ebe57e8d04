#!/bin/bash
# Two builds of the engine benchmark, alternated in one run (BENCHMARKS.md,
# "Restructure (issue 10)"). OLD defaults to the persistence example of
# 67a23bb, built once from a worktree into this checkout's target folder:
#   git worktree add --detach /tmp/trove-old 67a23bb
#   (cd /tmp/trove-old && CARGO_TARGET_DIR=$PWD/../<this checkout>/target \
#        cargo build --release -p trove-persistence --example trove-bench)
#   cargo build --release -p trove-bench
set -u
cd "$(dirname "$0")/../.."
OLD=${OLD:-target/release/examples/trove-bench}
NEW=${NEW:-target/release/trove-bench}
echo "date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)"
for i in 1 2 3; do
  for b in NEW OLD; do
    bin=${!b}
    echo "=== events $b run $i"; $bin events --duration 15 2>&1 | grep -iE "events/s|accepted|ingest|p99|cpu" | head -8
  done
done
for i in 1 2; do
  for b in OLD NEW; do
    bin=${!b}
    echo "=== claims $b run $i"; $bin claims --duration 15 2>&1 | grep -iE "claims/s|p99|p50|granted" | head -10
  done
done
rm -rf /tmp/trove-r20m
echo "=== build 20M"; $NEW recovery --events 20000000 --keep --data /tmp/trove-r20m 2>&1 | tail -12
for i in 1 2 3; do
  for b in OLD NEW; do
    bin=${!b}
    echo "=== replay $b run $i"; $bin recovery --reuse /tmp/trove-r20m 2>&1 | grep -E "reopen|full replay|records/s|read \+ check" | head -6
  done
done
