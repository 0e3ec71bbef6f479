#!/usr/bin/python3
"""e2e.py -- end-to-end over a veth wire: kxdpgun (AF_XDP load generator)
in a client namespace offers DNS queries at fixed rates to (1) carouseld
with the DPDK fast path on net_af_packet, (2) carouseld's socket path and
(3) Knot DNS in XDP mode, all serving the same alias answers. Reports
replies/s and the share of the offered load answered."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import CAROUSELD, SRC, Wire, flatten_pools, need, need_root_netns, sh  # noqa: E402

need_root_netns()
need("kxdpgun", "knotd")
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "100000,200000,400000").split(",")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
QUERIES = "www.example.test A\nshop.example.test A\nweb.example.test A\napp.example.test A\n"
EAL = ["--", "-l", "0-1", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
       "--log-level=*:error"]


def base_config(tmp, w):
    with open(os.path.join(SRC, "configs", "carousel-dpdk.yaml")) as f:
        text = f.read()
    text = text.replace("/run/carousel/ctl-dpdk.sock", os.path.join(tmp, "ctl.sock"))
    text = text.replace("iface=car-dp0", f"iface={w.app_if}").replace("iface=cartap0",
                                                                      f"iface={w.tap}")
    return text.replace("file: zones/", f"file: {SRC}/configs/zones/")


def start_dpdk(tmp, w):
    cfg = os.path.join(tmp, "dpdk.yaml")
    with open(cfg, "w") as f:
        f.write(base_config(tmp, w))
    return subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane",
                             "dpdk", *EAL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_dpdk_afxdp(tmp, w):
    cfg = os.path.join(tmp, "dpdk-afxdp.yaml")
    with open(cfg, "w") as f:
        f.write(base_config(tmp, w).replace(f"net_af_packet0,iface={w.app_if}",
                                            f"net_af_xdp0,iface={w.app_if}"))
    return subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane",
                             "dpdk", *EAL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_socket(tmp, w):
    text = base_config(tmp, w)
    text = text[:text.index("dataplane:")] + text[text.index("\nzones:") + 1:]
    text = text.replace(', "2001:db8:100::1@53"', "")  # IPv4 only on the wire here
    cfg = os.path.join(tmp, "socket.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    return subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_xdp(tmp, w):
    text = base_config(tmp, w)
    # native: kxdpgun's AF_XDP program on the peer takes native XDP_TX
    # frames (auto would pick generic mode on veth)
    text = text[:text.index("dataplane:")] + f"""dataplane:
  interface: {w.app_if}
  xdp-mode: native
  address: [{w.APP_IP4}/24]
""" + text[text.index("\nzones:") + 1:]
    text = text.replace(', "2001:db8:100::1@53"', "")
    cfg = os.path.join(tmp, "xdp.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    return subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane",
                             "xdp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_knot(tmp, w):
    zones = flatten_pools(os.path.join(SRC, "configs", "carousel.yaml"),
                          os.path.join(SRC, "configs", "zones"), tmp)
    zconf = "".join(f"  - domain: {a}\n    file: {p}\n" for a, p in zones)
    conf = os.path.join(tmp, "knot.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    listen: {w.APP_IP4}@53
    rundir: {tmp}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
xdp:
    listen: {w.app_if}
    udp: on
database:
    storage: {tmp}/db
log:
  - target: stderr
    any: error
template:
  - id: default
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
{zconf}""")
    return subprocess.Popen(["ip", "netns", "exec", w.app, "knotd", "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def gun(w, qfile, rate):
    out = w.in_cli("kxdpgun", "-t", str(SECONDS), "-Q", str(rate), "-i", qfile, "-I", w.cli_if,
                   "-F", "0", w.APP_IP4, timeout=SECONDS + 30).stdout
    sent = re.search(r"total queries:\s+(\d+)", out)
    got = re.search(r"total replies:\s+(\d+)", out)
    if not sent or not got:
        return None
    return int(sent.group(1)), int(got.group(1))


def main():
    rows = []
    targets = os.environ.get("BENCH_TARGETS", "dpdk,socket,knot").split(",")
    paths = {"dpdk": ("carouseld DPDK (af_packet)", start_dpdk, False),
             "dpdk-afxdp": ("carouseld DPDK (af_xdp)", start_dpdk_afxdp, False),
             "xdp": ("carouseld XDP", start_xdp, True),
             "socket": ("carouseld sockets", start_socket, True),
             "knot": ("Knot DNS XDP", start_knot, True)}
    for name, starter, addr_on_wire in (paths[t] for t in targets):
        w = Wire("b")
        tmp = tempfile.mkdtemp(prefix="carousel-e2e-")
        qfile = os.path.join(tmp, "queries")
        with open(qfile, "w") as f:
            f.write(QUERIES)
        if addr_on_wire:
            sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP4}/24", "dev",
               w.app_if)
        proc = starter(tmp, w)
        try:
            for _ in range(100):
                if "NOERROR" in w.in_cli("dig", "+time=1", "+tries=1", f"@{w.APP_IP4}",
                                         "www.example.test").stdout:
                    break
                time.sleep(0.2)
            for rate in RATES:
                r = gun(w, qfile, rate)
                if r is None:
                    rows.append((name, rate, 0, 0.0))
                    continue
                sent, got = r
                rows.append((name, rate, got / SECONDS, 100.0 * min(got, sent) / max(sent, 1)))
                print(f"{name} offered {rate}/s: {got / SECONDS:.0f} replies/s "
                      f"({rows[-1][3]:.1f} %)", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            w.close()
    # gnuplot PNG (docs/img/e2e.png when run from the tree)
    dat = os.path.join(tempfile.mkdtemp(prefix="carousel-e2e-plot-"), "e2e.dat")
    with open(dat, "w") as f:
        for rate in RATES:
            f.write(f"{rate} " + " ".join(f"{r[2]:.0f}" for r in rows if r[1] == rate) + "\n")
    titles = [paths[t][0].replace("_", "\\\\_") for t in targets]
    png = os.environ.get("BENCH_PLOT", os.path.join(SRC, "docs", "img",
                                                    "e2e-" + "-".join(targets) + ".png"))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot_e2e.gp")
    if subprocess.run(["sh", "-c", "command -v gnuplot"], capture_output=True).returncode == 0:
        subprocess.run(["gnuplot", "-e", f"infile='{dat}'; outfile='{png}'; "
                        f"t1='{titles[0]}'; t2='{titles[1 % len(titles)]}'; "
                        f"t3='{titles[2 % len(titles)]}'", gp], check=False)
        print(f"plot: {png}")
    print("\n| path | offered q/s | replies/s | answered |")
    print("|---|---|---|---|")
    for n, rate, rps, share in rows:
        print(f"| {n} | {rate} | {rps:.0f} | {share:.1f} % |")


main()
