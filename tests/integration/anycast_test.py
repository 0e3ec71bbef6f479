#!/usr/bin/env python3
"""anycast_test.py -- two appliances (carouseld + bird2 each, in their own
namespaces) are secondaries of one hidden primary (Knot) and announce
192.0.2.53/32 and 2001:db8:53::53/128 over eBGP (an IPv4 and an IPv6
session, as configs/bird-anycast.conf has them) to a third bird2, the
"router", which a client sits behind. The router sees a path from each, in
both families; failing one appliance's pool members removes its paths and
passing again brings them back; `kill -9` of the other carouseld removes
its paths within seconds (the TUN device goes with the process); a client
querying the anycast address gets answers all along."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from fleet import SECRET, Primary, until, zone_text
from harness import CAROUSELD, CAROUSELCTL, Checks, need, need_root_netns, sh, stop_process

ANYCAST = "192.0.2.53"
ANYCAST6 = "2001:db8:53::53"
TAG = f"ca{os.getpid() % 10000}"
R, C = f"{TAG}r", f"{TAG}c"
APPS = [  # namespace, its address, the router's address on that link, AS
    (f"{TAG}a1", "10.77.1.2", "10.77.1.1", 65001),
    (f"{TAG}a2", "10.77.2.2", "10.77.2.1", 65002),
]
PRIMARY = "10.77.9.9"


def v6(addr):
    """The IPv6 address beside an IPv4 one on the same link: 10.77.1.2 ->
    fd77:1::2."""
    _, _, link, host = addr.split(".")
    return f"fd77:{link}::{host}"


def ns(name, *args, check=True):
    return sh("ip", "netns", "exec", name, *args, check=check)


def topology():
    for n in [R, C] + [a[0] for a in APPS]:
        sh("ip", "netns", "add", n)
        ns(n, "ip", "link", "set", "lo", "up")
    ns(R, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    ns(R, "ip", "addr", "add", f"{PRIMARY}/32", "dev", "lo")
    links = [(a[0], a[1], a[2], f"{TAG}x{i}") for i, a in enumerate(APPS)]
    links.append((C, "10.77.3.2", "10.77.3.1", f"{TAG}xc"))
    for other, addr, raddr, ifn in links:
        sh("ip", "link", "add", ifn + "r", "netns", R, "type", "veth", "peer", "name", ifn,
           "netns", other)
        ns(R, "ip", "addr", "add", f"{raddr}/24", "dev", ifn + "r")
        # nodad: bird2 binds the session's address at once
        ns(R, "ip", "addr", "add", f"{v6(raddr)}/64", "dev", ifn + "r", "nodad")
        ns(R, "ip", "link", "set", ifn + "r", "up")
        ns(other, "ip", "addr", "add", f"{addr}/24", "dev", ifn)
        ns(other, "ip", "addr", "add", f"{v6(addr)}/64", "dev", ifn, "nodad")
        ns(other, "ip", "link", "set", ifn, "up")
        ns(other, "ip", "route", "add", "default", "via", raddr)


def bird(dirpath, name, conf):
    path = os.path.join(dirpath, f"bird-{name}.conf")
    with open(path, "w") as f:
        f.write(conf)
    sock = os.path.join(dirpath, f"bird-{name}.ctl")
    log = open(os.path.join(dirpath, f"bird-{name}.log"), "w")
    p = subprocess.Popen(["ip", "netns", "exec", name, "bird", "-f", "-c", path, "-s", sock,
                          "-P", os.path.join(dirpath, f"bird-{name}.pid")],
                         stdout=log, stderr=log)
    return p, sock


def appliance_bird(src, addr, raddr, asn):
    """configs/bird-anycast.conf with this appliance's addresses."""
    with open(os.path.join(src, "configs", "bird-anycast.conf")) as f:
        conf = f.read()
    conf = (conf.replace("192.0.2.53/32", f"{ANYCAST}/32")
            .replace("LOCAL_ADDRESS6", v6(addr)).replace("PEER_ADDRESS6", v6(raddr))
            .replace("ROUTER_ID", addr).replace("LOCAL_ADDRESS", addr)
            .replace("LOCAL_AS", str(asn)).replace("PEER_ADDRESS", raddr)
            .replace("PEER_AS", "65000"))
    return conf.replace("2001:db8:53::53/128", f"{ANYCAST6}/128")


def local_routes(sock):
    """The anycast routes the appliance's bird2 took from the device."""
    out = subprocess.run(["birdc", "-s", sock, "show", "route", "protocol", "anycast"],
                         capture_output=True, text=True, timeout=10).stdout
    return sorted(set(re.findall(r"^(\S+/\d+)", out, re.M)))


