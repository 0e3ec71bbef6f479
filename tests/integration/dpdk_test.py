#!/usr/bin/python3
"""dpdk_test.py -- carouseld --dataplane dpdk on net_af_packet over a veth
pair into a client namespace: rotated alias answers come from the fast
path (counters prove it), other names through the net_tap exception path
to carouseld's sockets, ARP and ND need no static entries, TCP works
through the kernel, a reload that changes a pool shows on the next query."""
import os
import re
import subprocess
import tempfile
import time

from harness import (CAROUSELCTL, CAROUSELD, SRC, Checks, Wire, check_fastpath_health, ctl_stat,
                     health_pool_yaml, need, need_root_netns, skip, stop_process)
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
tmp = tempfile.mkdtemp(prefix="carousel-dpdk-")
ctl = os.path.join(tmp, "ctl.sock")
with open(os.path.join(SRC, "configs", "carousel-dpdk.yaml")) as f:
    text = f.read()
text = text.replace("/run/carousel/ctl-dpdk.sock", ctl)
text = text.replace("iface=car-dp0", f"iface={w.app_if}").replace("iface=cartap0", f"iface={w.tap}")
text = text.replace("file: zones/", f"file: {SRC}/configs/zones/")
flags = [os.path.join(tmp, "up-a"), os.path.join(tmp, "up-b")]
for flag in flags:
    open(flag, "w").close()
text = text.replace("pools:\n", "pools:\n" + health_pool_yaml(*flags), 1)
text += f"""
recursion:
  enable: true
  root-hints: {hier.hints}
  query-loopback: true
  allow: [198.51.100.0/24]
  promote-qps: 20
"""
cfg = os.path.join(tmp, "carousel.yaml")
with open(cfg, "w") as f:
    f.write(text)
log = open(os.path.join(tmp, "carouseld.log"), "w+")
SYSCTLS = [f"/proc/sys/net/ipv4/conf/{w.app_if}/rp_filter",
           f"/proc/sys/net/ipv4/conf/{w.app_if}/arp_ignore",
           f"/proc/sys/net/ipv6/conf/{w.app_if}/disable_ipv6"]


def sysctls():
    return subprocess.run(["ip", "netns", "exec", w.app, "cat", *SYSCTLS], capture_output=True,
                          text=True).stdout.split()


def start():
    return subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane",
                             "dpdk", "--", "-l", "0-1", "--no-huge", "--no-pci", "-m", "256",
                             "--no-shconf", "--log-level=*:warning"], stdout=log, stderr=log)


original = sysctls()
proc = start()


def dig(*args):
    return w.dig(*args)


def stat(name):
    return ctl_stat(ctl, name)


def logtext():
    log.flush()
    with open(log.name) as f:
        return f.read()


try:
    if not t.check(w.wait_answering(proc), "carouseld with the DPDK dataplane answers from the client namespace"):
        print(logtext())
        raise SystemExit(t.done())

    # ARP resolved by the kernel behind the exception port
    neigh = w.in_cli("ip", "neigh", "show", w.APP_IP4).stdout
    t.check("lladdr" in neigh, f"ARP resolved without static entries ({neigh.strip()})")

    before, sock_before = stat("dpdk.answered"), stat("queries.udp")
    firsts = [dig(f"@{w.APP_IP4}", "www.example.test", "+short").split()[1] for _ in range(3)]
    t.eq(firsts, ["192.0.2.10", "192.0.2.11", "192.0.2.12"], "fast path rotates the alias's replicas")
    t.eq(stat("dpdk.answered") - before, 3, "those three were answered by the fast path")
    t.eq(stat("queries.udp") - sock_before, 0, "...and not a second time by the kernel")
    out = dig(f"@{w.APP_IP4}", "www.example.test", "+nocookie")
    t.check("flags: qr aa rd" in out and "ANSWER: 4" in out, "fast-path answer: AA, CNAME + 3 A")

    out = dig(f"@{w.APP_IP6}", "shop.example.test", "AAAA", "+short")
    t.check("2001:db8::10" in out and "2001:db8::11" in out, "IPv6 query answered (ND works)")

    miss_before, udp_before = stat("dpdk.punted.miss"), stat("queries.udp")
    out = dig(f"@{w.APP_IP4}", "mail.example.test", "MX", "+short")
    t.eq(out.strip(), "10 mx.example.test.", "a name only carouseld knows: exception path")
    t.check(stat("dpdk.punted.miss") > miss_before and stat("queries.udp") > udp_before,
            "counted as punted (miss) and answered by carouseld's socket")

    out = dig(f"@{w.APP_IP4}", "www.example.test", "+tcp", "+short")
    t.check("192.0.2.10" in out, "TCP query works through the kernel")
    check_fastpath_health(t, "dpdk", lambda *a: dig(f"@{w.APP_IP4}", *a), stat,
                          "dpdk.answered", flags[1])
    out = dig(f"@{w.APP_IP4}", "big.example.test", "TXT")
    t.check(out.count("\tTXT\t") == 6, "TC then TCP retry through the exception path")

    # a reload that changes a pool is visible on the next query
    with open(cfg, "w") as f:
        f.write(text.replace("{address: 192.0.2.10}", "{address: 192.0.2.110}", 1))
    r = subprocess.run([CAROUSELCTL, "-s", ctl, "reload"], capture_output=True, text=True)
    t.eq(r.returncode, 0, "carouselctl reload")
    before = stat("dpdk.answered")
    out = dig(f"@{w.APP_IP4}", "www.example.test", "+short")
    t.check("192.0.2.110" in out and "192.0.2.10\n" not in out, "changed pool answered after reload")
    t.eq(stat("dpdk.answered") - before, 1, "...by the fast path")
    st = subprocess.run([CAROUSELCTL, "-s", ctl, "status"], capture_output=True, text=True).stdout
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
    top = subprocess.run([CAROUSELCTL, "-s", ctl, "cache", "top"], capture_output=True,
                         text=True).stdout
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
    t.check(proc.poll() is None, "20 link flaps under load: carouseld still runs")
    t.check(back is not None and back <= 1.0,
            f"answers resume {back and round(back, 2)} s after the client's link is up again "
            f"({total and round(total, 2)} s after the last up; bound 1 s)")
    t.check(stat("dpdk.link-downs") - downs >= 15,
            f"link downs seen ({stat('dpdk.link-downs') - downs} of 20)")
    t.check("event=dataplane-link state=down" in logtext(), "a link change is logged")

    # kill -9 leaves the wire interface's sysctls changed; the next start
    # knows the originals (its state file) and puts them back on exit
    proc.kill()
    proc.wait()
    t.check(sysctls() != original, f"after kill -9 the sysctls are still changed ({sysctls()})")
    proc = start()
    t.check(w.wait_answering(proc), "restarted after kill -9, answering again")
finally:
    rc = stop_process(proc, 15)
    t.eq(rc, 0, "carouseld stops cleanly on SIGTERM")
    t.eq(sysctls(), original, "the wire interface's sysctls are the originals again")
    gone = subprocess.run(["ip", "netns", "exec", w.app, "ip", "link", "show", w.tap],
                          capture_output=True).returncode != 0
    t.check(gone, "the exception interface is gone after exit")
    hier.close()
    w.close()
    log.close()
t.done()
