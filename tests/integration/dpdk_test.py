#!/usr/bin/python3
"""dpdk_test.py -- carouseld --dataplane dpdk on net_af_packet over a veth
pair into a client namespace: the fast-path scenario (fastpath.py:
rotated answers from the fast path, equal to the socket path's, counted;
misses, IPv6 and TCP through the net_tap exception path to carouseld's
sockets; health; reload); then what is DPDK's: ARP and ND need no static
entries, one lcore rotates in order, TC then TCP through the exception
path, status shows ports and lcores, a hot recursed name is promoted,
link flaps under load, kill -9 and the wire's sysctls."""
import os
import re
import subprocess
import time

import fastpath
from harness import CAROUSELD, Checks, Wire, need, need_root_netns, skip
from hierarchy import Hierarchy

need_root_netns()
need("dig")
if os.cpu_count() < 2:
    skip("needs 2 cores: one for the poll-mode lcore")
if "dpdk" not in subprocess.run([CAROUSELD, "--version"], capture_output=True, text=True).stdout:
    skip("carouseld was built without DPDK (libdpdk-dev missing)")

t = Checks("dpdk")
w = Wire("d")
hier = Hierarchy(netns=w.app).start()  # for recursion and hot-name promotion
SYSCTLS = [f"/proc/sys/net/ipv4/conf/{w.app_if}/rp_filter",
           f"/proc/sys/net/ipv4/conf/{w.app_if}/arp_ignore",
           f"/proc/sys/net/ipv6/conf/{w.app_if}/disable_ipv6"]


def sysctls():
    return subprocess.run(["ip", "netns", "exec", w.app, "cat", *SYSCTLS], capture_output=True,
                          text=True).stdout.split()


original = sysctls()
a = fastpath.Appliance(
    w, "dpdk", f"  port: net_af_packet0,iface={w.app_if}\n  exception: net_tap0,iface={w.tap}\n"
    "  burst: 32\n  idle-sleep: 1ms\n",
    extra=f"""
recursion:
  enable: true
  root-hints: {hier.hints}
  query-loopback: true
  allow: [198.51.100.0/24]
  promote-qps: 20
""", args=["--", "-l", "0-1", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
           "--log-level=*:warning"])


def dig(*args):
    return w.dig(*args)


stat = a.stat

