"""corp_farm.py -- three Knot DNS servers on loopback, each serving
corp.example. with TXT records that name it ("knot0".."knot2"), a server
that answers late, and the query helpers the backend-group tests share
(with carouseld or with dnsdist in front)."""
import os
import shutil
import socket
import tempfile
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset

from harness import SRC, Knot, free_addr, stop_process

BIG = " ".join('"' + "x" * 200 + '"' for _ in range(8))  # > 1232 bytes
MID = " ".join('"' + "x" * 200 + '"' for _ in range(4))  # > 512, < 1232


class Farm:
    def __init__(self, n=3):
        self.dir = tempfile.mkdtemp(prefix="carousel-farm-")
        example = os.path.join(SRC, "configs", "zones", "example.test.zone")
        self.knots = []
        try:
            for i in range(n):
                self.knots.append(Knot([("example.test.", example),
                                        ("corp.example.", self.zone(f"knot{i}"))]).start())
        except Exception:
            self.stop()
            raise

    def zone(self, tag):
        path = os.path.join(self.dir, f"corp.{tag}.zone")
        with open(path, "w") as f:
            f.write(f"""$ORIGIN corp.example.
$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 192.0.2.53
who TXT "{tag}"
*.w TXT "{tag}"
short 1 TXT "{tag}"
big TXT {BIG}
mid TXT {MID}
""")
        return path

    def server(self, i):
        """ADDRESS@PORT of knot i."""
        return f"{self.knots[i].addr}@{self.knots[i].port}"

    def kill(self, i):
        stop_process(self.knots[i].proc)
        self.knots[i].proc = None

    def revive(self, i):
        if self.knots[i].proc is None:
            self.knots[i].start()  # same directory and config

    def stop(self):
        for k in self.knots:
            k.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SlowServer:
    """A DNS server on loopback that answers every question after `delay`
    seconds (TXT "slow" for TXT, an empty NOERROR otherwise)."""

    def __init__(self, delay):
        self.addr, self.port = free_addr()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.addr, self.port))
        self.sock.settimeout(0.1)
        self.delay, self.running = delay, True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def reply(self, q, peer):
        r = dns.message.make_response(q)
        if q.question[0].rdtype == dns.rdatatype.TXT:
            r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "TXT", '"slow"'))
        try:
            self.sock.sendto(r.to_wire(), peer)
        except OSError:
            pass

    def serve(self):
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(4096)
                q = dns.message.from_wire(wire)
            except (OSError, dns.exception.DNSException):
                continue
            threading.Timer(self.delay, self.reply, (q, peer)).start()

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def ask(target, name, rdtype="TXT", tcp=False, **kw):
    """Query target (anything with .addr and .port)."""
    q = dns.message.make_query(name, rdtype, **kw)
    if tcp:
        return dns.query.tcp(q, target.addr, port=target.port, timeout=3)
    return dns.query.udp(q, target.addr, port=target.port, timeout=3)


def who(r):
    """The tag of the server that made answer r, or None."""
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.TXT:
            return b"".join(rr[0].strings).decode()
    return None


def spread(target, n, prefix):
    """n queries for distinct names: {tag: count} (None: no answer)."""
    counts = {}
    for i in range(n):
        try:
            w = who(ask(target, f"{prefix}{i}.w.corp.example."))
        except dns.exception.Timeout:
            w = None
        counts[w] = counts.get(w, 0) + 1
    return counts


def until(cond, limit):
    """Seconds until cond() held (polled every 20 ms), None after limit."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if cond():
            return time.monotonic() - start
        time.sleep(0.02)
    return None
