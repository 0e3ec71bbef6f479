#!/bin/sh
# bigconfig.sh -- load/reload time and memory of 10 k, 100 k and 1 M-name
# configs, and answers during reloads under load (bigconfig.py --help).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
exec /usr/bin/python3 "$here/bigconfig.py" "$@"
