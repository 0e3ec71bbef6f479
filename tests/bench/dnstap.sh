#!/bin/sh
# dnstap.sh -- benchmark: carouseld qps with dnstap off, logging every
# exchange to fstrm_capture, and sampling 1/100 (BENCH_SECONDS per run,
# default 10; BENCH_ROUNDS, default 2). Last line: "dnstap ratio=R".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/dnstap_bench.py"
