#!/usr/bin/python3
"""rrl_flood_test.py -- a spoofed-source flood against the XDP fast path
with rrl: on: the appliance, a flooding host and a legitimate host on one
bridge (veth pairs into a switch namespace). kxdpgun on the flooding host
spreads its source addresses over a /25 and asks for an answer three
times the query's size. The appliance sends out fewer bytes than it takes
in (answers within the rate, slipped replies no larger than the query,
the rest dropped), the fast path counts what it slipped and dropped, the
legitimate host gets its answers from the fast path from another prefix,
and through TC and a retry over TCP from inside the flooded /24."""
import os
import re
import subprocess
import tempfile
import time

from harness import (CAROUSELD, SRC, Checks, Wire, ctl_stat, need, need_root_netns, sh, skip,
                     stop_process)

need_root_netns()
need("dig", "kxdpgun")
if "xdp" not in subprocess.run([CAROUSELD, "--version"], capture_output=True, text=True).stdout:
    skip("carouseld was built without XDP (libbpf-dev, clang, bpftool)")

t = Checks("rrl-flood")
w = Wire("f")  # app: the appliance; cli: the flooding host
tmp = tempfile.mkdtemp(prefix="carousel-rrl-")
ctl = os.path.join(tmp, "ctl.sock")
n = os.getpid() % 100000
sw, legit_ns = f"carfs{n}", f"carfl{n}"
OTHER, INSIDE = "203.0.113.7", "198.51.100.5"


def ip(ns, *args):
    sh("ip", "netns", "exec", ns, "ip", *args)


# the Wire's pair becomes app <-> switch and switch <-> cli, on a bridge
for ns in (sw, legit_ns):
    sh("ip", "netns", "add", ns)
sh("ip", "-n", w.cli, "link", "del", w.cli_if)
sh("ip", "link", "add", w.app_if, "netns", w.app, "type", "veth", "peer", "name", "sa", "netns",
   sw)
sh("ip", "link", "add", w.cli_if, "netns", w.cli, "type", "veth", "peer", "name", "sc", "netns",
   sw)
sh("ip", "link", "add", "lg0", "netns", legit_ns, "type", "veth", "peer", "name", "sl", "netns",
   sw)
ip(sw, "link", "add", "br0", "type", "bridge")
for port in ("sa", "sc", "sl"):
    ip(sw, "link", "set", port, "master", "br0")
    ip(sw, "link", "set", port, "up")
ip(sw, "link", "set", "br0", "up")
ip(w.app, "link", "set", w.app_if, "up")
ip(w.app, "addr", "add", f"{w.APP_IP4}/24", "dev", w.app_if)
ip(w.app, "route", "add", "203.0.113.0/24", "dev", w.app_if)
ip(w.cli, "addr", "add", f"{w.CLI_IP4}/24", "dev", w.cli_if)
ip(w.cli, "link", "set", w.cli_if, "up")
ip(legit_ns, "link", "set", "lo", "up")
ip(legit_ns, "addr", "add", f"{INSIDE}/24", "dev", "lg0")
ip(legit_ns, "addr", "add", f"{OTHER}/24", "dev", "lg0")
ip(legit_ns, "link", "set", "lg0", "up")


def legit_dig(src, *args):
    return subprocess.run(["ip", "netns", "exec", legit_ns, "dig", f"@{w.APP_IP4}", "-b", src,
                           "+time=1", "+tries=3", *args], capture_output=True, text=True,
                          timeout=30).stdout


with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
    text = f.read()
text = text[text.index("\nzones:") + 1:].replace("file: zones/", f"file: {SRC}/configs/zones/")
cfg = os.path.join(tmp, "carousel.yaml")
with open(cfg, "w") as f:
    f.write(f"""server:
  listen: [{w.APP_IP4}@53]
  control-socket: {ctl}
dataplane:
  interface: {w.app_if}
  address: [{w.APP_IP4}/24]
rrl:
  rate-limit: 10
  slip: 2
""" + text)
qfile = os.path.join(tmp, "queries")
with open(qfile, "w") as f:
    f.write("www.example.test A\n")
