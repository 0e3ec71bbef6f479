#!/usr/bin/python3
"""health_scale.py -- what many monitors cost: N pools (default 3000), each
with one member monitored by `dns` every second (against carouseld
itself, so the answers are part of the cost). Prints carouseld's CPU share
over 10 s, the checks it ran, and how long `carouselctl pools` takes.
Last line: `health-scale members=N cpu=P% checks_per_s=C`."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Carouseld  # noqa: E402

N = int(os.environ.get("BENCH_MEMBERS", "3000"))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checks(srv):
    out = srv.ctl_cmd("pools").stdout
    return sum(int(x) for x in re.findall(r"checks (\d+)", out)), out


def main():
    srv = Carouseld(yaml_text="")
    pools = "\n".join(
        f"  - name: p{i}.example.test.\n    members:\n      - {{address: {srv.addr}, "
        f"monitor: {{type: dns, port: {srv.port}, query: example.test., interval: 1s, "
        f"timeout: 500ms}}}}" for i in range(N))
    srv.write_config("zones:\n  - name: example.test.\n    file: zones/example.test.zone\n"
                     "pools:\n" + pools + "\n")
    with srv:
        time.sleep(3)
        c0, k0, t0 = cpu_seconds(srv.proc.pid), checks(srv)[0], time.monotonic()
        time.sleep(10)
        c1, t1 = cpu_seconds(srv.proc.pid), time.monotonic()
        start = time.monotonic()
        k1, out = checks(srv)
        took = time.monotonic() - start
        up = out.count("state up")
    cpu = 100 * (c1 - c0) / (t1 - t0)
    rate = (k1 - k0) / (t1 - t0)
    print(f"| {N} | {rate:.0f} | {cpu:.1f} % | {up} | {took * 1000:.0f} ms |")
    print(f"health-scale members={N} cpu={cpu:.1f}% checks_per_s={rate:.0f}")


main()
