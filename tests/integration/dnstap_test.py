#!/usr/bin/env python3
"""dnstap_test.py -- dnstap with real readers: fstrm_capture on the unix
socket, dnstap-ldns decoding what it wrote. kdig queries give exactly one
AUTH_QUERY and one AUTH_RESPONSE each, with the right names, types,
addresses and transport; the response bytes equal what the client got;
a reader that goes away and comes back is reconnected; a reload keeps the
connection, and does not truncate a file sink; a TCP reader works too; sampling 1/100 over 100 000
dnsperf queries logs 800-1200; recursion is logged as CLIENT_QUERY and
CLIENT_RESPONSE."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import dns.message
import dns.query

from harness import Carouseld, Checks, ctl_stat, free_addr, need, stop_process

ZONES = """zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
    members:
      - {address: 192.0.2.10}
      - {address: 192.0.2.11}
      - {address: "2001:db8::10"}
"""
CLIENT = "127.0.0.1"


# --- a reader of our own for what dnstap-ldns does not print: the bytes ---

def frames(path):
    """Data frames of a Frame Streams file."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if n == 0:  # control frame: its length, then skip it
            (n,) = struct.unpack_from(">I", data, pos)
            pos += 4 + n
            continue
        out.append(data[pos:pos + n])
        pos += n
    return out


