#!/bin/sh
# xdp.sh -- XDP benchmarks: the program vs a trivial XDP_TX reflector in the
# kernel's test runner (same frames, same run), then end to end over veth
# with kxdpgun against the XDP path, the socket path and Knot DNS's XDP
# mode. Last line: "xdp ratio=R mpps=M".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${CAROUSEL_BUILD:-$here/../../build}
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
export CAROUSELD="${CAROUSELD:-$build/carouseld}"
ns=carxb$$
ip netns add $ns
trap 'ip netns del $ns 2>/dev/null || true' EXIT
ip -n $ns link add xb0 type veth peer name xb1
ip -n $ns link set xb0 up
ip -n $ns link set xb1 up
ip netns exec $ns "$build/tests/xdp_bench" "$build/xdp_reflect.bpf.o" xb0 > /tmp/carousel-xdp-bench.$$
grep -v '^xdp ratio' /tmp/carousel-xdp-bench.$$
echo
BENCH_TARGETS=${BENCH_TARGETS:-xdp,socket,knot} XDP_PASS_OBJ="$build/xdp_pass.bpf.o" \
	/usr/bin/python3 "$here/e2e.py" || echo "(end-to-end part skipped)"
echo
grep '^xdp ratio' /tmp/carousel-xdp-bench.$$
rm -f /tmp/carousel-xdp-bench.$$
