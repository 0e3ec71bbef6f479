#!/usr/bin/python3
"""walls_test.py -- the layers hold, as docs/architecture.md states them:
its "Layers" table says which directory may include which (lib/ only lib/;
the fast paths dataplane/ and bpf/ only lib/ and themselves; control/ never
a fast path's files), its exceptions name the files allowed across a wall
and the generated headers, and it promises no include cycle between
control/'s modules but the ones it lists. This test reads those rules from
the document and checks every #include of the tree against them, so the
page and the code cannot drift apart; and meson links dataplane and
xdploader against lib/ only (plus DPDK, libbpf)."""
import os
import re
import sys

SRC = os.environ.get("CAROUSEL_SOURCE", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
DOC = os.path.join("docs", "architecture.md")

bad = []


def section(text, title):
    """The body of the `## title...` section."""
    m = re.search(r"^## " + re.escape(title) + r".*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def read_rules():
    """(layers {dir: set of dirs or None for any}, exceptions {(file, header)},
    generated headers, allowed module cycles {frozenset})."""
    with open(os.path.join(SRC, DOC)) as f:
        body = section(f.read(), "Layers")
    if not body:
        bad.append(f"{DOC}: no '## Layers' section")
    layers = {}
    for m in re.finditer(r"^\| `(\w+)/` \| ([^|]+) \|", body, re.M):
        may = m.group(2).strip()
        layers[m.group(1)] = None if may == "any" else set(re.findall(r"`(\w+)/`", may))
    starters, generated, cycles = set(), set(), set()
    for m in re.finditer(r"^- `([\w/.]+\.c)` → ([^:]+):", body, re.M):
        starters.update((m.group(1), h) for h in re.findall(r"`([\w.]+\.h)`", m.group(2)))
    for m in re.finditer(r"^- generated in the build tree.*?:(.*?)(?=^- |^\S|\Z)", body,
                         re.M | re.S):
        generated.update(re.findall(r"`([\w.-]+\.h)`", m.group(1)))
    for m in re.finditer(r"^- cycle: `(\w+)` ↔ `(\w+)`", body, re.M):
        cycles.add(frozenset(m.groups()))
    if not layers:
        bad.append(f"{DOC}: the Layers table has no rows")
    return layers, starters, generated, cycles


layers, STARTERS, GENERATED, CYCLES = read_rules()
code_dirs = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d))
                   and not d.startswith((".", "build")) and d != "tests"
                   and any(f.endswith((".c", ".h")) for f in os.listdir(os.path.join(SRC, d))))
for d in code_dirs:
    if d not in layers:
        bad.append(f"{DOC}: {d}/ holds C sources but the Layers table has no row for it")
for d in layers:
    if not os.path.isdir(os.path.join(SRC, d)):
        bad.append(f"{DOC}: the Layers table names {d}/, which does not exist")
checked_dirs = [d for d in layers if layers[d] is not None and d in code_dirs]
for d in checked_dirs:
    for other in layers[d]:
        if other not in layers:
            bad.append(f"{DOC}: {d}/ may include {other}/, which has no row")
if not GENERATED:
    bad.append(f"{DOC}: no generated headers listed (carousel.skel.h, dnstap.pb-c.h)")

headers = {d: set(os.listdir(os.path.join(SRC, d))) for d in checked_dirs}
graph = {}  # control/ module -> the control/ modules it includes
checked = 0
for layer in checked_dirs:
    may = layers[layer]
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
            homes = {d for d in checked_dirs if inc in headers[d]}
            # a file's own directory comes first in the search
            home = layer if layer in homes else (sorted(homes)[0] if homes else None)
            if home not in may:
                bad.append(f"{path}:{n}: includes {m.group(1)} "
                           f"({'from ' + home + '/' if home else 'not in the tree'}); "
                           f"{layer}/ may include only {', '.join(d + '/' for d in sorted(may))} ({DOC})")
            if layer == "control" and home == "control":
                a, b = fn.rsplit(".", 1)[0], inc.rsplit(".", 1)[0]
                if a != b:
                    graph.setdefault(a, set()).add(b)


def reach(a):
    seen, todo = set(), [a]
    while todo:
        for b in graph.get(todo.pop(), ()):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


found = set()
for a in sorted(graph):
    for b in sorted(graph[a]):
        if a in reach(b):
            found.add(frozenset((a, b)))
for c in sorted(found - CYCLES, key=sorted):
    a, b = sorted(c)
    bad.append(f"control/: {a} and {b} include each other (through {a}.c/.h and {b}.c/.h); "
               f"hand callbacks in instead ({DOC}, Layers)")
for c in sorted(CYCLES - found, key=sorted):
    bad.append(f"{DOC}: lists the cycle {' ↔ '.join(sorted(c))}, which is gone: "
               f"remove it from the page")

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
print(f"{checked} includes checked against {len(layers)} layers from {DOC} "
      f"({len(STARTERS)} exceptions, {len(CYCLES)} known cycles), {len(bad)} across a wall")
sys.exit(1 if bad else 0)
