#!/bin/sh
# dpdk.sh -- DPDK fast-path benchmarks: the in-process net_ring benchmark
# against a reflector and a minimal responder (same run), end to end from
# a stock generator (dpdk-testpmd over memif), then over a veth wire with
# kxdpgun against a reflector (its ceiling), the DPDK path (af_packet,
# af_xdp), the socket path and Knot DNS's XDP mode: sweeps and the highest
# rate with <= 0.1 % loss (e2e.py).
# Last line: "dpdk mqps=M responder_ratio=R reflector_ratio=F p99_us=P mix_ratio=X
# mix_fastpath=S" (the resolver-like mix: its Mqps over plain queries', and the
# share of its queries for held names answered on the fast path).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${CAROUSEL_BUILD:-$here/../../build}
export CAROUSEL_SOURCE="${CAROUSEL_SOURCE:-$here/../..}"
export CAROUSELD="${CAROUSELD:-$build/carouseld}"
"$build/tests/dp_bench" "${BENCH_SECONDS:-3}" > /tmp/carousel-dp-bench.$$ 2>/dev/null
grep -v '^dpdk mqps' /tmp/carousel-dp-bench.$$
echo
/usr/bin/python3 "$here/memif.py" > /tmp/carousel-memif-bench.$$ 2>&1 ||
	echo "(memif part skipped)"
cat /tmp/carousel-memif-bench.$$
rm -f /tmp/carousel-memif-bench.$$
echo
BENCH_TARGETS=${BENCH_TARGETS:-reflector,dpdk,dpdk-afxdp,socket,knot} XDP_PASS_OBJ="$build/xdp_pass.bpf.o" \
	/usr/bin/python3 "$here/e2e.py" || echo "(end-to-end part skipped)"
echo
grep '^dpdk mqps' /tmp/carousel-dp-bench.$$
rm -f /tmp/carousel-dp-bench.$$
