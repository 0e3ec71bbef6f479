#!/bin/sh
# demo.sh -- install what is missing, build, and run carouseld in the
# foreground on the bundled config (configs/carousel.yaml).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
cat <<'TXT'
carouseld is starting on 127.0.0.1@5353 and ::1@5353. In another terminal try:
    dig @127.0.0.1 -p 5353 www.example.test
    dig @127.0.0.1 -p 5353 mail.example.test MX
    sudo ./build/carouselctl stats
    sudo ./build/carouselctl pools
    sudo ./build/carouselctl drain web.example.test. 192.0.2.10
Stop with Ctrl-C.
TXT
exec $SUDO ./build/carouseld -c configs/carousel.yaml
