#!/usr/bin/python3
"""socket_test.py -- carouseld on the bundled config, asked by dig and
dnspython over UDP and TCP: aliases, rotation, AAAA, MX/SRV with
additional data, negative answers, REFUSED, FORMERR for garbage, TC and
the TCP retry, pipelined TCP, reloads good and bad, --check."""
import os
import signal
import socket
import struct
import subprocess
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from harness import CAROUSELD, Carouseld, Checks, dig, need

need("dig")
t = Checks("socket")


def addrs(resp, rdtype):
    return [r.address for rrset in resp.answer if rrset.rdtype == rdtype for r in rrset]


with Carouseld() as d:
    # CNAME + A chain with dig, and the rotation order over N queries
    out = dig(d, "www.example.test", "A", "+short")
    lines = out.split()
    t.eq(lines[0], "web.example.test.", "dig: www is a CNAME to web")
    t.eq(sorted(lines[1:]), ["192.0.2.10", "192.0.2.11", "192.0.2.12"],
         "dig: web's three IPv4 replicas follow the CNAME")
    firsts = []
    for _ in range(6):
        firsts.append(dig(d, "www.example.test", "A", "+short").split()[1])
    t.eq(firsts, ["192.0.2.11", "192.0.2.12", "192.0.2.10"] * 2,
         "round-robin: each answer starts at the next replica")
    r = d.query("www.example.test.", "A")
    t.check(r.flags & dns.flags.AA and not r.flags & dns.flags.RA, "AA set, RA clear")
    t.eq(r.answer[0].ttl, 30, "pool TTL on the CNAME")

    # weighted pool, answer-count 1: smooth WRR 5:1:1
    seq = [d.query("app.example.test.", "A").answer[1][0].address for _ in range(7)]
    t.eq(seq, ["192.0.2.20", "192.0.2.20", "192.0.2.21", "192.0.2.20", "192.0.2.22",
               "192.0.2.20", "192.0.2.20"], "weighted pool follows the smooth WRR sequence")

    # AAAA, rotated on its own
    r = d.query("www.example.test.", "AAAA")
    t.eq(sorted(addrs(r, dns.rdatatype.AAAA)), ["2001:db8::10", "2001:db8::11"],
         "AAAA: the IPv6 replicas")

    # MX + additional, SRV (RFC 6186)
    r = d.query("mail.example.test.", "MX")
    t.eq(str(r.answer[0][0].exchange), "mx.example.test.", "MX to the mail pool")
    add = sorted(str(a) for rr in r.additional for a in rr)
    t.eq(add, ["192.0.2.25", "192.0.2.26", "2001:db8::25"], "MX: addresses in additional")
    for svc, port in (("_imaps._tcp", 993), ("_pop3s._tcp", 995), ("_submission._tcp", 587)):
        r = d.query(f"{svc}.example.test.", "SRV")
        t.check(r.answer and r.answer[0][0].port == port and len(r.additional) == 2,
                f"SRV {svc} port {port} with the target's addresses")

    # negative answers
    r = d.query("nope.example.test.", "A")
    t.eq(dns.rcode.to_text(r.rcode()), "NXDOMAIN", "NXDOMAIN for a missing name")
    t.check(r.authority and r.authority[0].rdtype == dns.rdatatype.SOA
            and r.authority[0].ttl == 300, "NXDOMAIN carries the SOA with the negative TTL")
    r = d.query("static.example.test.", "MX")
    t.check(r.rcode() == 0 and not r.answer and r.authority[0].rdtype == dns.rdatatype.SOA,
            "NODATA: NOERROR, no answer, SOA in authority")
    r = d.query("ent.example.test.", "A")
    t.check(r.rcode() == 0 and not r.answer, "empty non-terminal is NODATA")
    r = d.query("www.example.org.", "A")
    t.eq(dns.rcode.to_text(r.rcode()), "REFUSED", "REFUSED outside our zones")
    r = d.query("deep.sub.example.test.", "A")
    t.check(not r.flags & dns.flags.AA and r.authority[0].rdtype == dns.rdatatype.NS
            and r.additional, "referral: AA clear, NS in authority, glue")

    # FORMERR for garbage (raw bytes), silence for a response
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xfe\xfd", (d.addr, d.port))
        resp = s.recv(4096)
        t.check(resp[:2] == b"\x12\x34" and resp[3] & 0xf == 1 and resp[2] & 0x80,
                "garbage question: FORMERR with the same ID")
        s.sendto(b"\x12\x35\x81\x00" + b"\x00" * 8, (d.addr, d.port))
        s.settimeout(0.5)
        try:
            s.recv(4096)
            t.check(False, "a response (QR=1) is not answered")
        except socket.timeout:
            t.check(True, "a response (QR=1) is not answered")

    # TC over UDP, then dig retries over TCP and gets the whole TXT
    r = d.query("big.example.test.", "TXT", use_edns=0, payload=1232)
    t.check(r.flags & dns.flags.TC and not r.answer, "big TXT over UDP: TC=1, no partial RRset")
    out = dig(d, "big.example.test", "TXT")
    t.check("Truncated, retrying in TCP mode" in out and out.count("\tTXT\t") == 6,
            "dig retries over TCP and gets all six TXT strings")

    # several pipelined queries on one TCP connection
    names = ["www.example.test.", "mail.example.test.", "nope.example.test.", "static.example.test."]
    with socket.create_connection((d.addr, d.port), timeout=3) as s:
        wire = b""
        for i, n in enumerate(names):
            q = dns.message.make_query(n, "A")
            q.id = 100 + i
            w = q.to_wire()
            wire += struct.pack("!H", len(w)) + w
        s.sendall(wire)
        got = {}
        buf = b""
        while len(got) < len(names):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                m = dns.message.from_wire(buf[2:2 + n])
                got[m.id] = m
                buf = buf[2 + n:]
        t.eq(sorted(got), [100, 101, 102, 103], "four pipelined TCP queries, four answers")
        t.check(got.get(102) is not None and got[102].rcode() == dns.rcode.NXDOMAIN,
                "pipelined answers are matched by ID")

    # reload: a good file adds an answer; a bad file keeps the old data
    with open(d.config) as f:
        good = f.read()
    zone = os.path.join(d.dir, "zones", "example.test.zone")
    with open(zone, "a") as f:
        f.write("new             IN A    192.0.2.123\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    for _ in range(50):
        r = d.query("new.example.test.", "A")
        if r.answer:
            break
        time.sleep(0.05)
    t.eq(addrs(r, dns.rdatatype.A), ["192.0.2.123"], "SIGHUP reload: the new name answers")
    with open(d.config, "w") as f:
        f.write(good.replace("method: round-robin", "method: random-pick", 1))
    res = d.ctl_cmd("reload")
    t.check(res.returncode == 1 and "carousel.yaml:" in res.stderr and "random-pick" in res.stderr,
            "carouselctl reload of a bad file fails with file:line:col")
    t.check("event=reload result=failed kept=old" in d.logtext(), "bad reload logged")
    r = d.query("new.example.test.", "A")
    t.eq(addrs(r, dns.rdatatype.A), ["192.0.2.123"], "old config still serving after a bad reload")
    with open(d.config, "w") as f:
        f.write(good)
    t.eq(d.ctl_cmd("reload").returncode, 0, "carouselctl reload of a good file")
    st = d.ctl_cmd("status")
    t.check(st.returncode == 0 and "reloads-ok 2" in st.stdout and "reloads-failed 1" in st.stdout,
            "status counts reloads")
    stats = d.ctl_cmd("stats").stdout
    t.check("rcode.NXDOMAIN" in stats and "queries.tcp" in stats and "qtype.SRV 3" in stats,
            "stats by rcode, transport and qtype")
    t.check(d.proc.poll() is None, "carouseld still running")

t.eq(d.exit_code, 0, "SIGTERM: clean exit (no sanitizer report)")

# --check exit codes
good = subprocess.run([CAROUSELD, "--check", os.path.join(os.environ.get(
    "CAROUSEL_SOURCE", "."), "configs", "carousel.yaml")], capture_output=True, text=True)
t.eq(good.returncode, 0, "--check on the bundled config exits 0")
bad = subprocess.run([CAROUSELD, "--check", "/nonexistent.yaml"], capture_output=True, text=True)
t.eq(bad.returncode, 1, "--check on a missing file exits 1")
t.eq(subprocess.run([CAROUSELD, "--help"], capture_output=True).returncode, 0, "--help exits 0")
t.done()
