#!/usr/bin/python3
"""health_scale.py -- what many monitors cost: N pools, each with one
member monitored by `dns` (against carouseld itself, so its worker
answering the checks is part of the process's cost, not the main
thread's). For each N in BENCH_MEMBERS (default "3000"; issue 20 asks for
100000 at BENCH_INTERVAL=10s), after one interval of warm-up, three windows
of BENCH_WINDOW seconds (default: the interval, at least 10 s): the CPU
share of carouseld's main (control) thread, which runs the probes, and of
the whole process, the checks run per second, the members up, and how long
`carouselctl pools` takes.

The first N is the baseline: the figure compared across sizes is the main
thread's CPU time per check (µs), as a ratio to the baseline's (1.0 =
linear). Last line, per N:
`health-scale members=N interval_s=I main_cpu=P% cpu=P% checks_per_s=C up=U us_per_check=X ratio=R`
(medians of the windows)."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import CAROUSELD, Carouseld  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_MEMBERS", "3000").split(",")]
INTERVAL = os.environ.get("BENCH_INTERVAL", "1s")
INTERVAL_S = float(INTERVAL.rstrip("ms")) / (1000 if INTERVAL.endswith("ms") else 1)
WINDOW = float(os.environ.get("BENCH_WINDOW", str(max(10.0, INTERVAL_S))))
ROUNDS = 3
TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    fields = open(path).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TCK


def pools_text(srv):
    start = time.monotonic()
    out = srv.ctl_cmd("pools").stdout
    return out, time.monotonic() - start


def checks(out):
    return sum(int(x) for x in re.findall(r"checks (\d+)", out))


def med(xs):
    return sorted(xs)[len(xs) // 2]


def measure(n):
    srv = Carouseld(yaml_text="")
    pools = "\n".join(
        f"  - name: p{i}.example.test.\n    members:\n      - {{address: {srv.addr}, "
        f"monitor: {{type: dns, port: {srv.port}, query: example.test., "
        f"interval: {INTERVAL}, timeout: 500ms}}}}" for i in range(n))
    srv.write_config("zones:\n  - name: example.test.\n    file: zones/example.test.zone\n"
                     "pools:\n" + pools + "\n")
    rows = []
    # a big config takes longer to load than the harness waits
    srv.proc = subprocess.Popen([CAROUSELD, "-c", srv.config], stdout=srv.log, stderr=srv.log)
    try:
        for _ in range(1200):
            if srv.proc.poll() is not None:
                raise RuntimeError("carouseld exited: " + srv.logtext()[-2000:])
            if srv.ctl_cmd("status").returncode == 0:
                break
            time.sleep(0.1)
        pid = srv.proc.pid
        time.sleep(INTERVAL_S + 3)
        out, _ = pools_text(srv)
        k0 = checks(out)
        for r in range(ROUNDS):
            c0, m0, t0 = cpu_seconds(pid), cpu_seconds(pid, pid), time.monotonic()
            time.sleep(WINDOW)
            c1, m1, t1 = cpu_seconds(pid), cpu_seconds(pid, pid), time.monotonic()
            out, took = pools_text(srv)
            k1 = checks(out)
            done, k0 = k1 - k0, k1
            rows.append({"round": r + 1, "cpu": 100 * (c1 - c0) / (t1 - t0),
                         "main": 100 * (m1 - m0) / (t1 - t0), "rate": done / (t1 - t0),
                         "up": out.count("state up"), "pools_ms": took * 1000,
                         "us_per_check": 1e6 * (m1 - m0) / max(done, 1)})
    finally:
        srv.stop()
    return rows


def main():
    print(f"monitors: dns every {INTERVAL}, timeout 500ms; windows of {WINDOW:.0f} s\n")
    print("| monitored members | round | checks/s | main thread CPU | carouseld CPU | up | "
          "main-thread µs per check | `carouselctl pools` |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for n in SIZES:
        rows = measure(n)
        for r in rows:
            print(f"| {n} | {r['round']} | {r['rate']:.0f} | {r['main']:.1f} % | "
                  f"{r['cpu']:.1f} % | {r['up']} | {r['us_per_check']:.1f} | "
                  f"{r['pools_ms']:.0f} ms |", flush=True)
        results.append((n, rows))
    base = med([r["us_per_check"] for r in results[0][1]])
    for n, rows in results:
        us = med([r["us_per_check"] for r in rows])
        print(f"health-scale members={n} interval_s={INTERVAL_S:g} "
              f"main_cpu={med([r['main'] for r in rows]):.1f}% "
              f"cpu={med([r['cpu'] for r in rows]):.1f}% "
              f"checks_per_s={med([r['rate'] for r in rows]):.0f} "
              f"up={med([r['up'] for r in rows])} us_per_check={us:.1f} "
              f"ratio={us / base if base else 0:.2f}")


main()
