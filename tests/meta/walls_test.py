#!/usr/bin/python3
"""walls_test.py -- the layers hold: lib/ includes only lib/; dataplane/ and
bpf/ (the fast paths) include only lib/ and their own directory, and meson
links them against lib/ only (plus DPDK, libbpf); control/ never reaches
into a fast path's files. A fast path that needs something of carouseld's
gets it through lib/ (fastpath.h, entry.h, log.h)."""
import os
import re
import sys

SRC = os.environ.get("CAROUSEL_SOURCE", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
ALLOWED = {"lib": {"lib"}, "dataplane": {"lib", "dataplane"}, "bpf": {"lib", "bpf"},
           "control": {"lib", "control"}}
# made in the build tree: bpftool's skeleton, protoc-c's dnstap code
GENERATED = {"carousel.skel.h", "dnstap.pb-c.h"}
# main() starts the fast path it was asked for and hands its fp_ops to the
# publisher: the one place control/ names a fast path's header
STARTERS = {("control/carouseld.c", "dp.h"), ("control/carouseld.c", "xdp.h")}

headers = {d: set(os.listdir(os.path.join(SRC, d))) for d in ALLOWED}
bad = []
checked = 0
for layer, may in ALLOWED.items():
    for fn in sorted(os.listdir(os.path.join(SRC, layer))):
        if not fn.endswith((".c", ".h")):
            continue
        path = os.path.join(layer, fn)
        for n, line in enumerate(open(os.path.join(SRC, path)), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            checked += 1
            inc = os.path.basename(m.group(1))
            if inc in GENERATED or (path, inc) in STARTERS:
                continue
            homes = {d for d in ALLOWED if inc in headers[d]}
            # a file's own directory comes first in the search
            home = layer if layer in homes else (sorted(homes)[0] if homes else None)
            if home not in may:
                bad.append(f"{path}:{n}: includes {m.group(1)} "
                           f"({'from ' + home + '/' if home else 'not in the tree'}); "
                           f"{layer}/ may include only {', '.join(sorted(may))}/")

meson = open(os.path.join(SRC, "meson.build")).read()
for lib in ("dataplane", "xdploader"):
    m = re.search(r"static_library\('" + lib + r"'.*?dependencies\s*:\s*\[([^\]]*)\]",
                  meson, re.S)
    if not m:
        bad.append(f"meson.build: no static_library('{lib}') with dependencies")
    elif "control_dep" in m.group(1):
        bad.append(f"meson.build: {lib} links against the control library")

for b in bad:
    print(f"not ok {b}")
print(f"{checked} includes checked, {len(bad)} across a wall")
sys.exit(1 if bad else 0)
