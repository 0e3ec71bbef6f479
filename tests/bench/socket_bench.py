#!/usr/bin/python3
"""socket_bench.py -- dnsperf against carouseld (1 worker) and Knot DNS
(udp-workers: 1) serving the same answers, alternating, in one run, and
against a trivial responder (build/tests/udp_reflect: each query back with
QR set, one thread) in the same rounds: dnsperf's own ceiling here, so a
generator limit is not reported as the server's. Prints a markdown table
and, last, `socket ratio=R ceiling_ratio=C` (carouseld / knotd, carouseld /
the responder; means over the rounds)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, SRC, Carouseld, Knot, dnsperf, flatten_pools, free_addr, need, \
    skip  # noqa: E402

need("dnsperf", "knotd")
UDP_REFLECT = os.environ.get("UDP_REFLECT", os.path.join(BUILD, "tests", "udp_reflect"))
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


class Reflector:
    """udp_reflect on a free 127.x address, stopped by pid."""

    def __enter__(self):
        self.addr, self.port = free_addr()
        self.proc = subprocess.Popen([UDP_REFLECT, self.addr, str(self.port)])
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main():
    if not os.access(UDP_REFLECT, os.X_OK):
        skip(f"{UDP_REFLECT} is not built (ninja -C build tests/udp_reflect)")
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
    with Carouseld(text) as ours, Knot(zones) as knot, Reflector() as refl:
        for rnd in range(ROUNDS):
            for name, srv in (("carouseld", ours), ("knotd", knot),
                              ("dnsperf ceiling (udp_reflect)", refl)):
                qps, loss = dnsperf(srv, qfile, SECONDS)
                rows.append((rnd + 1, name, qps, loss))
                print(f"round {rnd + 1} {name}: {qps:.0f} qps, {loss:.2f}% lost", flush=True)
    ours_q = sum(r[2] for r in rows if r[1] == "carouseld") / ROUNDS
    knot_q = sum(r[2] for r in rows if r[1] == "knotd") / ROUNDS
    ceil_q = sum(r[2] for r in rows if r[1].startswith("dnsperf ceiling")) / ROUNDS
    ours_l = max(r[3] for r in rows if r[1] == "carouseld")
    print()
    ceiling = {r[0]: r[2] for r in rows if r[1].startswith("dnsperf ceiling")}
    print("| round | server | qps | lost | of the dnsperf ceiling |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} % | {r[2] / ceiling[r[0]]:.2f} |")
    print(f"\nmean carouseld {ours_q:.0f} qps, knotd {knot_q:.0f} qps, dnsperf ceiling "
          f"{ceil_q:.0f} qps, carouseld worst loss {ours_l:.2f} %")
    print(f"socket ratio={ours_q / knot_q:.2f} ceiling_ratio={ours_q / ceil_q:.2f}")


main()