try:
    if not t.check(w.wait_answering(a.proc),
                   "carouseld with the DPDK dataplane answers from the client namespace"):
        print(a.logtext())
        raise SystemExit(t.done())

    # ARP resolved by the kernel behind the exception port
    neigh = w.in_cli("ip", "neigh", "show", w.APP_IP4).stdout
    t.check("lladdr" in neigh, f"ARP resolved without static entries ({neigh.strip()})")

    # recursion is on (for the promotion below): the socket path's answers
    # of our own data carry RA for clients in `allow`, the fast path's not
    firsts = fastpath.scenario(t, a, "dpdk.answered", ignore_ra=True)
    t.eq(firsts, ["192.0.2.10", "192.0.2.11", "192.0.2.12"],
         "one lcore: the replicas rotate in order")
    out = dig(f"@{w.APP_IP4}", "www.example.test", "+nocookie")
    t.check("flags: qr aa rd" in out and "ANSWER: 4" in out, "fast-path answer: AA, CNAME + 3 A")
    out = dig(f"@{w.APP_IP4}", "big.example.test", "TXT")
    t.check(out.count("\tTXT\t") == 6, "TC then TCP retry through the exception path")

    st = a.ctl_cmd("status").stdout
    t.check("dataplane dpdk" in st and "lcore 1 queue 0" in st, "status shows ports and lcores")

    # a hot recursed name is promoted to the fast path
    out = dig(f"@{w.APP_IP4}", "www.example.org", "+short")
    t.eq(out.strip(), "192.0.2.80", "a recursed name, through the exception path")
    w.in_cli("/usr/bin/python3", "-c", f"""
import time, dns.message, dns.query
end = time.monotonic() + 3.5
while time.monotonic() < end:
    dns.query.udp(dns.message.make_query("www.example.org.", "A"), "{w.APP_IP4}", timeout=1)
    time.sleep(0.005)
""", timeout=30)
    time.sleep(1.2)
    top = a.ctl_cmd("cache", "top").stdout
    t.check(re.search(r"www\.example\.org\.\s+1\s+\d+\s+yes", top) is not None,
            "cache top shows the hot name promoted")
    time.sleep(0.3)
    before, sock_before = stat("dpdk.answered"), stat("queries.udp")
    out = dig(f"@{w.APP_IP4}", "www.example.org")
    t.check("192.0.2.80" in out and "flags: qr rd ra" in out, "promoted answer: RA, the address")
    t.eq(stat("dpdk.answered") - before, 1, "...answered by the fast path")
    t.eq(stat("queries.udp") - sock_before, 0, "...not by the socket path")

    # the wire goes down and up 20 times under load: no crash, the link is
    # seen going down, answers resume within a second of the last up
    downs = stat("dpdk.link-downs")
    flood = subprocess.Popen(["ip", "netns", "exec", w.cli, "/usr/bin/python3", "-c", f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
q = bytes.fromhex("abcd0100000100000000000003777777076578616d706c65047465737400000100 01".replace(" ", ""))
end = time.monotonic() + 14
while time.monotonic() < end:
    try:
        s.sendto(q, ("{w.APP_IP4}", 53))
    except OSError:
        time.sleep(0.001)
    try:
        while True:
            s.recv(2048)
    except OSError:
        pass
"""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for i in range(20):
        subprocess.run(["ip", "netns", "exec", w.app, "ip", "link", "set", w.app_if, "down"])
        time.sleep(0.25)
        if i == 19:
            # probes every 50 ms from before the last up (a 1 s dig timeout
            # would hide when they resume)
            probe = subprocess.Popen(["ip", "netns", "exec", w.cli, "/usr/bin/python3", "-c", f"""
import time, dns.message, dns.query, dns.exception
t0 = time.monotonic()
# the client's own kernel sends again only once its end is operationally
# up (linkwatch: up to a second after the carrier): from then on it is ours
while time.monotonic() - t0 < 8:
    with open("/sys/class/net/{w.cli_if}/operstate") as f:
        if f.read().strip() == "up" and time.monotonic() - t0 > 0.4:
            break
    time.sleep(0.005)
oper = time.monotonic()
while time.monotonic() - t0 < 8:
    try:
        r = dns.query.udp(dns.message.make_query("www.example.test", "A"), "{w.APP_IP4}",
                          timeout=0.05)
        if r.answer:
            break
    except (dns.exception.Timeout, OSError):
        time.sleep(0.01)
print(oper, time.monotonic())
"""], stdout=subprocess.PIPE, text=True)
            time.sleep(0.5)
        subprocess.run(["ip", "netns", "exec", w.app, "ip", "link", "set", w.app_if, "up"])
        up_at = time.monotonic()
        time.sleep(0.2)
    out = probe.communicate(timeout=15)[0]
    times = [float(x) for x in out.split()]
    back = times[1] - max(up_at, times[0]) if len(times) == 2 else None
    total = times[1] - up_at if len(times) == 2 else None
    flood.kill()
    flood.wait()
    t.check(a.proc.poll() is None, "20 link flaps under load: carouseld still runs")
    t.check(back is not None and back <= 1.0,
            f"answers resume {back and round(back, 2)} s after the client's link is up again "
            f"({total and round(total, 2)} s after the last up; bound 1 s)")
    t.check(stat("dpdk.link-downs") - downs >= 15,
            f"link downs seen ({stat('dpdk.link-downs') - downs} of 20)")
    t.check("event=dataplane-link state=down" in a.logtext(), "a link change is logged")

    # kill -9 leaves the wire interface's sysctls changed; the next start
    # knows the originals (its state file) and puts them back on exit
    a.proc.kill()
    a.proc.wait()
    t.check(sysctls() != original, f"after kill -9 the sysctls are still changed ({sysctls()})")
    a.start()
    t.check(w.wait_answering(a.proc), "restarted after kill -9, answering again")
finally:
    rc = a.stop(15)
    t.eq(rc, 0, "carouseld stops cleanly on SIGTERM")
    t.eq(sysctls(), original, "the wire interface's sysctls are the originals again")
    gone = subprocess.run(["ip", "netns", "exec", w.app, "ip", "link", "show", w.tap],
                          capture_output=True).returncode != 0
    t.check(gone, "the exception interface is gone after exit")
    hier.close()
    w.close()
t.done()
