"""fastpath.py -- the fixture both fast paths run: carouseld with
--dataplane dpdk or xdp on the appliance end of a veth pair (harness.Wire),
the bundled zones and pools plus a health-checked pool, and plain kernel
clients (dig, dnspython) in the other namespace. `scenario` is what every
fast path must do; dpdk_test.py and xdp_test.py add what is theirs."""
import json
import os
import subprocess
import tempfile

from harness import (CAROUSELCTL, CAROUSELD, SRC, check_fastpath_health, ctl_stat,
                     health_pool_yaml, stop_process)

REPLICAS = ["192.0.2.10", "192.0.2.11", "192.0.2.12"]


class Appliance:
    """carouseld --dataplane `backend` in w.app. `dataplane` is the
    backend's part of the dataplane section (the addresses are added);
    extra is appended to the config; args follow the command line."""

    def __init__(self, w, backend, dataplane, extra="", health=True, args=()):
        self.w, self.backend, self.args = w, backend, list(args)
        self.tmp = tempfile.mkdtemp(prefix=f"carousel-{backend}-")
        self.ctl = os.path.join(self.tmp, "ctl.sock")
        self.cfg = os.path.join(self.tmp, "carousel.yaml")
        with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
            text = f.read()
        text = text[text.index("\nzones:") + 1:].replace("file: zones/",
                                                         f"file: {SRC}/configs/zones/")
        self.flags = [os.path.join(self.tmp, "up-a"), os.path.join(self.tmp, "up-b")]
        if health:
            for flag in self.flags:
                open(flag, "w").close()
            text = text.replace("pools:\n", "pools:\n" + health_pool_yaml(*self.flags), 1)
        self.text = text + extra
        self.head = f"""server:
  listen: [{w.APP_IP4}@53, "{w.APP_IP6}@53"]
  workers: 1
  control-socket: {self.ctl}
dataplane:
{dataplane}  address: [{w.APP_IP4}/24, "{w.APP_IP6}/64"]
"""
        self.write(self.text)
        self.log = open(os.path.join(self.tmp, "log"), "w+")
        self.start()

    def write(self, text):
        with open(self.cfg, "w") as f:
            f.write(self.head + text)

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.w.app, CAROUSELD, "-c",
                                      self.cfg, "--dataplane", self.backend, *self.args],
                                     stdout=self.log, stderr=self.log)

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stat(self, name):
        return ctl_stat(self.ctl, name)

    def ctl_cmd(self, *args):
        return subprocess.run([CAROUSELCTL, "-s", self.ctl, *args], capture_output=True,
                              text=True, timeout=10)

    def dig(self, *args):
        """dig at the appliance's IPv4 address from the client namespace."""
        return self.w.dig(f"@{self.w.APP_IP4}", *args)

    def stop(self, grace=10):
        rc = stop_process(self.proc, grace)
        self.log.close()
        return rc


# In the client namespace: one query over UDP (the fast path) and the same
# bytes over TCP (through the kernel to carouseld's socket); both replies.
ASK_BOTH = r"""
import json, socket, struct, sys
import dns.message
server, name, rdtype, edns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
q = dns.message.make_query(name, rdtype, use_edns=0 if edns else None, payload=edns or 512)
wire = q.to_wire()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(wire, (server, 53))
udp = u.recv(65535)
t = socket.create_connection((server, 53), timeout=2)
t.sendall(struct.pack("!H", len(wire)) + wire)
buf = b""
while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
    chunk = t.recv(65535)
    if not chunk:
        break
    buf += chunk
print(json.dumps([udp.hex(), buf[2:].hex()]))
"""


def _records(msg):
    """(header, question, sorted RRs) of a DNS message as bytes. Names in
    RRs stay as written (compression pointers included): the fast path and
    the socket path compress alike, only the rotation order may differ."""
    def skip_name(p):
        while p < len(msg):
            n = msg[p]
            if n == 0:
                return p + 1
            if n & 0xC0 == 0xC0:
                return p + 2
            p += 1 + n
        raise ValueError("name runs past the message")

    qd = int.from_bytes(msg[4:6], "big")
    count = sum(int.from_bytes(msg[i:i + 2], "big") for i in (6, 8, 10))
    p = 12
    for _ in range(qd):
        p = skip_name(p) + 4
    question, rrs = msg[12:p], []
    for _ in range(count):
        start = p
        p = skip_name(p)
        p += 10 + int.from_bytes(msg[p + 8:p + 10], "big")
        rrs.append(msg[start:p])
    if p != len(msg):
        raise ValueError(f"{len(msg) - p} bytes after the last record")
    return msg[:12], question, sorted(rrs)