log = open(os.path.join(tmp, "log"), "w+")
proc = subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane", "xdp"],
                        stdout=log, stderr=log)


def app_bytes():
    """(in, out) of the appliance's wire interface"""
    out = subprocess.run(["ip", "netns", "exec", w.app, "cat",
                          f"/sys/class/net/{w.app_if}/statistics/rx_bytes",
                          f"/sys/class/net/{w.app_if}/statistics/tx_bytes"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


try:
    if not t.check(w.wait_answering(proc, 50), "carouseld with XDP and rrl: answers"):
        log.flush()
        print(open(log.name).read())
        raise SystemExit(t.done())
    time.sleep(1.1)  # a fresh second for the flooded prefix
    in0, out0 = app_bytes()
    drop0, slip0 = ctl_stat(ctl, "xdp.dropped.rrl"), ctl_stat(ctl, "xdp.slipped")
    # 20 s: the digs below take up to 3 x 6 tries of 1 s (one in two of
    # the flooded /24's queries is dropped, and a run of them can be)
    gun = subprocess.Popen(["ip", "netns", "exec", w.cli, "kxdpgun", "-t", "20", "-Q", "20000",
                            "-i", qfile, "-I", w.cli_if, "-l", "198.51.100.128/25", w.APP_IP4],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    # slip 2: each try inside the flooded /24 is slipped or dropped, one
    # in two: a few tries see a TC (while the flood still runs)
    flooded = ""
    for _ in range(3):
        flooded = legit_dig(INSIDE, "www.example.test", "+tries=6")
        # answered (after a TC, or directly): whether the flood still ran
        # is read now, not after more digs
        if "Truncated" in flooded or "192.0.2.1" in flooded or gun.poll() is not None:
            break
    still_flooding = gun.poll() is None
    answered = ctl_stat(ctl, "xdp.answered")
    legit = legit_dig(OTHER, "www.example.test", "+short")
    answered = ctl_stat(ctl, "xdp.answered") - answered
    out = gun.communicate(timeout=60)[0]
    in1, out1 = app_bytes()
    sent = re.search(r"total queries:\s+(\d+)", out)
    t.check(still_flooding, "the flood was still on when the client inside it was answered")
    t.check(sent is not None and int(sent.group(1)) > 20000,
            f"kxdpgun sent its flood ({sent and sent.group(1)} queries)")
    bytes_in, bytes_out = in1 - in0, out1 - out0
    t.check(bytes_out <= bytes_in,
            f"bytes out of the appliance ({bytes_out}) <= bytes in ({bytes_in})")
    t.check(ctl_stat(ctl, "xdp.dropped.rrl") - drop0 > 1000 and
            ctl_stat(ctl, "xdp.slipped") - slip0 > 1000,
            f"the fast path dropped ({ctl_stat(ctl, 'xdp.dropped.rrl') - drop0}) and slipped "
            f"({ctl_stat(ctl, 'xdp.slipped') - slip0}) the flood's excess")
    t.check("192.0.2.1" in legit,
            f"a client in another prefix gets its answer during the flood ({legit.split()})")
    t.check(answered >= 1, f"...from the fast path ({answered})")
    # directly (its query came while the second's budget lasted: the
    # flood's sender is bursty on a loaded machine) or after a slip, TC,
    # over TCP (the usual case): either way it is answered
    how = "TC, then TCP" if "Truncated, retrying in TCP" in flooded else "directly"
    t.check("192.0.2.1" in flooded,
            f"a client inside the flooded /24 gets its answer ({how})"
            + ("" if "192.0.2.1" in flooded else f" (dig said: {flooded.strip()[-600:]!r})"))
finally:
    rc = stop_process(proc, 10)
    t.eq(rc, 0, "clean exit")
    w.close()
    for ns in (sw, legit_ns):
        sh("ip", "netns", "del", ns, check=False)
    log.close()
t.done()
