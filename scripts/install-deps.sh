#!/bin/sh
# install-deps.sh -- install every Debian package Carousel needs to build,
# run and test. Idempotent: does nothing when all are present.
set -eu

PACKAGES="
meson ninja-build pkg-config gcc clang
libyaml-dev libknot-dev libcmocka-dev libdpdk-dev dpdk dpdk-dev libunbound-dev unbound
libbpf-dev bpftool linux-libc-dev libclang-rt-14-dev
knot knot-dnsutils dnsutils dnsperf dnsdist bird2
python3 python3-dnspython python3-yaml
iproute2 procps ethtool
nginx dovecot-core dovecot-pop3d dovecot-imapd dovecot-submissiond
libmicrohttpd-dev libssl-dev curl valgrind
libsystemd-dev systemd groff-base chromium
libfstrm-dev libprotobuf-c-dev protobuf-c-compiler fstrm-bin dnstap-ldns
gnuplot-nox tcpdump
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
# The knot, unbound and bird2 packages would start system daemons
# (unbound would prime the real root): forbid service starts while
# installing.
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
	$SUDO chmod +x $policy
	trap '$SUDO rm -f $policy' EXIT
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
