#!/bin/sh
# socket.sh -- benchmark: carouseld vs Knot DNS under dnsperf, same answers,
# same run (BENCH_SECONDS per run, default 10; BENCH_ROUNDS, default 2).
# Last line: "socket ratio=R" (carouseld qps / knotd qps).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/socket_bench.py"
