#!/bin/sh
# xdp.sh -- XDP benchmarks: the program vs a reflector and a minimal
# responder in the kernel's test runner (fresh frames, every output
# checked, same run), then end to end over veth with kxdpgun against the
# a reflector (its ceiling), the XDP path, the socket path and Knot DNS's
# XDP mode: sweeps and the highest rate with <= 0.1 % loss (e2e.py).
# Last line: "xdp ns=N responder_ratio=R reflector_ratio=F mix_ratio=X mix_fastpath=S".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${CAROUSEL_BUILD:-$here/../../build}
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
export CAROUSELD="${CAROUSELD:-$build/carouseld}"
"$build/tests/xdp_bench" "$build" > /tmp/carousel-xdp-bench.$$
grep -v '^xdp ns=' /tmp/carousel-xdp-bench.$$
echo
BENCH_TARGETS=${BENCH_TARGETS:-reflector,xdp,socket,knot} XDP_PASS_OBJ="$build/xdp_pass.bpf.o" \
	/usr/bin/python3 "$here/e2e.py" || echo "(end-to-end part skipped)"
echo
grep '^xdp ns=' /tmp/carousel-xdp-bench.$$
rm -f /tmp/carousel-xdp-bench.$$
