#!/bin/sh
# health.sh -- benchmark: answers while pool members flap (about a thousand
# view swaps a second) vs the same pool with steady members, same run
# (BENCH_SECONDS per run, default 10; BENCH_ROUNDS, default 2).
# Last line: "health ratio=R" (flapping qps / steady qps).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/health_bench.py"
