"""fleet.py -- Knot DNS as a hidden primary (TSIG key, NOTIFY to the
appliance, changes through knotc transactions) for the secondary-zone and
anycast tests."""
import base64
import os
import random
import shutil
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from harness import CAROUSELD, stop_process

SECRET = base64.b64encode(b"carousel-fleet-test-secret-0123").decode()
WRONG = base64.b64encode(b"not-the-secret-the-primary-has!").decode()


def zone_text(apex, serial, refresh=3600, retry=1, expire=3600, extra=""):
    return (f"$ORIGIN {apex}\n$TTL 60\n"
            f"@ SOA ns1.{apex} hostmaster.{apex} {serial} {refresh} {retry} {expire} 60\n"
            f"@ NS ns1.{apex}\nns1 A 192.0.2.53\nold A 192.0.2.1\n{extra}")


class Primary:
    """knotd on addr@port (a 127.x address, or one inside a namespace
    when `netns` is given), serving zones {apex: (text, journal)} with
    NOTIFY to every (addr, port) in `notify`."""

    def __init__(self, addr, port, zones, notify, netns=None):
        self.dir = tempfile.mkdtemp(prefix="carousel-primary-")
        os.chmod(self.dir, 0o755)
        self.addr, self.port, self.netns = addr, port, netns
        zdir = os.path.join(self.dir, "zones")
        os.makedirs(zdir)
        os.makedirs(os.path.join(self.dir, "db"))  # the journal lives there
        remotes = "".join(f"  - id: appliance{i}\n    address: {a}@{p}\n    key: xfr-key.\n"
                          f"    via: {addr}\n" for i, (a, p) in enumerate(notify))
        ids = ", ".join(f"appliance{i}" for i in range(len(notify)))
        zconf = ""
        for apex, (text, journal) in zones.items():
            with open(os.path.join(zdir, apex + "zone"), "w") as f:
                f.write(text)
            zconf += (f"  - domain: {apex}\n    file: {apex}zone\n"
                      f"    journal-content: {'changes' if journal else 'none'}\n")
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write(f"""server:
    listen: {addr}@{port}
    rundir: {self.dir}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: {self.dir}/db
log:
  - target: stderr
    any: info
key:
  - id: xfr-key.
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
{remotes}acl:
  - id: xfr
    key: xfr-key.
    action: transfer
template:
  - id: default
    storage: {zdir}
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: off
    serial-policy: increment
    notify: [{ids}]
    acl: xfr
zone:
{zconf}""")
        self.log = open(os.path.join(self.dir, "knotd.log"), "w+")
        self.proc = None

    def wrap(self, args):
        return (["ip", "netns", "exec", self.netns] + args) if self.netns else args

    def start(self, wait_zone=None):
        self.proc = subprocess.Popen(self.wrap(["knotd", "-c",
                                                os.path.join(self.dir, "knot.conf")]),
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited: " + self.logtext())
            if self.knotc("status").returncode == 0:
                if not wait_zone or self.serial(wait_zone) is not None:
                    return self
            time.sleep(0.05)
        raise RuntimeError("knotd did not start: " + self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def knotc(self, *args):
        return subprocess.run(self.wrap(["knotc", "-s", os.path.join(self.dir, "knot.sock"),
                                         *args]), capture_output=True, text=True, timeout=20)

    def serial(self, apex):
        r = self.knotc("zone-read", apex, "@", "SOA")
        for line in r.stdout.splitlines():
            parts = line.split()
            if "SOA" in parts:
                return int(parts[parts.index("SOA") + 3])
        return None

    def change(self, apex, sets=(), unsets=()):
        """One transaction: zone-unset/zone-set lines, committed (Knot
        bumps the serial unless an SOA is set); returns the new serial."""
        r = self.knotc("zone-begin", apex)
        assert r.returncode == 0 and "error" not in r.stdout + r.stderr, r.stdout + r.stderr
        for u in unsets:
            r = self.knotc("zone-unset", apex, *u.split())
            assert r.returncode == 0, r.stdout + r.stderr
        for s in sets:
            r = self.knotc("zone-set", apex, *s.split())
            assert r.returncode == 0, r.stdout + r.stderr
        r = self.knotc("zone-commit", apex)
        assert r.returncode == 0, r.stdout + r.stderr
        return self.serial(apex)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def close(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def until(fn, limit, step=0.05):
    """Poll fn() until it is true or `limit` seconds pass: (value, seconds)."""
    start = time.monotonic()
    while True:
        v = fn()
        if v or time.monotonic() - start >= limit:
            return v, time.monotonic() - start
        time.sleep(step)


def source_port():
    """A random source port below the ephemeral range: the tests keep
    working when other programs on the machine hold every ephemeral port."""
    return random.randint(10000, 32000)


def answer(addr, port, name, rdtype="A", source=None, timeout=1.0):
    """(rcode text, sorted rdata texts) or (None, []) on a timeout."""
    q = dns.message.make_query(name, rdtype)
    for attempt in range(2):  # one retry: a datagram lost on a loaded machine
        try:
            r = dns.query.udp(q, addr, port=port, timeout=timeout, source=source or "0.0.0.0",
                              source_port=source_port(), ignore_trailing=True)
            break
        except Exception:
            if attempt:
                return None, []
    vals = sorted(rd.to_text() for rr in r.answer for rd in rr if rr.rdtype ==
                  dns.rdatatype.from_text(rdtype))
    return dns.rcode.to_text(r.rcode()), vals


def start_carouseld(car):
    """car.start(), polling with answer() (see source_port)."""
    car.proc = subprocess.Popen([CAROUSELD, "-c", car.config], stdout=car.log, stderr=car.log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if car.proc.poll() is not None:
            raise RuntimeError("carouseld exited: " + car.logtext())
        if answer(car.addr, car.port, "example.test.", "SOA", timeout=0.2)[0] == "NOERROR":
            return car
        time.sleep(0.05)
    raise RuntimeError("carouseld did not answer: " + car.logtext())
