#!/usr/bin/python3
"""xdp_test.py -- carouseld --dataplane xdp on one end of a veth pair, with
plain kernel clients (kdig, dig, dnspython) in the other namespace.

- auto mode, client end with no XDP program and the kernel's default
  offloads: the fast-path scenario (fastpath.py: rotated answers equal to
  the socket path's, counted; misses, IPv6 and TCP through the kernel;
  health; reload); then what is XDP's: generic mode on veth and why,
  status, kdig and dnspython (with and without EDNS) answered and counted
  exactly, kill -9 and a restart serve again.
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
import time

import fastpath
from fastpath import REPLICAS
from harness import CAROUSELD, SRC, Checks, Wire, need, need_root_netns, sh, skip

need_root_netns()
need("dig", "kdig")
if "xdp" not in subprocess.run([CAROUSELD, "--version"], capture_output=True,
                               text=True).stdout:
    skip("carouseld was built without XDP (libbpf-dev, clang, bpftool)")
PASS_OBJ = os.environ.get("XDP_PASS_OBJ", os.path.join(SRC, "build", "xdp_pass.bpf.o"))
if not os.path.exists(PASS_OBJ):
    skip(f"{PASS_OBJ} not built")

t = Checks("xdp")

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


class Appliance(fastpath.Appliance):
    """carouseld with the XDP fast path in the appliance namespace of w."""

    def __init__(self, w, mode, health=False):
        self.mode = mode
        super().__init__(w, "xdp", f"  interface: {w.app_if}\n  xdp-mode: {mode}\n",
                         health=health)

    def link(self):
        return subprocess.run(["ip", "netns", "exec", self.w.app, "ip", "-d", "link", "show",
                               self.w.app_if], capture_output=True, text=True).stdout

    def stop(self):
        rc = super().stop()
        t.eq(rc, 0, f"{self.mode}: clean exit")
        t.check("prog/xdp" not in self.link(), f"{self.mode}: detached on SIGTERM")


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
        st = a.ctl_cmd("status").stdout
        t.check("driver veth mode generic (veth drops" in st and "tx-errors 0" in st,
                "status names the driver, mode, reason and tx-errors")
        fastpath.scenario(t, a, "xdp.answered")

        before, sock = a.stat("xdp.answered"), a.stat("queries.udp")
        answers = [kdig_short(w, "www.example.test") for _ in range(6)]
        got = dnspython(w, "www.example.test", "A", 12)
        t.check(all(sorted(x[1:]) == REPLICAS for x in answers),
                f"auto: kdig got every answer with all replicas ({answers})")
        t.check(all(g is not None and g["id_ok"] and sorted(g["order"]) == REPLICAS
                    for g in got), "auto: dnspython (with and without EDNS) got every answer")
        t.eq(a.stat("xdp.answered") - before, 6 + 12,
             "auto: xdp.answered counts exactly what the clients received")
        t.eq(a.stat("xdp.tx-errors"), 0, "auto: no transmit errors")
        if not t.eq(a.stat("queries.udp") - sock, 0, "auto: ...none answered by the socket"):
            out = a.ctl_cmd("stats").stdout
            print("\n".join(x for x in out.splitlines() if x.startswith("xdp.")))
        # kill -9: the program stays attached; a new carouseld replaces it
        a.proc.kill()
        a.proc.wait()
        a.start()
        t0 = time.monotonic()
        ok = False
        # the old program answers from its map until the new daemon
        # replaces it: wait for the new daemon itself, then query
        while time.monotonic() - t0 < 10 and not ok:
            st = a.ctl_cmd("status").stdout
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
