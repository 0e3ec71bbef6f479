#!/usr/bin/python3
"""publish.py -- issue 20's publish of a large config into both fast paths:
bigconfig.py's shape (every pool a name, 9 aliases and 3 replicas) at
10 000, 100 000 and 1 000 000 names, timed by `dp_bench 0 0 publish CONFIG`
(DPDK table) and `xdp_bench BUILD publish CONFIG` (XDP maps, root only):
the first publish, a republish of the same config, and every entry
replaced by a new publisher; the memory the entries take (DPDK: the
table's slab; XDP: the kernel's Slab line).

    publish.py [--names 10000,100000,1000000] [--rounds 3]

Environment: CAROUSEL_BUILD (default build), BENCH_NAMES, BENCH_ROUNDS.
Last lines: `publish path=dpdk|xdp names=N first_ms=.. unchanged_ms=..
replaced_ms=.. memory_mib=..` (medians of the rounds)."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bigconfig  # noqa: E402
import harness  # noqa: E402 (on the path bigconfig set)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode == 77:
        return None
    m = re.search(r"^(?:dpdk|xdp)-publish (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", default=os.environ.get("BENCH_NAMES", "10000,100000,1000000"))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    a = ap.parse_args()
    build = harness.BUILD
    paths = {"dpdk": lambda cfg: [f"{build}/tests/dp_bench", "0", "0", "publish", cfg],
             "xdp": lambda cfg: [f"{build}/tests/xdp_bench", build, "publish", cfg]}
    paths = {k: v for k, v in paths.items() if os.access(v("x")[0], os.X_OK)}
    if not paths:
        harness.skip("neither dp_bench nor xdp_bench is built")
    rows, summary = [], []
    for names in (int(n) for n in a.names.split(",")):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "carousel.yaml")
            with open(cfg, "w") as f:
                f.write("server:\n  listen: [127.0.0.1@5353]\n" +
                        bigconfig.write(d, names // (bigconfig.ALIASES + 1)))
            got = {p: [] for p in paths}
            for r in range(a.rounds):
                for p, cmd in paths.items():  # in turn, round by round
                    res = run(cmd(cfg))
                    if res is None:
                        continue
                    mem = res.get("entry_memory_mib", res.get("slab_mib", 0))
                    got[p].append(res | {"memory": mem})
                    rows.append(f"| {p} | {names} | {r + 1} | {res['first_ms']:.0f} | "
                                f"{res['unchanged_ms']:.0f} | {res['replaced_ms']:.0f} | "
                                f"{mem:.0f} |")
            for p, rs in got.items():
                if rs:
                    med = {k: statistics.median(x[k] for x in rs)
                           for k in ("first_ms", "unchanged_ms", "replaced_ms", "memory")}
                    summary.append(f"publish path={p} names={names} "
                                   f"first_ms={med['first_ms']:.0f} "
                                   f"unchanged_ms={med['unchanged_ms']:.0f} "
                                   f"replaced_ms={med['replaced_ms']:.0f} "
                                   f"memory_mib={med['memory']:.0f}")
    print("| path | names | round | first publish ms | unchanged ms | every entry replaced ms "
          "| entry memory MiB |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
