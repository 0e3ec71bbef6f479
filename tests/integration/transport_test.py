#!/usr/bin/python3
"""transport_test.py -- IPv6, several SO_REUSEPORT workers, TCP idle
timeout and connection limit, 100 reloads (good and bad alternating, by
SIGHUP and carouselctl) while queries flow: none may go unanswered or be
answered wrongly; and kill -9 then restart: serving again within a second."""
import os
import re
import shutil
import subprocess
import signal
import socket
import threading
import time

import dns.message
import dns.query
import dns.rdatatype

from harness import Carouseld, Checks

t = Checks("transport")


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Dual(Carouseld):
    """Listens on its 127.x address and on ::1 at the same port."""

    def server_block(self):
        block = super().server_block()
        if has_ipv6():
            block = block.replace(f"[{self.addr}@{self.port}]",
                                  f"[{self.addr}@{self.port}, \"::1@{self.port}\"]")
        return block.replace("tcp-idle-timeout: 2s", "tcp-idle-timeout: 2s\n  tcp-max-clients: 4")


with Dual(workers=2) as d:
    if has_ipv6():
        q = dns.message.make_query("www.example.test.", "AAAA")
        r = dns.query.udp(q, "::1", port=d.port, timeout=3)
        t.check(len(r.answer) == 2, "IPv6 UDP: alias answered over ::1")
        r = dns.query.tcp(q, "::1", port=d.port, timeout=3)
        t.check(len(r.answer) == 2, "IPv6 TCP: alias answered over ::1")
    else:
        print("note: no IPv6 loopback here; IPv6 checks not run")
    st = d.ctl_cmd("status").stdout
    t.check("workers 2" in st, "status shows 2 workers")
    answered = 0
    for i in range(200):
        # new source port each time: SO_REUSEPORT spreads them over workers
        r = d.query("www.example.test.", "A")
        answered += len(r.answer) == 2
    t.eq(answered, 200, "200 queries over 2 workers, all answered")

    # TCP: idle connections are closed; more than tcp-max-clients are refused
    conns = [socket.create_connection((d.addr, d.port), timeout=5) for _ in range(10)]
    time.sleep(0.3)
    stats = d.ctl_cmd("stats").stdout
    refused = int(stats.split("tcp.refused ")[1].split()[0])
    t.check(refused >= 1, f"connections over the limit are refused ({refused})")
    c = conns[0]
    c.settimeout(6)
    try:
        data = c.recv(10)  # the server closes it after the idle timeout
        t.eq(data, b"", "an idle TCP connection is closed by the server")
    except socket.timeout:
        t.check(False, "an idle TCP connection is closed by the server")
    for c in conns:
        c.close()

    # reloads under load
    with open(d.config) as f:
        good = f.read()
    bad = good.replace("ttl: 30", "ttl: thirty", 1)
    stop = threading.Event()
    results = {"sent": 0, "lost": 0, "wrong": 0}

    def load():
        while not stop.is_set():
            results["sent"] += 1
            try:
                r = d.query("www.example.test.", "A", timeout=1)
                a = sorted(x.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for x in rr)
                if a != ["192.0.2.10", "192.0.2.11", "192.0.2.12"]:
                    results["wrong"] += 1
            except Exception:
                results["lost"] += 1

    th = threading.Thread(target=load)
    th.start()
    perf = None
    if shutil.which("dnsperf"):
        qfile = os.path.join(d.dir, "perf-queries")
        with open(qfile, "w") as f:
            f.write("www.example.test A\nweb.example.test AAAA\nmail.example.test MX\n")
        perf = subprocess.Popen(["dnsperf", "-s", d.addr, "-p", str(d.port), "-d", qfile,
                                 "-l", "4", "-Q", "2000", "-t", "2"], stdout=subprocess.PIPE,
                                text=True)
    def reloads():
        st = d.ctl_cmd("status").stdout
        return sum(int(m) for m in re.findall(r"reloads-(?:ok|failed) (\d+)", st))

    for i in range(100):
        with open(d.config, "w") as f:
            f.write(bad if i % 2 else good)
        if i % 4 < 2:
            # a signal is taken later: the file must not change before
            # it is read (a loaded machine took longer than the 20 ms)
            os.kill(d.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while reloads() < i + 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        else:
            d.ctl_cmd("reload")
        time.sleep(0.02)
    stop.set()
    th.join()
    if perf:
        out = perf.communicate(timeout=60)[0]
        lost = re.search(r"Queries lost:\s+(\d+)", out)
        t.check(lost is not None and int(lost.group(1)) == 0,
                f"dnsperf at 2000 q/s during the reloads: {lost.group(1) if lost else '?'} lost")
    with open(d.config, "w") as f:
        f.write(good)
    t.check(results["sent"] > 100, f"{results['sent']} queries during 100 reloads")
    t.eq(results["lost"], 0, "no query lost during reloads")
    t.eq(results["wrong"], 0, "no wrong answer during reloads")
    st = d.ctl_cmd("status").stdout
    t.check("reloads-ok 50" in st and "reloads-failed 50" in st, "50 good and 50 bad reloads")

    # kill -9, then start again on the same config and sockets
    d.proc.kill()
    d.proc.wait()
    t0 = time.monotonic()
    d.start()
    t.check(time.monotonic() - t0 < 1.0,
            f"serving again {time.monotonic() - t0:.2f} s after a restart from kill -9")
t.eq(d.exit_code, 0, "clean exit")
t.done()
