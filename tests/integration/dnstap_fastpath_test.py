#!/usr/bin/python3
"""dnstap_fastpath_test.py -- dnstap from the fast paths, with the real
readers: carouseld with XDP (and then DPDK on af_packet) on a veth, a
dnstap sink read by fstrm_capture, dnspython queries from the client
namespace that the fast path answers. Every query gives one AUTH_QUERY
and one AUTH_RESPONSE (dnstap-ldns decodes them: names, types, the
client's address, UDP); the logged response is byte for byte what the
client received, the logged query what it sent; sampling logs 1 in N."""
import json
import os
import subprocess
import tempfile
import time

from dnstap_test import Capture, ldns, messages
from harness import (CAROUSELD, SRC, Checks, Wire, ctl_stat, need, need_root_netns, sh, skip,
                     stop_process)

need_root_netns()
need("fstrm_capture", "dnstap-ldns")
version = subprocess.run([CAROUSELD, "--version"], capture_output=True, text=True).stdout
t = Checks("dnstap-fastpath")

# dnspython's queries from the client namespace, and the responses' bytes
# as they came off the socket (a parsed message re-serialized need not be)
ASK = r"""
import json, socket, sys
import dns.message
server, n = sys.argv[1], int(sys.argv[2])
out = []
for i in range(n):
    name = ["www.example.test", "shop.example.test", "web.example.test"][i % 3]
    wire = dns.message.make_query(name, "A" if i % 2 else "AAAA",
                                  use_edns=(i % 4 == 3)).to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(wire, (server, 53))
    out.append([wire.hex(), s.recv(4096).hex()])
    s.close()
print(json.dumps(out))
"""


def run_path(path, sample, n):
    w = Wire("t")
    tmp = tempfile.mkdtemp(prefix="carousel-fptap-")
    ctl, sock, out = (os.path.join(tmp, x) for x in ("ctl.sock", "tap.sock", "tap.fstrm"))
    with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
        text = f.read()
    text = text[text.index("\nzones:") + 1:].replace("file: zones/", f"file: {SRC}/configs/zones/")
    if path == "xdp":
        sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP4}/24", "dev", w.app_if)
        dp = f"  interface: {w.app_if}\n"
        args = ["--dataplane", "xdp"]
    else:
        dp = f"  port: net_af_packet0,iface={w.app_if}\n  exception: net_tap0,iface={w.tap}\n"
        args = ["--dataplane", "dpdk", "--", "-l", "0-1", "--no-huge", "--no-pci", "-m", "256",
                "--no-shconf", "--log-level=*:warning"]
    cfg = os.path.join(tmp, "carousel.yaml")
    with open(cfg, "w") as f:
        f.write(f"""server:
  listen: [{w.APP_IP4}@53]
  control-socket: {ctl}
dataplane:
{dp}  address: [{w.APP_IP4}/24]
dnstap:
  sink: unix:{sock}
  identity: fastpath-test
  sample: {sample}
""" + text)
    cap = Capture(sock, out)
    log = open(os.path.join(tmp, "log"), "w+")
    proc = subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, *args],
                            stdout=log, stderr=log)
    try:
        if not t.check(w.wait_answering(proc, 50), f"{path}: carouseld answers"):
            log.flush()
            print(open(log.name).read())
            return
        time.sleep(1.5)  # the sink is connected (fstrm reconnects every second)
        answered = ctl_stat(ctl, f"{path}.answered")
        got = json.loads(w.in_cli("/usr/bin/python3", "-c", ASK, w.APP_IP4, str(n),
                                  timeout=120).stdout)
        t.eq(ctl_stat(ctl, f"{path}.answered") - answered, n,
             f"{path}: the {n} queries were answered by the fast path")
        time.sleep(0.5)  # the main loop hands the copies over every 100 ms
    finally:
        stop_process(proc, 15)
        cap.stop()
        w.close()
        log.close()
    logged = [m for ty, m, _ in messages(out)]
    queries = [m[10][0].hex() for m in logged if m[1][0] == 1 and 10 in m]  # AUTH_QUERY
    responses = [m[14][0].hex() for m in logged if m[1][0] == 2 and 14 in m]  # AUTH_RESPONSE
    if sample == 1:
        t.eq(len(queries), n, f"{path}: one AUTH_QUERY per query")
        t.eq(len(responses), n, f"{path}: one AUTH_RESPONSE per query")
        t.eq(sorted(queries), sorted(q for q, _ in got),
             f"{path}: the logged queries are what the client sent")
        t.eq(sorted(responses), sorted(r for _, r in got),
             f"{path}: the logged responses are byte for byte what the client received")
        lines = ldns(out)
        t.check(len(lines) == 2 * n and all(x[1] == w.CLI_IP4 and x[2] == "UDP" for x in lines)
                and {x[3] for x in lines} == {"www.example.test.", "shop.example.test.",
                                              "web.example.test."},
                f"{path}: dnstap-ldns reads them: names, types, the client's address, UDP")
    else:
        t.check(n // sample - 2 <= len(responses) <= n // sample + 2,
                f"{path}: 1 in {sample} sampled ({len(responses)} of {n})")


if "xdp" in version:
    run_path("xdp", 1, 30)
    run_path("xdp", 10, 200)
else:
    print("(no XDP in this build)")
if "dpdk" in version and (os.cpu_count() or 1) >= 2:
    run_path("dpdk", 1, 30)
else:
    print("(no DPDK in this build, or one core)")
t.done()
