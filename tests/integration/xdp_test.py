#!/usr/bin/python3
"""xdp_test.py -- carouseld --dataplane xdp on one end of a veth pair, with
plain kernel clients (kdig, dig, dnspython) in the other namespace.

- auto mode, client end with no XDP program and the kernel's default
  offloads: every answer arrives, rotated, equal to the socket path's;
  xdp.answered counts exactly what the client received; misses, IPv6 and
  TCP reach carouseld through the kernel; a pool change and a failed member
  show on the next query; kill -9 and a restart serve again.
- auto with a generic or a native XDP program on the client end: answers
  arrive too.
- native forced with an XDP program on the peer: answers from the driver.
- native forced with a plain client: carouseld starts, warns once at start
  and once when the driver's XDP transmit errors grow, and its counters
  say that nothing was delivered (xdp.answered 0, xdp.tx-errors = tries).
- the program is detached on SIGTERM."""
import json
import os
import re
import subprocess
import tempfile
import time

from harness import (CAROUSELCTL, CAROUSELD, SRC, Checks, Wire, check_fastpath_health,
                     ctl_stat, health_pool_yaml, need, need_root_netns, sh, skip,
                     stop_process)

need_root_netns()
need("dig", "kdig")
if "xdp" not in subprocess.run([CAROUSELD, "--version"], capture_output=True, text=True).stdout:
    skip("carouseld was built without XDP (libbpf-dev, clang, bpftool)")
PASS_OBJ = os.environ.get("XDP_PASS_OBJ", os.path.join(SRC, "build", "xdp_pass.bpf.o"))
if not os.path.exists(PASS_OBJ):
    skip(f"{PASS_OBJ} not built")

t = Checks("xdp")
REPLICAS = ["192.0.2.10", "192.0.2.11", "192.0.2.12"]

# dnspython in the client namespace: N queries over UDP, one socket each,
# the kernel's defaults; prints one JSON line per query (None = timeout)
DNSPYTHON = r"""
import json, sys
import dns.message, dns.query, dns.exception
server, name, rdtype, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(n):
    q = dns.message.make_query(name, rdtype, use_edns=(i % 2 == 1))
    try:
        r = dns.query.udp(q, server, timeout=1.5)
        print(json.dumps({"id_ok": r.id == q.id, "flags": r.flags, "rcode": r.rcode(),
                          "answer": [rr.to_text() for rr in r.answer],
                          "order": [str(x) for rr in r.answer for x in rr
                                    if rr.rdtype == dns.rdatatype.A]}))
    except dns.exception.Timeout:
        print(json.dumps(None))
"""


class Appliance:
    """carouseld with the XDP fast path in the appliance namespace of w."""

    def __init__(self, w, mode, health=False):
        self.w, self.mode = w, mode
        self.tmp = tempfile.mkdtemp(prefix="carousel-xdp-")
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
        self.text = text
        self.head = f"""server:
  listen: [{w.APP_IP4}@53, "{w.APP_IP6}@53"]
  control-socket: {self.ctl}
dataplane:
  interface: {w.app_if}
  xdp-mode: {mode}
  address: [{w.APP_IP4}/24, "{w.APP_IP6}/64"]
"""
        self.write(text)
        self.log = open(os.path.join(self.tmp, "log"), "w+")
        self.start()

    def write(self, text):
        with open(self.cfg, "w") as f:
            f.write(self.head + text)

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.w.app, CAROUSELD, "-c",
                                      self.cfg, "--dataplane", "xdp"],
                                     stdout=self.log, stderr=self.log)

    def logtext(self):
        self.log.flush()
        return open(self.log.name).read()

    def stat(self, name):
        return ctl_stat(self.ctl, name)

    def link(self):
        return subprocess.run(["ip", "netns", "exec", self.w.app, "ip", "-d", "link", "show",
                               self.w.app_if], capture_output=True, text=True).stdout

    def stop(self):
        rc = stop_process(self.proc, 10)
        t.eq(rc, 0, f"{self.mode}: clean exit")
        t.check("prog/xdp" not in self.link(), f"{self.mode}: detached on SIGTERM")
        self.log.close()


def peer_prog(w, kind):
    """An XDP_PASS program on the client's end: none, generic or native."""
    if kind != "none":
        sh("ip", "netns", "exec", w.cli, "ip", "link", "set", "dev", w.cli_if,
           "xdpgeneric" if kind == "generic" else "xdpdrv", "obj", PASS_OBJ, "sec", "xdp")


