#!/bin/sh
# recursor.sh -- benchmark: carouseld's recursion vs Unbound over a local
# hierarchy (warm-cache qps, cold latency). Last line:
# "recursor ratio=R cold=C" (qps ratio, cold-latency ratio).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/recursor_bench.py"
