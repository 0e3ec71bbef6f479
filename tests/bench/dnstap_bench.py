#!/usr/bin/python3
"""dnstap_bench.py -- dnsperf against carouseld (1 worker) without dnstap,
with dnstap logging every exchange to fstrm_capture (reader attached,
writing a file), and with sample: 100; alternating, in one run. Prints a
markdown table and, last, `dnstap ratio=R` (every exchange logged / off)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import SRC, Carouseld, ctl_stat, dnsperf, need, stop_process  # noqa: E402

need("dnsperf", "fstrm_capture")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
QUERIES = """www.example.test A
web.example.test AAAA
mail.example.test MX
nope.example.test A
example.test SOA
"""


def main():
    tmp = tempfile.mkdtemp(prefix="carousel-bench-")
    qfile = os.path.join(tmp, "queries")
    with open(qfile, "w") as f:
        f.write(QUERIES)
    with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
        text = f.read()
    base = text[text.index("\nzones:") + 1:]
    sock = os.path.join(tmp, "dnstap.sock")
    rows = []
    for rnd in range(ROUNDS):
        for name, extra in (("off", ""),
                            ("every exchange", f"dnstap:\n  sink: unix:{sock}\n"),
                            ("sample 100", f"dnstap:\n  sink: unix:{sock}\n  sample: 100\n")):
            cap = None
            if extra:
                out = os.path.join(tmp, "cap.fstrm")
                cap = subprocess.Popen(["fstrm_capture", "-t", "protobuf:dnstap.Dnstap",
                                        "-u", sock, "-w", out], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                time.sleep(0.3)
            with Carouseld(base + extra) as srv:
                time.sleep(1.5 if extra else 0)  # the writer connects
                qps, loss = dnsperf(srv, qfile, SECONDS)
                dropped = ctl_stat(srv.ctl, "dnstap.dropped")
            if cap:
                cap.send_signal(signal.SIGINT)
                stop_process(cap)
                size = os.path.getsize(out) if os.path.exists(out) else 0
                os.unlink(out) if os.path.exists(out) else None
            else:
                size = 0
            rows.append((rnd + 1, name, qps, loss, max(dropped, 0), size))
            print(f"round {rnd + 1} {name}: {qps:.0f} qps, {loss:.2f}% lost, "
                  f"{max(dropped, 0)} dropped, {size} bytes captured", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    mean = {n: sum(r[2] for r in rows if r[1] == n) / ROUNDS
            for n in ("off", "every exchange", "sample 100")}
    print()
    print("| round | dnstap | qps | lost | frames dropped | captured |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.0f} | {r[3]:.2f} % | {r[4]} | {r[5] / 1e6:.1f} MB |")
    print(f"\nmean: off {mean['off']:.0f} qps, every exchange {mean['every exchange']:.0f} qps, "
          f"sample 100 {mean['sample 100']:.0f} qps")
    print(f"dnstap ratio={mean['every exchange'] / mean['off']:.2f}")


main()