def appliance_addrs(w):
    sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP4}/24", "dev", w.app_if)
    sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP6}/64", "dev", w.app_if,
       "nodad")


def kdig_short(w, *args):
    return w.in_cli("kdig", f"@{w.APP_IP4}", "+time=1", "+retry=1", "+short",
                    *args).stdout.split()


def dnspython(w, name, rdtype, n):
    out = w.in_cli("/usr/bin/python3", "-c", DNSPYTHON, w.APP_IP4, name, rdtype, str(n),
                   timeout=n * 4 + 15).stdout
    return [json.loads(line) for line in out.splitlines()]


def same_as_socket(w, got, name):
    """The fast path's answer (flags, rcode, the answer RRsets with their
    TTLs) is the socket path's: ask carouseld over TCP for the same name."""
    out = w.in_cli("/usr/bin/python3", "-c", f"""
import json, dns.message, dns.query
r = dns.query.tcp(dns.message.make_query("{name}", "A"), "{w.APP_IP4}", timeout=2)
print(json.dumps({{"flags": r.flags, "rcode": r.rcode(),
                  "answer": [rr.to_text() for rr in r.answer]}}))
""").stdout
    ref = json.loads(out)
    norm = lambda a: sorted(line for rr in a for line in rr.splitlines())  # noqa: E731
    return (got["flags"] == ref["flags"] and got["rcode"] == ref["rcode"]
            and norm(got["answer"]) == norm(ref["answer"]))


def plain_client_auto():
    """The user's setup from the bug: auto mode, a plain kernel client."""
    w = Wire("x", client_defaults=True)
    a = None
    try:
        appliance_addrs(w)
        a = Appliance(w, "auto", health=True)
        if not t.check(w.wait_answering(a.proc, 50), "auto: carouseld with XDP answers"):
            print(a.logtext())
            return
        t.check("xdpgeneric" in a.link() and "prog/xdp" in a.link(),
                "auto on veth: attached in generic mode")
        t.check(re.search(r"mode=generic .*xdp-mode=auto reason=\"veth drops native XDP_TX",
                          a.logtext()) is not None,
                "auto on veth: the log says which mode and why")
        st = subprocess.run([CAROUSELCTL, "-s", a.ctl, "status"], capture_output=True,
                            text=True).stdout
        t.check("driver veth mode generic (veth drops" in st and "tx-errors 0" in st,
                "status names the driver, mode, reason and tx-errors")
        before, sock = a.stat("xdp.answered"), a.stat("queries.udp")
        answers = [kdig_short(w, "www.example.test") for _ in range(6)]
        got = dnspython(w, "www.example.test", "A", 12)
        t.check(all(sorted(x[1:]) == REPLICAS for x in answers),
                f"auto: kdig got every answer with all replicas ({answers})")
        t.check(all(g is not None and g["id_ok"] and sorted(g["order"]) == REPLICAS
                    for g in got), "auto: dnspython (with and without EDNS) got every answer")
        firsts = [x[1] for x in answers if len(x) > 1] + [g["order"][0] for g in got if g]
        # rotation counters are per CPU: the order is per CPU, the set is whole
        t.check(len(set(firsts)) >= 2, f"auto: replicas rotate ({firsts})")
        t.check(got and got[0] and same_as_socket(w, got[0], "www.example.test"),
                "auto: the fast path's answer equals the socket path's")
        t.eq(a.stat("xdp.answered") - before, 6 + 12,
             "auto: xdp.answered counts exactly what the clients received")
        t.eq(a.stat("xdp.tx-errors"), 0, "auto: no transmit errors")
        if not t.eq(a.stat("queries.udp") - sock, 0, "auto: ...none answered by the socket"):
            out = subprocess.run([CAROUSELCTL, "-s", a.ctl, "stats"], capture_output=True,
                                 text=True).stdout
            print("\n".join(x for x in out.splitlines() if x.startswith("xdp.")))
        out = w.dig(f"@{w.APP_IP6}", "shop.example.test", "AAAA", "+short")
        t.check("2001:db8::10" in out, "auto: IPv6 answered")
        miss = a.stat("xdp.punted.miss")
        out = w.dig(f"@{w.APP_IP4}", "mail.example.test", "MX", "+short")
        t.check(out.strip() == "10 mx.example.test." and a.stat("xdp.punted.miss") > miss,
                "auto: a miss reaches carouseld through the kernel")
        out = w.dig(f"@{w.APP_IP4}", "www.example.test", "+tcp", "+short")
        t.check("192.0.2.1" in out, "auto: TCP through the kernel")
        check_fastpath_health(t, "auto", lambda *x: w.dig(f"@{w.APP_IP4}", *x), a.stat,
                              "xdp.answered", a.flags[1])
        a.write(a.text.replace("{address: 192.0.2.10}", "{address: 192.0.2.110}", 1))
        t.eq(subprocess.run([CAROUSELCTL, "-s", a.ctl, "reload"]).returncode, 0,
             "auto: reload")
        before = a.stat("xdp.answered")
        out = w.dig(f"@{w.APP_IP4}", "www.example.test", "+short")
        t.check("192.0.2.110" in out and a.stat("xdp.answered") == before + 1,
                "auto: the pool change is served by XDP on the next query")
        # kill -9: the program stays attached; a new carouseld replaces it
        a.proc.kill()
        a.proc.wait()
        a.start()
        t0 = time.monotonic()
        ok = False
        # the old program answers from its map until the new daemon
        # replaces it: wait for the new daemon itself, then query
        while time.monotonic() - t0 < 10 and not ok:
            st = subprocess.run([CAROUSELCTL, "-s", a.ctl, "status"], capture_output=True,
                                text=True).stdout
            ok = "dataplane xdp" in st and "192.0.2.1" in w.dig(
                f"@{w.APP_IP4}", "www.example.test", "+short", "+time=1", "+tries=1")
            time.sleep(0 if ok else 0.05)
        t.check(ok and a.link().count("prog/xdp") == 1,
                f"auto: after kill -9 a restart serves again with one program attached "
                f"({time.monotonic() - t0:.2f} s)")
    finally:
        if a:
            a.stop()
        w.close()


