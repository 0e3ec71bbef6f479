#!/bin/sh
# socket.sh -- benchmark: carouseld vs Knot DNS under dnsperf, same answers,
# same run (BENCH_SECONDS per run, default 10; BENCH_ROUNDS, default 2).
# Each round also measures dnsperf's own ceiling against build/tests/udp_reflect.
# Last line: "socket ratio=R ceiling_ratio=C" (carouseld qps / knotd qps, / ceiling).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/socket_bench.py"
