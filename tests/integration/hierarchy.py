"""hierarchy.py -- a small DNS hierarchy of Knot DNS servers on 127.53.x
addresses (root, two TLDs, authoritative servers), a root hints file for
it, and a reference Unbound iterating over it. Everything stays on
loopback; every server is stopped by pid."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import dns.message
import dns.query

from harness import free_addr, stop_process

SERIAL = "2026112501"


def soa(apex, ns):
    return f"{apex} 3600 IN SOA {ns} hostmaster.{apex if apex != '.' else ''} {SERIAL} 3600 600 86400 60\n"


def pick_net():
    """A 127.x.y prefix with nothing bound on .1-.9 port 53."""
    import random
    for _ in range(50):
        b, c = random.randint(1, 250), random.randint(0, 250)
        ok = True
        for d in range(1, 10):
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind((f"127.{b}.{c}.{d}", 53))
            except OSError:
                ok = False
                break
        if ok:
            return f"127.{b}.{c}."
    raise RuntimeError("no free 127.x prefix")


class Hierarchy:
    """root (.1) -> org. (.2), net. (.3) -> example.org., lame.org. (.4),
    other.net., nog.net., nog.org. (.5). Lame delegations point at .5,
    which answers REFUSED for lame.org. and dead.org."""

    def __init__(self, netns=None):
        self.dir = tempfile.mkdtemp(prefix="carousel-hier-")
        self.netns = netns  # run the servers inside this namespace
        self.net = "127.53.0." if netns else pick_net()
        n = self.net
        self.ip = {k: n + str(v) for k, v in
                   dict(root=1, org=2, nettld=3, auth1=4, auth2=5, lame=9).items()}
        ip = self.ip
        self.zones = {
            "root": {".": soa(".", "ns.root.") + f"""
. 3600 IN NS ns.root.
ns.root. 3600 IN A {ip['root']}
org. 3600 IN NS ns.org.
ns.org. 3600 IN A {ip['org']}
net. 3600 IN NS ns.net.
ns.net. 3600 IN A {ip['nettld']}
"""},
            "org": {"org.": soa("org.", "ns.org.") + f"""
org. 3600 IN NS ns.org.
ns.org. 3600 IN A {ip['org']}
example.org. 3600 IN NS ns1.example.org.
ns1.example.org. 3600 IN A {ip['auth1']}
lame.org. 3600 IN NS ns-dead.lame.org.
lame.org. 3600 IN NS ns-ok.lame.org.
ns-dead.lame.org. 3600 IN A {ip['auth2']}
ns-ok.lame.org. 3600 IN A {ip['auth1']}
nog.org. 3600 IN NS ns.nog.net.
dead.org. 3600 IN NS ns.dead.org.
ns.dead.org. 3600 IN A {ip['auth2']}
"""},
            "nettld": {"net.": soa("net.", "ns.net.") + f"""
net. 3600 IN NS ns.net.
ns.net. 3600 IN A {ip['nettld']}
other.net. 3600 IN NS ns.other.net.
ns.other.net. 3600 IN A {ip['auth2']}
nog.net. 3600 IN NS ns.nog.net.
ns.nog.net. 3600 IN A {ip['auth2']}
"""},
            "auth1": {
                "example.org.": soa("example.org.", "ns1.example.org.") + f"""
example.org. 3600 IN NS ns1.example.org.
ns1.example.org. 3600 IN A {ip['auth1']}
www.example.org. 300 IN A 192.0.2.80
www.example.org. 300 IN AAAA 2001:db8::80
alias.example.org. 300 IN CNAME www.other.net.
mx.example.org. 300 IN MX 10 mail.example.org.
mail.example.org. 300 IN A 192.0.2.25
short.example.org. 2 IN A 192.0.2.2
txtonly.example.org. 300 IN TXT "no address here"
""" + "".join(f'big.example.org. 300 IN TXT "{str(i) * 200}"\n' for i in range(8)),
                "lame.org.": soa("lame.org.", "ns-ok.lame.org.") + f"""
lame.org. 3600 IN NS ns-dead.lame.org.
lame.org. 3600 IN NS ns-ok.lame.org.
ns-dead.lame.org. 3600 IN A {ip['auth2']}
ns-ok.lame.org. 3600 IN A {ip['auth1']}
www.lame.org. 300 IN A 192.0.2.90
"""},
            "auth2": {
                "other.net.": soa("other.net.", "ns.other.net.") + f"""
