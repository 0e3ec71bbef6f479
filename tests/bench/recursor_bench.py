#!/usr/bin/python3
"""recursor_bench.py -- carouseld's recursion against Unbound (1 thread
each) over the same local Knot hierarchy, in one run: dnsperf on a warm
cache (same names, alternating, BENCH_SECONDS each), then cold resolution
latency right after each server starts (median of the names, 3 starts).
Prints a table and last `recursor ratio=R cold=C`."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import dns.message  # noqa: E402
import dns.query  # noqa: E402

from harness import Carouseld, need  # noqa: E402
from hierarchy import Hierarchy, Unbound  # noqa: E402

need("dnsperf", "knotd", "unbound")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WARM = ["www.example.org A", "www.example.org AAAA", "alias.example.org A", "mx.example.org MX",
        "www.other.net A", "www.lame.org A", "www.nog.org A", "nope.example.org A"]
COLD = ["www.example.org.", "alias.example.org.", "www.nog.org.", "www.lame.org.",
        "mail.example.org."]


def carouseld(h):
    return Carouseld(f"""zones:
  - name: example.test.
    file: zones/example.test.zone
recursion:
  enable: true
  root-hints: {h.hints}
  query-loopback: true
  allow: [127.0.0.0/8]
""")


def dnsperf(addr, port, qfile):
    out = subprocess.run(["dnsperf", "-s", addr, "-p", str(port), "-d", qfile, "-l", str(SECONDS),
                          "-c", "4", "-q", "256", "-t", "2"], capture_output=True, text=True,
                         timeout=SECONDS + 60).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    return qps, 100.0 * lost / max(sent, 1)


def cold_ms(addr, port):
    times = []
    for name in COLD:
        t0 = time.monotonic()
        dns.query.udp(dns.message.make_query(name, "A"), addr, port=port, timeout=10)
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times)


def main():
    h = Hierarchy().start()
    qfile = os.path.join(tempfile.mkdtemp(prefix="carousel-rbench-"), "queries")
    with open(qfile, "w") as f:
        f.write("\n".join(WARM) + "\n")
    rows, cold = [], {"carouseld": [], "unbound": []}
    try:
        for _ in range(3):  # cold: fresh processes, empty caches
            with carouseld(h) as d:
                cold["carouseld"].append(cold_ms(d.addr, d.port))
            u = Unbound(hints=h.hints).start()
            cold["unbound"].append(cold_ms(u.addr, u.port))
            u.close()
        d = carouseld(h).start()
        u = Unbound(hints=h.hints).start()
        for line in WARM:  # warm both caches
            name, rdtype = line.split()
            for a, p in ((d.addr, d.port), (u.addr, u.port)):
                dns.query.udp(dns.message.make_query(name, rdtype), a, port=p, timeout=10)
        for rnd in range(1, ROUNDS + 1):
            for name, a, p in (("carouseld", d.addr, d.port), ("unbound", u.addr, u.port)):
                qps, loss = dnsperf(a, p, qfile)
                rows.append((rnd, name, qps, loss))
                print(f"round {rnd} {name}: {qps:.0f} qps, {loss:.2f}% lost", flush=True)
        d.stop()
        u.close()
    finally:
        h.close()
    ours = sum(r[2] for r in rows if r[1] == "carouseld") / ROUNDS
    theirs = sum(r[2] for r in rows if r[1] == "unbound") / ROUNDS
    print("\n| round | resolver | warm-cache qps | lost |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} % |")
    cc, cu = statistics.median(cold["carouseld"]), statistics.median(cold["unbound"])
    print(f"\ncold resolution (median of {len(COLD)} names after a fresh start, 3 starts): "
          f"carouseld {cc:.1f} ms, unbound {cu:.1f} ms")
    print(f"recursor ratio={ours / theirs:.2f} cold={cc / cu:.2f}")


main()