def router_bird():
    peers = "".join(f"""
protocol bgp {a[0].replace('-', '_')} {{
    local {a[2]} as 65000;
    neighbor {a[1]} as {a[3]};
    hold time 6; keepalive time 2; connect retry time 1;
    ipv4 {{ import all; export none; }};
}}
protocol bgp {a[0].replace('-', '_')}_6 {{
    local {v6(a[2])} as 65000;
    neighbor {v6(a[1])} as {a[3]};
    hold time 6; keepalive time 2; connect retry time 1;
    ipv6 {{ import all; export none; }};
}}
""" for a in APPS)
    return f"""router id 10.77.1.1;
protocol device {{ scan time 1; }}
protocol kernel {{
    merge paths on;
    ipv4 {{ export all; }};
}}
{peers}"""


def paths(sock, prefix=f"{ANYCAST}/32"):
    """The appliances the router holds a path to the prefix from (their
    IPv4 addresses, whatever the family: the BGP next hops mapped back)."""
    out = subprocess.run(["birdc", "-s", sock, "show", "route", prefix, "all"],
                         capture_output=True, text=True, timeout=10).stdout
    hops = set(re.findall(r"via (10\.77\.\d+\.\d+|fd77:[0-9a-f:]+)", out))
    return sorted(a[1] for a in APPS if a[1] in hops or v6(a[1]) in hops)


def paths6(sock):
    return paths(sock, f"{ANYCAST6}/128")


def until_both(sock, want, limit, start):
    """Poll the router until it holds paths from exactly `want` for the
    IPv4 and for the IPv6 prefix: seconds from `start` until each did
    (None if not within `limit`)."""
    took = {}
    while len(took) < 2 and time.monotonic() - start < limit:
        for family, fn in (("v4", paths), ("v6", paths6)):
            if family not in took and fn(sock) == want:
                took[family] = time.monotonic() - start
        time.sleep(0.02)
    return took.get("v4"), took.get("v6")


def fmt(took):
    return "; ".join(f"{family} {'%.2f s' % t if t is not None else 'not seen'}"
                     for family, t in zip(("IPv4", "IPv6"), took))


