#!/bin/sh
# backends.sh -- benchmark: cache hits of a backend group against dnsdist's
# packet cache, in front of the same Knot servers. Last line:
# "backends ratio=R" (answers per CPU-second, carouseld / dnsdist).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/backends_bench.py"