def same_answer_as_socket(w, name, rdtype="A", edns=0, ignore_ra=False):
    """The one check of a fast-path answer against carouseld's own: the
    same query over UDP (answered by the fast path) and over TCP (the
    socket path) gets the same bytes -- ID, flags, counts, question, every
    record with its TTL -- but for the order rotation gives the records.
    ignore_ra: with recursion on, the socket path sets RA for a client in
    `allow`; an entry of our own data on the fast path never does.
    Returns (equal, what differs)."""
    out = w.in_cli("/usr/bin/python3", "-c", ASK_BOTH, w.APP_IP4, name, rdtype,
                   str(edns)).stdout
    try:
        udp, tcp = (bytearray.fromhex(x) for x in json.loads(out))
        if ignore_ra and len(udp) > 3 and len(tcp) > 3:
            udp[3] &= 0x7F
            tcp[3] &= 0x7F
        udp, tcp = bytes(udp), bytes(tcp)
        a, b = _records(udp), _records(tcp)
    except (ValueError, json.JSONDecodeError) as e:
        return False, f"no comparable answers ({e}; {out.strip()!r})"
    for part, x, y in zip(("header", "question", "records"), a, b):
        if x != y:
            return False, f"{part} differs: {x!r} vs {y!r}"
    return True, f"{len(a[2])} records"


def scenario(t, a, counter, queries=3, ignore_ra=False):
    """What every fast path does, `counter` its answered counter
    (dpdk.answered, xdp.answered); ignore_ra as for same_answer_as_socket.
    Returns the first replica of each of `queries` rotated answers, for a
    backend to check the order."""
    label, w = a.backend, a.w
    before, sock = a.stat(counter), a.stat("queries.udp")
    answers = [a.dig("www.example.test", "+short").split() for _ in range(queries)]
    t.check(all(sorted(x[1:]) == REPLICAS for x in answers),
            f"{label}: every answer has the alias's replicas ({answers})")
    firsts = [x[1] for x in answers if len(x) > 1]
    t.check(len(set(firsts)) >= 2, f"{label}: replicas rotate ({firsts})")
    t.eq(a.stat(counter) - before, queries, f"{label}: answered by the fast path ({counter})")
    t.eq(a.stat("queries.udp") - sock, 0, f"{label}: ...and not a second time by the socket")
    for name, rdtype, edns in (("www.example.test", "A", 0), ("WwW.Example.TEST", "A", 1232),
                               ("shop.example.test", "AAAA", 1232)):
        before = a.stat(counter)
        ok, why = same_answer_as_socket(w, name, rdtype, edns, ignore_ra)
        t.check(ok and a.stat(counter) - before == 1,
                f"{label}: {name} {rdtype} (EDNS {edns or 'no'}): the fast path's answer is "
                f"the socket path's ({why})")

    out = w.dig(f"@{w.APP_IP6}", "shop.example.test", "AAAA", "+short")
    t.check("2001:db8::10" in out and "2001:db8::11" in out,
            f"{label}: IPv6 query answered (ND works)")
    miss, udp = a.stat(f"{label}.punted.miss"), a.stat("queries.udp")
    out = a.dig("mail.example.test", "MX", "+short")
    t.eq(out.strip(), "10 mx.example.test.", f"{label}: a name only carouseld knows is answered")
    t.check(a.stat(f"{label}.punted.miss") > miss and a.stat("queries.udp") > udp,
            f"{label}: ...punted (miss) to carouseld's socket")
    out = a.dig("www.example.test", "+tcp", "+short")
    t.check("192.0.2.1" in out, f"{label}: TCP through the kernel")
    check_fastpath_health(t, label, a.dig, a.stat, counter, a.flags[1])

    # a reload that changes a pool is served by the fast path on the next query
    a.write(a.text.replace("{address: 192.0.2.10}", "{address: 192.0.2.110}", 1))
    t.eq(a.ctl_cmd("reload").returncode, 0, f"{label}: carouselctl reload")
    before = a.stat(counter)
    out = a.dig("www.example.test", "+short")
    t.check("192.0.2.110" in out and "192.0.2.10\n" not in out,
            f"{label}: the changed pool is answered after the reload")
    t.eq(a.stat(counter) - before, 1, f"{label}: ...by the fast path")
    a.write(a.text)
    t.eq(a.ctl_cmd("reload").returncode, 0, f"{label}: reload back to the original pool")
    return firsts
