#!/bin/sh
# install-deps.sh -- install every Debian package Carousel needs to build,
# run and test. Idempotent: does nothing when all are present.
set -eu

PACKAGES="
meson ninja-build pkg-config gcc clang
libyaml-dev libknot-dev libcmocka-dev libdpdk-dev dpdk libunbound-dev unbound
libbpf-dev bpftool linux-libc-dev
knot knot-dnsutils dnsutils dnsperf
python3 python3-dnspython python3-yaml
iproute2 procps ethtool
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
# knot's package would start a system knotd; keep services down here.
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends $missing >/dev/null