def main():
    need_root_netns()
    need("bird", "birdc", "knotd", "knotc", "dig")
    if not os.path.exists("/dev/net/tun"):
        from harness import skip
        skip("no /dev/net/tun")
    from harness import SRC
    t = Checks("anycast")
    work = tempfile.mkdtemp(prefix="carousel-anycast-")
    procs, cars, flags, socks = [], {}, {}, {}
    knot = None
    try:
        topology()
        knot = Primary(PRIMARY, 53, {"example.net.": (zone_text("example.net.", 1), True)},
                       notify=[(a[1], 53) for a in APPS], netns=R)
        knot.start(wait_zone="example.net.")
        p, rsock = bird(work, R, router_bird())
        procs.append(p)
        for name, addr, raddr, asn in APPS:
            d = os.path.join(work, name)
            os.makedirs(d)
            flags[name] = os.path.join(d, "up")
            open(flags[name], "w").close()
            with open(os.path.join(d, "carousel.yaml"), "w") as f:
                f.write(f"""server:
  listen: [0.0.0.0@53]
  control-socket: {d}/ctl.sock
keys:
  - name: xfr-key.
    algorithm: hmac-sha256
    secret: {SECRET}
zones:
  - name: example.net.
    primary: {PRIMARY}@53
    key: xfr-key.
    file: {d}/example.net.zone
pools:
  - name: www.example.net.
    members:
      - {{address: 192.0.2.10, monitor: {{type: exec, command: "test -e {flags[name]}", interval: 200ms, timeout: 150ms, rise: 2, fall: 2}}}}
      - {{address: 192.0.2.11, monitor: {{type: exec, command: "test -e {flags[name]}", interval: 200ms, timeout: 150ms, rise: 2, fall: 2}}}}
anycast:
  - prefix: {ANYCAST}/32
    pools: [www.example.net.]
  - prefix: "{ANYCAST6}/128"
    pools: [www.example.net.]
""")
            log = open(os.path.join(d, "carouseld.log"), "w")
            cars[name] = subprocess.Popen(["ip", "netns", "exec", name, CAROUSELD, "-c",
                                           os.path.join(d, "carousel.yaml")],
                                          stdout=log, stderr=log)
            p, socks[name] = bird(work, name, appliance_bird(SRC, addr, raddr, asn))
            procs.append(p)

        want = sorted(a[1] for a in APPS)
        took = until_both(rsock, want, 30, time.monotonic())
        t.check(None not in took, f"the router sees {ANYCAST}/32 and {ANYCAST6}/128 from "
                                  f"both appliances ({fmt(took)})")

        # a client behind the router queries the anycast address all along
        results, stop = [], threading.Event()

        def client():
            while not stop.is_set():
                r = subprocess.run(["ip", "netns", "exec", C, "dig", f"@{ANYCAST}",
                                    "www.example.net", "+short", "+time=1", "+tries=3"],
                                   capture_output=True, text=True, timeout=15)
                # the pool's members (one may be back before the other)
                results.append(re.search(r"^192\.0\.2\.1[01]$", r.stdout, re.M) is not None)
                if not results[-1]:
                    print(f"client query {len(results)} unanswered: {r.stdout.strip()!r} "
                          f"{r.stderr.strip()!r} at {time.monotonic() - t0:.2f} s; "
                          f"paths {paths(rsock)}")
                time.sleep(0.1)

        t0 = time.monotonic()
        th = threading.Thread(target=client)
        th.start()
        ok, _ = until(lambda: len(results) >= 3, 20)
        t.check(ok and all(results), "the client gets answers from the anycast address")

        # both appliances are secondaries: a change reaches both (NOTIFY + IXFR)
        def both_serve():
            return all("192.0.2.99" in ns(R, "dig", f"@{a[1]}", "new.example.net", "+short",
                                          "+time=1", "+tries=1", check=False).stdout
                       for a in APPS)

        start = time.monotonic()
        knot.change("example.net.", sets=["new 60 A 192.0.2.99"])
        got, _ = until(both_serve, 10, step=0.02)
        t.check(got, f"a change at the primary is served by both appliances in "
                     f"{time.monotonic() - start:.2f} s")

        both = sorted([f"{ANYCAST}/32", f"{ANYCAST6}/128"])
        got, _ = until(lambda: local_routes(socks[APPS[1][0]]) == both, 10)
        t.check(got, "the appliance's bird2 takes the IPv4 and the IPv6 prefix from the device")

        # one appliance's pool fails: its path goes, the other serves
        a2, a2_addr = APPS[1][0], APPS[1][1]
        print(f"pool of {a2} fails at {time.monotonic() - t0:.2f} s")
        os.unlink(flags[a2])
        took = until_both(rsock, [APPS[0][1]], 15, time.monotonic())
        t.check(None not in took, f"every member of {a2}'s pool down: its paths are withdrawn "
                                  f"({fmt(took)}; fall 2 x 200 ms)")
        print(f"pool of {a2} passes at {time.monotonic() - t0:.2f} s")
        open(flags[a2], "w").close()
        took = until_both(rsock, want, 15, time.monotonic())
        t.check(None not in took, f"members pass again: the paths are back ({fmt(took)}; "
                                  "rise 2 x 200 ms)")

        # kill -9 the other carouseld: the kernel removes its device
        a1 = APPS[0][0]
        n0 = len(results)
        start = time.monotonic()
        print(f"kill -9 of {a1} at {start - t0:.2f} s")
        os.kill(cars[a1].pid, signal.SIGKILL)  # ip netns exec execs carouseld: same pid
        took = until_both(rsock, [a2_addr], 15, start)
        t.check(None not in took, f"kill -9 of {a1}'s carouseld: its paths are gone from the "
                                  f"router ({fmt(took)})")
        ok, _ = until(lambda: len(results) >= n0 + 5, 30)
        stop.set()
        th.join()
        t.check(ok, f"the client kept querying ({len(results)} digs)")
        t.eq(results.count(False), 0, "every client query was answered (dig retries once "
                                      "a path goes)")
        # a clean stop withdraws before the listeners close
        t.eq(stop_process(cars[a2]), 0, "the last appliance stops cleanly (SIGTERM)")
        took = until_both(rsock, [], 10, time.monotonic())
        t.check(None not in took, f"a clean stop of the last appliance withdraws its paths "
                                  f"({fmt(took)})")
        with open(os.path.join(work, a2, "carouseld.log")) as f:
            log = f.read()
        t.check(log.find("action=withdraw reason=stopping") < log.find("event=stopped"),
                "...before it stops")
    finally:
        for p in list(cars.values()) + procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if knot:
            knot.close()
        for n in [R, C] + [a[0] for a in APPS]:
            sh("ip", "netns", "del", n, check=False)
        if t.failed:  # the daemons' own words, before their directory goes
            for d, _, files in os.walk(work):
                for f in sorted(x for x in files if x.endswith(".log")):
                    with open(os.path.join(d, f)) as lf:
                        print(f"--- {os.path.join(d, f)} (tail)\n{lf.read()[-1500:]}")
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