def protobuf(buf):
    """{field: [values]} of one protobuf message (varint, fixed, bytes)."""
    fields, pos = {}, 0

    def varint():
        nonlocal pos
        v = shift = 0
        while True:
            b = buf[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while pos < len(buf):
        key = varint()
        field, wt = key >> 3, key & 7
        if wt == 0:
            v = varint()
        elif wt == 1:
            v = buf[pos:pos + 8]
            pos += 8
        elif wt == 2:
            n = varint()
            v = buf[pos:pos + n]
            pos += n
        elif wt == 5:
            (v,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            raise ValueError(f"wire type {wt}")
        fields.setdefault(field, []).append(v)
    return fields


def is_probe(m):
    """The harness's start-up probe: example.test. SOA."""
    msg = m.get(10, m.get(14, [b""]))[0]
    return msg[12:28] == b"\x07example\x04test\x00\x00\x06"


def messages(path):
    """(type, Message fields, Dnstap fields) of every dnstap frame in path,
    but the harness's start-up probes."""
    out = []
    for fr in frames(path):
        top = protobuf(fr)
        m = protobuf(top[14][0])
        if not is_probe(m):
            out.append((m[1][0], m, top))
    return out


def ldns(path):
    """dnstap-ldns -q lines: (mnemonic, address, transport, name, type),
    but the harness's start-up probes (example.test. SOA)."""
    out = subprocess.run(["dnstap-ldns", "-q", "-r", path], capture_output=True, text=True,
                         timeout=60).stdout
    lines = re.findall(r'^\S+ \S+ (\w\w) (\S+) (UDP|TCP) \d+b "([^"]*)" IN (\w+)', out, re.M)
    return [x for x in lines if x[3:] != ("example.test.", "SOA")]


class Capture:
    """fstrm_capture on a unix socket, writing a file."""

    def __init__(self, sock, out):
        self.out = out
        self.proc = subprocess.Popen(["fstrm_capture", "-t", "protobuf:dnstap.Dnstap",
                                      "-u", sock, "-w", out],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # closes the file properly
        stop_process(self.proc)


def kdig(srv, name, rdtype, tcp, tap=None):
    """kdig from CLIENT; with tap, the response bytes it received (its own
    dnstap TOOL_RESPONSE, kdig -E)."""
    args = ["kdig", f"@{srv.addr}", "-p", str(srv.port), "-b", CLIENT, name, rdtype,
            "+retry=0", "+timeout=2"]
    if tcp:
        args.append("+tcp")
    if tap:
        args[1:1] = ["-E", tap]
    subprocess.run(args, capture_output=True, text=True, timeout=10)
    if tap:
        got = [m[14][0] for ty, m, _ in messages(tap) if ty == 12]
        os.unlink(tap)
        return got[0] if got else None
    return None


def raw_udp(srv, name, rdtype):
    """The response bytes, as received."""
    q = dns.message.make_query(name, rdtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((CLIENT, 0))
        s.settimeout(2)
        s.sendto(q.to_wire(), (srv.addr, srv.port))
        return s.recvfrom(65535)[0]


def wait_sent(srv, n, limit=5):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and ctl_stat(srv.ctl, "dnstap.queued") < n:
        time.sleep(0.05)
    return ctl_stat(srv.ctl, "dnstap.queued")


def start_tapped(srv):
    """Start carouseld, then give fstrm's writer thread time to connect
    (it tries at once, and again every second)."""
    srv.start()
    time.sleep(1.5)


def auth(t, out):
    srv = Carouseld(ZONES)
    sock = os.path.join(srv.dir, "dnstap.sock")
    cap = Capture(sock, os.path.join(out, "cap1.fstrm"))
    srv.write_config(ZONES + f"dnstap:\n  sink: unix:{sock}\n  identity: appliance-1\n")
    cap2 = None
    try:
        start_tapped(srv)
        asked, got = [], []
        for i, (name, rdtype) in enumerate([("www.example.test.", "A"),
                                            ("web.example.test.", "AAAA"),
                                            ("example.test.", "MX"), ("example.test.", "NS"),
                                            ("nope.example.test.", "A"),
                                            ("shop.example.test.", "TXT")] * 4):
            tcp = i % 3 == 0
            got.append(kdig(srv, name, rdtype, tcp, tap=os.path.join(out, "kdig.tap")))
            asked.append((name, rdtype, "TCP" if tcp else "UDP"))
        n = len(asked)
        sent = wait_sent(srv, 2 * n + 2)
        t.check(2 * n <= sent <= 2 * n + 4, f"dnstap.queued counts {2 * n} frames (+ probes): {sent}")
        t.eq(ctl_stat(srv.ctl, "dnstap.dropped"), 0, "nothing dropped")
        time.sleep(3)  # fstrm wakes and flushes at least once a second

        # the reader goes away: frames are dropped (or wait in the queue) ...
        cap.stop()
        for i in range(5):
            kdig(srv, f"while-away-{i}.example.test.", "A", False)
        # ... and comes back: fstrm reconnects within a second or two
        cap2 = Capture(sock, os.path.join(out, "cap2.fstrm"))
        time.sleep(2.5)
        for i in range(10):
            kdig(srv, f"after-reconnect-{i}.example.test.", "A", i % 2 == 1)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "event=reload result=ok" not in srv.logtext() and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(10):
            kdig(srv, f"after-reload-{i}.example.test.", "A", False)
        wait_sent(srv, 2 * n + 40)
        time.sleep(3)  # fstrm wakes and flushes at least once a second
    finally:
        srv.stop()
        cap.stop()
        if cap2:
            cap2.stop()
    t.eq(srv.exit_code, 0, "carouseld stopped cleanly")

    lines = ldns(cap.out)
    t.eq(sorted((n, ty, tr) for mn, _, tr, n, ty in lines if mn == "AQ"), sorted(asked),
         f"dnstap-ldns: one AUTH_QUERY per query ({len(asked)}), names, types, transport")
    t.eq(sorted((n, ty, tr) for mn, _, tr, n, ty in lines if mn == "AR"), sorted(asked),
         "dnstap-ldns: one AUTH_RESPONSE per query")
    t.eq({a for _, a, _, _, _ in lines}, {CLIENT}, "the client address is logged")
    msgs = messages(cap.out)
    t.eq(len(msgs), 2 * len(asked), "the capture holds exactly the exchanges asked")
    if not msgs:
        return
    t.check(all(top[1][0] == b"appliance-1" for _, _, top in msgs), "identity appliance-1")
    server = socket.inet_aton(srv.addr)
    t.check(all(m[5][0] == server and m[7][0] == srv.port and m[4][0] == socket.inet_aton(CLIENT)
                for _, m, _ in msgs), "query and response addresses and ports")
    t.check(all(m[2][0] == 1 for _, m, _ in msgs), "socket family INET")
    resp = sorted(m[14][0] for ty, m, _ in msgs if ty == 2)
    t.check(None not in got and resp == sorted(got),
            "AUTH_RESPONSE bytes equal what kdig received (its own dnstap, kdig -E)")
    t.check(all(8 in m and 9 in m for _, m, _ in msgs) and
            all(12 in m and m[12][0] >= m[8][0] for ty, m, _ in msgs if ty == 2),
            "query and response times")

    names2 = {n for mn, _, _, n, _ in ldns(cap2.out) if mn == "AQ"}
    want = {f"after-reconnect-{i}.example.test." for i in range(10)}
    t.eq(sorted(want - names2), [], "a reader that comes back is reconnected")
    want = {f"after-reload-{i}.example.test." for i in range(10)}
    t.eq(sorted(want - names2), [], "a reload keeps the connection")


def tcp_sink(t, out):
    """A reader on TCP (fstrm_capture -a/-p) gets the same frames."""
    srv = Carouseld(ZONES)
    path = os.path.join(out, "tcp.fstrm")
    port = free_addr()[1]
    cap = subprocess.Popen(["fstrm_capture", "-t", "protobuf:dnstap.Dnstap", "-a", "127.0.0.1",
                            "-p", str(port), "-w", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv.write_config(ZONES + f"dnstap:\n  sink: tcp:127.0.0.1@{port}\n")
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the reader listens
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        start_tapped(srv)
        for i in range(5):
            kdig(srv, f"over-tcp-{i}.example.test.", "A", i % 2 == 0)
        wait_sent(srv, 10)
    finally:
        srv.stop()
        cap.send_signal(signal.SIGINT)
        stop_process(cap)
    lines = [(mn, n) for mn, _, _, n, _ in ldns(path) if n.startswith("over-tcp-")]
    t.eq(sorted(lines), sorted([("AQ", f"over-tcp-{i}.example.test.") for i in range(5)] +
                               [("AR", f"over-tcp-{i}.example.test.") for i in range(5)]),
         "tcp: sink: a reader on TCP gets every query and response")


def file_sink(t, out):
    srv = Carouseld(ZONES)
    path = os.path.join(out, "tap.fstrm")
    srv.write_config(ZONES + f"dnstap:\n  sink: {path}\n  log-responses: false\n")
    with srv:
        for i in range(5):
            kdig(srv, f"before-{i}.example.test.", "A", False)
        wait_sent(srv, 5)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "event=reload result=ok" not in srv.logtext() and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(5):
            kdig(srv, f"after-{i}.example.test.", "A", False)
        wait_sent(srv, 10)
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(10)
        lines = ldns(path)
    names = sorted(n for mn, _, _, n, _ in lines if mn == "AQ")
    want = sorted([f"before-{i}.example.test." for i in range(5)] +
                  [f"after-{i}.example.test." for i in range(5)])
    t.eq(names, want, "file sink: a reload does not truncate it (queries only)")
    t.eq([mn for mn, *_ in lines if mn != "AQ"], [], "log-responses: false logs no response")


def sampling(t, out):
    srv = Carouseld(ZONES)
    sock = os.path.join(srv.dir, "dnstap.sock")
    cap = Capture(sock, os.path.join(out, "sample.fstrm"))
    srv.write_config(ZONES + f"dnstap:\n  sink: unix:{sock}\n  sample: 100\n"
                     "  log-responses: false\n")
    qfile = os.path.join(srv.dir, "queries")
    with open(qfile, "w") as f:
        f.write("www.example.test A\nexample.test SOA\nnope.example.test AAAA\n"
                "web.example.test AAAA\n" * 25000)
    try:
        start_tapped(srv)
        out = subprocess.run(["dnsperf", "-s", srv.addr, "-p", str(srv.port), "-d", qfile,
                              "-n", "1", "-c", "2", "-q", "100", "-Q", "25000", "-t", "2"],
                             capture_output=True, text=True, timeout=120).stdout
        sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
        time.sleep(3)
    finally:
        srv.stop()
        cap.stop()
    n = sum(1 for mn, *_ in ldns(cap.out) if mn == "AQ")
    t.check(sent == 100000 and 800 <= n <= 1200,
            f"sample 100: {n} records over {sent} dnsperf queries (800-1200)")


def recursion(t, out):
    try:
        from hierarchy import Hierarchy
    except Exception as e:  # noqa: BLE001
        print(f"note: no hierarchy for recursion ({e})")
        return
    h = None
    for attempt in range(3):  # a loaded machine may start knotd slowly
        h = Hierarchy()
        try:
            h.start()
            break
        except RuntimeError as e:
            print(f"note: hierarchy attempt {attempt + 1}: {e}")
            h.close()  # stops the servers that did start
            h = None
    if h is None:
        t.check(False, "recursion: the local hierarchy of Knot servers started")
        return
    srv = Carouseld(ZONES)
    sock = os.path.join(srv.dir, "dnstap.sock")
    cap = Capture(sock, os.path.join(out, "rec.fstrm"))
    srv.write_config(ZONES + f"""recursion:
  enable: true
  root-hints: {h.hints}
  query-loopback: true
dnstap:
  sink: unix:{sock}
""")
    got = []
    try:
        start_tapped(srv)
        for _ in range(3):  # a miss (upstream), then cache hits
            got.append(raw_udp(srv, "www.example.org.", "A"))
        kdig(srv, "www.example.test.", "A", False)
        wait_sent(srv, 8)
        time.sleep(3)
    finally:
        srv.stop()
        cap.stop()
        h.close()
    lines = ldns(cap.out)
    t.eq(sorted((mn, n) for mn, _, _, n, _ in lines),
         [("AQ", "www.example.test."), ("AR", "www.example.test.")] +
         [("CQ", "www.example.org.")] * 3 + [("CR", "www.example.org.")] * 3,
         "recursion: CLIENT_QUERY/CLIENT_RESPONSE (upstream and cached), zones AUTH_*")
    resp = sorted(m[14][0] for ty, m, _ in messages(cap.out) if ty == 6)
    t.eq(resp, sorted(got), "CLIENT_RESPONSE bytes equal what the client received")


def main():
    need("fstrm_capture", "dnstap-ldns", "kdig", "dnsperf")
    t = Checks("dnstap")
    out = tempfile.mkdtemp(prefix="carousel-dnstap-")
    try:
        auth(t, out)
        tcp_sink(t, out)
        file_sink(t, out)
        sampling(t, out)
        recursion(t, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
