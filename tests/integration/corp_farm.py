"""corp_farm.py -- three Knot DNS servers on loopback, each serving
corp.example. with TXT records that name it ("knot0".."knot2"), a server
that answers late, dnsdist, and the query helpers the backend-group tests
and benchmark share (with carouseld or with dnsdist in front)."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset

from harness import SRC, Carouseld, Knot, free_addr, stop_process

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


class Carousel(Carouseld):
    """carouseld with one backend group, corp, configured as Dnsdist is."""

    def __init__(self, policy, servers, interval=1, fall=2, rise=2, cache=False):
        text = (f"backends:\n  - name: corp\n    domains: [corp.example.]\n"
                f"    policy: {policy}\n    servers:\n")
        for address, weight, order in servers:
            text += f'      - {{address: "{address}", weight: {weight}, order: {order}}}\n'
        text += (f"    check: {{interval: {interval}s, timeout: 1s, rise: {rise}, "
                 f"fall: {fall}}}\n    timeout: 2s\n")
        if cache:
            text += "    cache: {size: 64M}\n"
        super().__init__(text)


DNSDIST_POLICY = {"round-robin": "roundrobin", "weighted": "wrandom",
                  "least-outstanding": "leastOutstanding", "consistent-hash": "chashed",
                  "first-available": "firstAvailable"}


class Dnsdist:
    """dnsdist on a private 127.x address in front of servers
    [(ADDRESS@PORT, weight, order)], with the policy named as ours and the
    same health settings; no console, no security polling (it would query
    the Internet); stopped by pid."""

    def __init__(self, policy, servers, interval=1, fall=2, rise=2, cache=False):
        self.dir = tempfile.mkdtemp(prefix="carousel-dnsdist-")
        self.addr, self.port = free_addr()
        lines = [f'setLocal("{self.addr}:{self.port}")', 'setACL({"127.0.0.0/8"})',
                 'setSecurityPollSuffix("")', "setWHashedPertubation(1)",
                 f"setServerPolicy({DNSDIST_POLICY[policy]})"]
        for k, (address, weight, order) in enumerate(servers):
            host, port = address.split("@")
            # a UUID fixed by the address: chashed's ring points derive from it
            sid = uuid.uuid5(uuid.NAMESPACE_URL, address)
            lines.append(
                f'newServer({{address="{host}:{port}", name="s{k}", id="{sid}", '
                f'weight={weight}, '
                f'order={order}, checkName="corp.example.", checkType="SOA", '
                f'checkInterval={interval}, checkTimeout=1000, maxCheckFailures={fall}, '
                f'rise={rise}}})')
        if cache:  # the packet cache, as large as it needs
            lines += ["pc = newPacketCache(100000, {maxTTL=86400, minTTL=0})",
                      'getPool(""):setCache(pc)']
        self.conf = os.path.join(self.dir, "dnsdist.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "dnsdist.log"), "w+")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["dnsdist", "--supervised", "--disable-syslog", "-C",
                                      self.conf], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        if until(self.answering, 15) is None:
            self.log.seek(0)
            raise RuntimeError("dnsdist did not answer: " + self.log.read()[-2000:])
        return self

    def answering(self):
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise RuntimeError("dnsdist exited: " + self.log.read()[-2000:])
        try:
            return who(ask(self, "who.corp.example.")) is not None
        except Exception:
            return False

    def stop(self):
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


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