other.net. 3600 IN NS ns.other.net.
ns.other.net. 3600 IN A {ip['auth2']}
www.other.net. 600 IN A 192.0.2.81
""",
                "nog.net.": soa("nog.net.", "ns.nog.net.") + f"""
nog.net. 3600 IN NS ns.nog.net.
ns.nog.net. 3600 IN A {ip['auth2']}
""",
                "nog.org.": soa("nog.org.", "ns.nog.net.") + """
nog.org. 3600 IN NS ns.nog.net.
www.nog.org. 300 IN A 192.0.2.91
"""},
        }
        self.hints = os.path.join(self.dir, "root.hints")
        with open(self.hints, "w") as f:
            f.write(f". 3600000 NS ns.root.\nns.root. 3600000 A {ip['root']}\n")
        self.procs = {}

    def _knot(self, server):
        d = os.path.join(self.dir, server)
        os.makedirs(d, exist_ok=True)
        zconf = ""
        for apex, text in self.zones[server].items():
            fname = "root.zone" if apex == "." else apex + "zone"
            with open(os.path.join(d, fname), "w") as f:
                f.write(text)
            zconf += f"  - domain: \"{apex}\"\n    file: {fname}\n"
        with open(os.path.join(d, "knot.conf"), "w") as f:
            f.write(f"""server:
    listen: {self.ip[server]}@53
    rundir: {d}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: {d}/db
log:
  - target: stderr
    any: error
mod-stats:
  - id: count
    request-protocol: on
template:
  - id: default
    storage: {d}
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
    global-module: mod-stats/count
zone:
{zconf}""")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return subprocess.Popen(prefix + ["knotd", "-c", os.path.join(d, "knot.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _up(self, server, apex):
        if self.netns:
            out = subprocess.run(["ip", "netns", "exec", self.netns, "kdig", "+short",
                                  "+time=1", f"@{self.ip[server]}", apex, "SOA"],
                                 capture_output=True, text=True).stdout
            return bool(out.strip())
        try:
            r = dns.query.udp(dns.message.make_query(apex, "SOA"), self.ip[server],
                              timeout=0.3)
            return bool(r.answer)
        except Exception:
            return False

    def start(self, only=None):
        for server in self.zones:
            if only and server not in only:
                continue
            self.procs[server] = self._knot(server)
        deadline = time.monotonic() + 15
        for server in self.procs:
            apex = next(iter(self.zones[server]))
            while not self._up(server, apex):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"knotd {server} did not come up")
                time.sleep(0.05)
        return self

    def queries(self, server):
        """UDP+TCP queries the server has answered (Knot mod-stats)."""
        sock = os.path.join(self.dir, server, "knot.sock")
        out = subprocess.run(["knotc", "-s", sock, "stats", "mod-stats"], capture_output=True,
                             text=True).stdout
        total = 0
        for line in out.splitlines():
            if "request-protocol" in line and "=" in line:
                total += int(line.rsplit("=", 1)[1].strip())
        return total

    def stop(self, names=None):
        for server in list(self.procs):
            if names and server not in names:
                continue
            stop_process(self.procs.pop(server))

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Unbound:
    """The reference resolver, iterating from the same hints (or
    forwarding), on its own 127.x address."""

    def __init__(self, hints=None, forward=None):
        self.dir = tempfile.mkdtemp(prefix="carousel-unbound-")
        self.addr, self.port = free_addr()
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
    interface: {self.addr}@{self.port}
    port: {self.port}
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{self.dir}"
    pidfile: ""
    num-threads: 1
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    verbosity: 0
    {"root-hints: " + hints if hints else ""}
remote-control:
    control-enable: no
""")
            if forward:
                f.write(f'forward-zone:\n    name: "."\n    forward-addr: {forward}\n')
        self.conf = conf
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                dns.query.udp(dns.message.make_query("ns.root.", "A"), self.addr,
                              port=self.port, timeout=0.5)
                return self
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("unbound did not start")

    def query(self, name, rdtype="A", tcp=False):
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        if tcp:
            return dns.query.tcp(q, self.addr, port=self.port, timeout=10)
        return dns.query.udp(q, self.addr, port=self.port, timeout=10)

    def close(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
