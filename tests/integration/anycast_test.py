#!/usr/bin/env python3
"""anycast_test.py -- two appliances (carouseld + bird2 each, in their own
namespaces) are secondaries of one hidden primary (Knot) and announce
192.0.2.53/32 over eBGP to a third bird2, the "router", which a client sits
behind. The router sees a path from each; failing one appliance's pool
members removes its path and passing again brings it back; `kill -9` of
the other carouseld removes its path within seconds (the TUN device goes
with the process); a client querying the anycast address gets answers all
along."""
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
        ns(R, "ip", "link", "set", ifn + "r", "up")
        ns(other, "ip", "addr", "add", f"{addr}/24", "dev", ifn)
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
""" for a in APPS)
    return f"""router id 10.77.1.1;
protocol device {{ scan time 1; }}
protocol kernel {{
    merge paths on;
    ipv4 {{ export all; }};
}}
{peers}"""


def paths(sock):
    """The next hops the router holds for the anycast prefix."""
    out = subprocess.run(["birdc", "-s", sock, "show", "route", f"{ANYCAST}/32", "all"],
                         capture_output=True, text=True, timeout=10).stdout
    return sorted(set(re.findall(r"via (10\.77\.\d+\.\d+)", out)))


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
        got, took = until(lambda: paths(rsock) == want, 30, step=0.2)
        t.check(got, f"the router sees {ANYCAST}/32 from both appliances ({took:.1f} s)")

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
        got, took = until(lambda: paths(rsock) == [APPS[0][1]], 15, step=0.05)
        t.check(got, f"every member of {a2}'s pool down: its path is withdrawn ({took:.2f} s, "
                     "fall 2 x 200 ms)")
        got, _ = until(lambda: local_routes(socks[a2]) == [], 5)
        t.check(got, "...and the IPv6 prefix leaves its bird2 too")
        print(f"pool of {a2} passes at {time.monotonic() - t0:.2f} s")
        open(flags[a2], "w").close()
        got, took = until(lambda: paths(rsock) == want, 15, step=0.05)
        t.check(got, f"members pass again: the path is back ({took:.2f} s, rise 2 x 200 ms)")

        # kill -9 the other carouseld: the kernel removes its device
        a1 = APPS[0][0]
        n0 = len(results)
        start = time.monotonic()
        print(f"kill -9 of {a1} at {start - t0:.2f} s")
        os.kill(cars[a1].pid, signal.SIGKILL)  # ip netns exec execs carouseld: same pid
        got, _ = until(lambda: paths(rsock) == [a2_addr], 15, step=0.02)
        took = time.monotonic() - start
        t.check(got, f"kill -9 of {a1}'s carouseld: its path is gone from the router in "
                     f"{took:.2f} s")
        ok, _ = until(lambda: len(results) >= n0 + 5, 30)
        stop.set()
        th.join()
        t.check(ok, f"the client kept querying ({len(results)} digs)")
        t.eq(results.count(False), 0, "every client query was answered (dig retries once "
                                      "a path goes)")
        # a clean stop withdraws before the listeners close
        t.eq(stop_process(cars[a2]), 0, "the last appliance stops cleanly (SIGTERM)")
        got, _ = until(lambda: paths(rsock) == [], 10, step=0.05)
        t.check(got, "a clean stop of the last appliance withdraws its path")
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
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
