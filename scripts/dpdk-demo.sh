#!/bin/sh
# dpdk-demo.sh -- run carouseld with the DPDK fast path on the bundled
# configs/carousel-dpdk.yaml: a veth pair car-dp0 (dataplane, namespace
# carousel-app) <-> car-cli0 (198.51.100.2, namespace carousel-cli).
# Needs root and 2 cores. Ctrl-C stops carouseld and removes the namespaces.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "dpdk-demo: run as root" >&2; exit 1; }
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
app=carousel-app cli=carousel-cli
cleanup() { ip netns del $app 2>/dev/null || true; ip netns del $cli 2>/dev/null || true; }
trap cleanup EXIT INT TERM
cleanup
ip netns add $app
ip netns add $cli
ip link add car-dp0 netns $app type veth peer name car-cli0 netns $cli
for ns in $app $cli; do
	ip netns exec $ns ip link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip netns exec $app ip link set car-dp0 up
ip netns exec $app ethtool -K car-dp0 tx off rx off >/dev/null
ip netns exec $cli ip addr add 198.51.100.2/24 dev car-cli0
ip netns exec $cli ip addr add 2001:db8:100::2/64 dev car-cli0 nodad
ip netns exec $cli ip link set car-cli0 up
ip netns exec $cli ethtool -K car-cli0 tx off >/dev/null
cat <<'TXT'
carouseld with the DPDK fast path is starting. In another terminal try:
    ip netns exec carousel-cli dig @198.51.100.1 www.example.test
    ip netns exec carousel-cli dig @198.51.100.1 mail.example.test MX    # via the kernel
    ./build/carouselctl -s /run/carousel/ctl-dpdk.sock stats | grep dpdk
Stop with Ctrl-C.
TXT
ip netns exec $app ./build/carouseld -c configs/carousel-dpdk.yaml --dataplane dpdk -- \
	-l 0-1 --no-huge --no-pci -m 256 --no-shconf --log-level='*:warning'
