#!/usr/bin/python3
"""bigconfig.py -- load and reload time and memory for a config with
10 000 pools and 100 000 names (each pool: a canonical name, 9 aliases,
3 replicas). Prints a table; last line `bigconfig check_s=.. rss_mb=..
reload_s=..`."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import CAROUSELD, Carouseld  # noqa: E402

POOLS, ALIASES = 10000, 9


def write(dirname):
    os.makedirs(os.path.join(dirname, "zones"))
    with open(os.path.join(dirname, "zones", "big.zone"), "w") as f:
        f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns hm 1 2 3 4 60\n@ NS ns\nns A 192.0.2.1\n")
    lines = ["zones:\n  - name: big.test.\n    file: zones/big.zone\npools:\n"]
    for i in range(POOLS):
        aliases = ", ".join(f"a{i}-{j}.big.test." for j in range(ALIASES))
        lines.append(f"  - {{name: p{i}.big.test., aliases: [{aliases}], members: "
                     f"[{{address: 10.{i // 256 % 256}.{i % 256}.1}}, "
                     f"{{address: 10.{i // 256 % 256}.{i % 256}.2}}, "
                     f"{{address: \"2001:db8:{i:x}::1\"}}]}}\n")
    return "".join(lines)


def main():
    d = tempfile.mkdtemp(prefix="carousel-big-")
    body = write(d)
    cfg = os.path.join(d, "check.yaml")
    with open(cfg, "w") as f:
        f.write("server:\n  listen: [127.0.0.1@53]\n" + body)
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-v", CAROUSELD, "--check", cfg], capture_output=True,
                         text=True)
    check_s = time.monotonic() - t0
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    print(out.stdout.strip())
    with Carouseld(body, zones_from=os.path.join(d, "zones")) as srv:
        srv_cfg = srv.config
        r = srv.query("a9999-8.big.test.", "A")
        assert len(r.answer) == 2, r
        t0 = time.monotonic()
        res = srv.ctl_cmd("reload")
        reload_s = time.monotonic() - t0
        st = srv.ctl_cmd("status").stdout
        mem = re.search(r"config-memory (\d+)", st).group(1)
        rss_srv = 0
        with open(f"/proc/{srv.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    rss_srv = int(line.split()[1])
        assert res.returncode == 0 and srv_cfg
    print("| names | pools | --check | --check max RSS | reload | config memory | daemon RSS |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {POOLS * (ALIASES + 1)} | {POOLS} | {check_s:.2f} s | {rss / 1024:.0f} MiB | "
          f"{reload_s:.2f} s | {int(mem) / 2**20:.0f} MiB | {rss_srv / 1024:.0f} MiB |")
    print(f"bigconfig check_s={check_s:.2f} rss_mb={rss / 1024:.0f} reload_s={reload_s:.2f}")


main()
