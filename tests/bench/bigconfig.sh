#!/bin/sh
# bigconfig.sh -- load/reload time and memory of a 100 000-name config.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/bigconfig.py"
