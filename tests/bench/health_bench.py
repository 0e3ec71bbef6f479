#!/usr/bin/python3
"""health_bench.py -- what health churn costs the answers: dnsperf against
two carouseld (1 worker each) serving the same pool, one with steady
members (no monitors, the baseline) and one whose ten members flap (dns
monitors every 10 ms, rise 1, fall 1: about a thousand pool-view swaps a
second), alternating, in one run. Prints a table and, last,
`health ratio=R` (flapping qps / steady qps)."""
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Carouseld, dnsperf, need  # noqa: E402
from health_flap_test import Flapper  # noqa: E402

need("dnsperf")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


def config(addrs, port, monitored):
    mon = (f"    monitor: {{type: dns, port: {port}, query: flap.test., qtype: A, "
           f"interval: 10ms, timeout: 10ms, rise: 1, fall: 1}}\n") if monitored else ""
    members = "\n".join(f"      - {{address: {a}}}" for a in addrs)
    return f"""zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
{mon}    members:
{members}
"""


def main():
    net = f"127.{random.randint(100, 250)}.{random.randint(0, 250)}"
    addrs = [f"{net}.{10 + i}" for i in range(10)]
    port = random.randint(20000, 60000)
    flapper = Flapper(addrs, port)
    flapper.start()
    qfile = os.path.join(tempfile.mkdtemp(prefix="carousel-hbench-"), "queries")
    with open(qfile, "w") as f:
        f.write("www.example.test A\nweb.example.test A\n")
    rows = []
    with Carouseld(config(addrs, port, False)) as steady, \
            Carouseld(config(addrs, port, True)) as flapping:
        for rnd in range(ROUNDS):
            for name, srv in (("steady", steady), ("flapping", flapping)):
                before = flapping.logtext().count("event=health ")
                qps, loss = dnsperf(srv, qfile, SECONDS)
                swaps = flapping.logtext().count("event=health ") - before
                rows.append((rnd + 1, name, qps, loss, swaps if name == "flapping" else 0))
                print(f"round {rnd + 1} {name}: {qps:.0f} qps, {loss:.2f}% lost", flush=True)
    flapper.stop = True
    mean = {n: sum(r[2] for r in rows if r[1] == n) / ROUNDS for n in ("steady", "flapping")}
    print("\n| round | server | qps | lost | state changes during the run |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} % | {r[4] or '—'} |")
    print(f"\nhealth ratio={mean['flapping'] / mean['steady']:.2f}")


main()
