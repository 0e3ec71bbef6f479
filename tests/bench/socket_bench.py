#!/usr/bin/python3
"""socket_bench.py -- dnsperf against carouseld (1 worker) and Knot DNS
(udp-workers: 1) serving the same answers, alternating, in one run.
Prints a markdown table and, last, `socket ratio=R`."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import SRC, Carouseld, Knot, dnsperf, flatten_pools, need  # noqa: E402

need("dnsperf", "knotd")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))

QUERIES = """www.example.test A
web.example.test A
web.example.test AAAA
shop.example.test A
mail.example.test MX
_imaps._tcp.example.test SRV
static.example.test A
nope.example.test A
example.test SOA
x.wild.example.test A
"""


def main():
    tmp = tempfile.mkdtemp(prefix="carousel-bench-")
    qfile = os.path.join(tmp, "queries")
    with open(qfile, "w") as f:
        f.write(QUERIES)
    cfg_path = os.path.join(SRC, "configs", "carousel.yaml")
    zones = flatten_pools(cfg_path, os.path.join(SRC, "configs", "zones"), tmp)
    with open(cfg_path) as f:
        text = f.read()
    text = text[text.index("\nzones:") + 1:].replace("answer-count: 1", "answer-count: 0")
    rows = []
    with Carouseld(text) as ours, Knot(zones) as knot:
        for rnd in range(ROUNDS):
            for name, srv in (("carouseld", ours), ("knotd", knot)):
                qps, loss = dnsperf(srv, qfile, SECONDS)
                rows.append((rnd + 1, name, qps, loss))
                print(f"round {rnd + 1} {name}: {qps:.0f} qps, {loss:.2f}% lost", flush=True)
    ours_q = sum(r[2] for r in rows if r[1] == "carouseld") / ROUNDS
    knot_q = sum(r[2] for r in rows if r[1] == "knotd") / ROUNDS
    ours_l = max(r[3] for r in rows if r[1] == "carouseld")
    print()
    print("| round | server | qps | lost |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} % |")
    print(f"\nmean carouseld {ours_q:.0f} qps, knotd {knot_q:.0f} qps, "
          f"carouseld worst loss {ours_l:.2f} %")
    print(f"socket ratio={ours_q / knot_q:.2f}")


main()
