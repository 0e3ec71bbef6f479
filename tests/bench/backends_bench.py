#!/usr/bin/python3
"""backends_bench.py -- cache hits: carouseld's backend group (workers: 1,
`cache:`) against dnsdist's packet cache, both in front of the same three
Knot servers with round-robin, in one run. dnsperf (-c 4 -q 256) sends
ten cached questions for BENCH_SECONDS to each in turn, two rounds; each
server's CPU time (user + system, all its threads, from /proc) over the
run gives answers per CPU-second, the measure that does not depend on how
the two cores are shared with dnsperf. Prints a table and last
`backends ratio=R` (carouseld / dnsdist, answers per CPU-second)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from corp_farm import Carousel, Dnsdist, Farm, ask  # noqa: E402
from harness import need  # noqa: E402

need("dnsperf", "knotd", "dnsdist")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
QUERIES = ["who.corp.example TXT", "ns.corp.example A", "corp.example SOA", "corp.example NS",
           "a.w.corp.example TXT", "b.w.corp.example TXT", "c.w.corp.example TXT",
           "mid.corp.example TXT", "nope.corp.example A", "ns.corp.example AAAA"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(target, qfile):
    before = cpu_seconds(target.proc.pid)
    out = subprocess.run(["dnsperf", "-s", target.addr, "-p", str(target.port), "-d", qfile,
                          "-l", str(SECONDS), "-c", "4", "-q", "256", "-t", "2"],
                         capture_output=True, text=True, timeout=SECONDS + 60).stdout
    cpu = cpu_seconds(target.proc.pid) - before
    done = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    return done / SECONDS, done / max(cpu, 0.01), cpu, 100.0 * (sent - done) / max(sent, 1)


def main():
    farm = Farm()
    qfile = os.path.join(tempfile.mkdtemp(prefix="carousel-bbench-"), "queries")
    with open(qfile, "w") as f:
        f.write("\n".join(QUERIES) + "\n")
    servers = [(farm.server(i), 1, 1) for i in range(3)]
    rows = []
    try:
        ours = Carousel("round-robin", servers, cache=True).start()
        theirs = Dnsdist("round-robin", servers, cache=True).start()
        for target in (ours, theirs):  # warm both caches
            for _ in range(3):
                for line in QUERIES:
                    name, rdtype = line.split()
                    ask(target, name + ".", rdtype, use_edns=0, payload=1232)
        for rnd in range(1, ROUNDS + 1):
            for name, target in (("carouseld", ours), ("dnsdist", theirs)):
                qps, per_cpu, cpu, lost = run(target, qfile)
                rows.append((rnd, name, qps, cpu, per_cpu, lost))
                print(f"round {rnd} {name}: {qps:.0f} qps, {cpu:.2f} CPU-s, "
                      f"{per_cpu:.0f} answers/CPU-s, {lost:.2f}% lost", flush=True)
        hits = ours.ctl_cmd("backends").stdout.splitlines()[0]
        print("carouseld:", hits)
        ours.stop()
        theirs.stop()
    finally:
        farm.stop()
    print("\n| round | proxy | qps | CPU-s | answers per CPU-s | lost |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} | {r[4]:.0f} | {r[5]:.2f} % |")
    a = sum(r[4] for r in rows if r[1] == "carouseld") / ROUNDS
    b = sum(r[4] for r in rows if r[1] == "dnsdist") / ROUNDS
    q = sum(r[2] for r in rows if r[1] == "carouseld") / sum(r[2] for r in rows if r[1] == "dnsdist")
    print(f"\nqps ratio carouseld / dnsdist = {q:.2f}")
    print(f"backends ratio={a / b:.2f}")


main()