def delivered(peer, mode, want_link):
    """mode on the appliance, `peer` XDP program on the client: every
    answer arrives and is counted once."""
    label = f"{mode}, peer {peer}"
    w = Wire("x", client_defaults=True)
    a = None
    try:
        appliance_addrs(w)
        peer_prog(w, peer)
        a = Appliance(w, mode)
        if not t.check(w.wait_answering(a.proc, 50), f"{label}: carouseld with XDP answers"):
            print(a.logtext())
            return
        link = a.link()
        t.check(("xdpgeneric" in link) == (want_link == "generic") and "prog/xdp" in link,
                f"{label}: attached in {want_link} mode")
        before = a.stat("xdp.answered")
        got = dnspython(w, "www.example.test", "A", 8)
        t.check(all(g is not None and sorted(g["order"]) == REPLICAS for g in got),
                f"{label}: every answer arrives")
        t.eq(a.stat("xdp.answered") - before, 8, f"{label}: ...answered by XDP")
        t.eq(a.stat("xdp.tx-errors"), 0, f"{label}: no transmit errors")
    finally:
        if a:
            a.stop()
        w.close()


def native_plain_client():
    """native forced towards a peer that cannot take XDP frames."""
    w = Wire("x", client_defaults=True)
    a = None
    try:
        appliance_addrs(w)
        a = Appliance(w, "native")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "event=xdp-init interface" not in a.logtext():
            time.sleep(0.05)
        log = a.logtext()
        t.check("mode=native warning=\"veth drops native XDP_TX frames" in log
                and "xdp.tx-errors" in log, "native on veth: a warning at start names the "
                                           "reason and the counter to watch")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and a.stat("xdp.rx") < 0:
            time.sleep(0.05)
        tx, answered = a.stat("xdp.tx"), a.stat("xdp.answered")
        lost = sum(1 for _ in range(3) if not kdig_short(w, "www.example.test"))
        t.eq(lost, 3, "native, plain peer: the answers never arrive (veth drops them)")
        time.sleep(0.6)  # the watcher reads the driver's counters every 250 ms
        sent = a.stat("xdp.tx") - tx
        t.check(sent >= 3, f"native, plain peer: the program sent answers ({sent})")
        t.eq(a.stat("xdp.tx-errors"), sent, "native, plain peer: xdp.tx-errors counts each")
        t.eq(a.stat("xdp.answered") - answered, 0,
             "native, plain peer: xdp.answered does not count what never left")
        t.check("event=xdp-tx-errors" in a.logtext() and "fix=" in a.logtext(),
                "native, plain peer: the growing errors are logged with the fix")
        t.eq(a.logtext().count("event=xdp-tx-errors"), 1, "...once")
    finally:
        if a:
            a.stop()
        w.close()


plain_client_auto()
delivered("generic", "auto", "generic")
delivered("native", "auto", "generic")
delivered("native", "native", "native")
native_plain_client()
t.done()
