#!/usr/bin/python3
"""health_flap_test.py -- members that flap: ten DNS replicas (a small
server here that answers NOERROR and NXDOMAIN in turn) checked every 10 ms
with rise 1 and fall 1, until carouseld has made at least 2 000 state
changes (1 000 up/down flaps). Answers stay well-formed meanwhile, memory
does not grow (RSS in the plain build; LeakSanitizer at exit in the ASan
build), and the counters agree with `carouselctl pools`."""
import os
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CAROUSELD, Carouseld, Checks  # noqa: E402

MEMBERS = 10
CHANGES = 2000
T = Checks("health-flap")


class Flapper(threading.Thread):
    """One UDP socket per member address: every other query is NXDOMAIN."""

    def __init__(self, addrs, port):
        super().__init__(daemon=True)
        self.socks = []
        for a in addrs:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((a, port))
            self.socks.append(s)
        self.turn = {s: 0 for s in self.socks}
        self.stop = False

    def run(self):
        while not self.stop:
            ready, _, _ = select.select(self.socks, [], [], 0.2)
            for s in ready:
                q, peer = s.recvfrom(512)
                if len(q) < 17:
                    continue
                self.turn[s] ^= 1
                qend = 12 + q[12:].index(0) + 5
                head = q[:2] + bytes([0x84, 0x00 if self.turn[s] else 0x03])
                if self.turn[s]:  # NOERROR, one A record
                    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"
                    s.sendto(head + b"\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:qend] + rr, peer)
                else:  # NXDOMAIN
                    s.sendto(head + b"\x00\x01\x00\x00\x00\x00\x00\x00" + q[12:qend], peer)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def changes(srv):
    text = srv.ctl_cmd("pools").stdout
    return text, sum(int(m) for m in re.findall(r"checks (\d+)", text))


def state_changes(srv):
    total = 0
    for line in srv.logtext().splitlines():
        total += "event=health " in line
    return total


def main():
    net = f"127.{random.randint(100, 250)}.{random.randint(0, 250)}"
    addrs = [f"{net}.{10 + i}" for i in range(MEMBERS)]
    port = random.randint(20000, 60000)
    flapper = Flapper(addrs, port)
    flapper.start()
    members = "\n".join(f"      - {{address: {a}}}" for a in addrs)
    srv = Carouseld(yaml_text=f"""zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: flap.example.test.
    monitor: {{type: dns, port: {port}, query: flap.test., qtype: A, interval: 10ms,
               timeout: 10ms, rise: 1, fall: 1}}
    members:
{members}
""")
    asan = "libasan" in subprocess.run(["ldd", CAROUSELD], capture_output=True,
                                       text=True).stdout
    srv.start()
    try:
        deadline = time.monotonic() + 120
        while state_changes(srv) < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        base = rss_kib(srv.proc.pid)
        bad = 0
        while state_changes(srv) < CHANGES and time.monotonic() < deadline:
            r = srv.query("flap.example.test.", "A")
            got = {str(rd) for rrset in r.answer for rd in rrset}
            bad += r.rcode() != 0 or not got or not got <= set(addrs)
            time.sleep(0.005)
        n = state_changes(srv)
        T.check(n >= CHANGES, f"{n} state changes logged (want >= {CHANGES})")
        T.eq(bad, 0, "every answer while flapping: NOERROR, members only")
        grown = rss_kib(srv.proc.pid) - base
        if asan:
            print(f"note: ASan build, RSS growth {grown} KiB not judged (quarantine); "
                  "LeakSanitizer judges at exit")
        else:
            T.check(grown < 1024, f"RSS grew {grown} KiB over {n - 200} state changes "
                                  f"(limit 1024)")
        text, checks = changes(srv)
        T.check(checks >= CHANGES, f"pools counts {checks} checks")
        T.check(text.count("monitor dns/") == MEMBERS, "pools lists every member")
    finally:
        flapper.stop = True
        code = srv.stop()
    T.eq(code, 0, "clean exit (no LeakSanitizer report)")
    T.done()


if __name__ == "__main__":
    main()
