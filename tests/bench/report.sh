#!/bin/sh
# report.sh -- run every benchmark this machine can run, one CSV per
# benchmark and the machine in docs/report/, and regenerate the report
# blocks of docs/benchmarks.md and README.md (tests/bench/report.py).
#   tests/bench/report.sh           full run (about an hour on 2 cores)
#   tests/bench/report.sh --quick   short trials: checks the kit in minutes
#   tests/bench/report.sh --only socket,xdp   some of them
#   tests/bench/report.sh --no-run  the docs again from the CSVs
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/report.py" "$@"
