#!/usr/bin/python3
"""e2e.py -- end-to-end over a veth wire: kxdpgun (AF_XDP load generator)
in a client namespace offers DNS queries to each path in turn, all serving
the same alias answers on the same wire:

  reflector   the generator's own ceiling: xdp_reflect.bpf.o on the
              server's end sends every query straight back (XDP_TX)
  dpdk        carouseld, DPDK fast path on net_af_packet (1 worker lcore)
  dpdk-afxdp  the same on net_af_xdp
  xdp         carouseld, XDP fast path (native)
  socket      carouseld's socket path (1 worker thread)
  knot        Knot DNS in XDP mode (`xdp: listen`, 1 UDP worker)

For each path (BENCH_TARGETS, comma separated): a sweep of offered rates
(BENCH_RATES, BENCH_SECONDS each) — answered vs offered; then, with
BENCH_SEARCH=1 (the default), the highest rate answered with at most
0.1 % loss by binary search (RFC 8219 section 9, after RFC 2544's
throughput test: BENCH_SEARCH_STEPS trials between the sweep's last pass
and first failure), three rounds; and a sample of replies checked against
the expected answers (rcodes from kxdpgun's own count, answers from dig in
the client namespace through the same path, rotation included).
Ratios are against the reflector measured in the same run (a server near
1.0 is generator-bound here, not measured). Last lines:
`e2e path=P max_qps=M min=… max=… reflector_ratio=R sample=ok|BAD`."""
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
SECONDS = max(1, int(float(os.environ.get("BENCH_SECONDS", "5"))))
SEARCH = os.environ.get("BENCH_SEARCH", "1") == "1"
STEPS = int(os.environ.get("BENCH_SEARCH_STEPS", "5"))
LOSS = 0.001  # RFC 8219 section 9 asks for zero loss; 0.1 % as issue 18 says
ROUNDS = 3
BUILD = os.environ.get("CAROUSEL_BUILD", os.path.join(SRC, "build"))
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


def start_reflector(tmp, w):
    """The generator's ceiling: every query sent straight back in the
    driver (build/xdp_reflect.bpf.o, native mode on the server's end)."""
    obj = os.path.join(BUILD, "xdp_reflect.bpf.o")
    sh("ip", "netns", "exec", w.app, "ip", "link", "set", "dev", w.app_if, "xdpdrv", "obj", obj,
       "sec", "xdp")
    return subprocess.Popen(["sleep", "infinity"])


def gun(w, qfile, rate, seconds=SECONDS):
    """kxdpgun at `rate` q/s: (sent, replies, {rcode: count}) or None."""
    out = w.in_cli("kxdpgun", "-t", str(seconds), "-Q", str(rate), "-i", qfile, "-I", w.cli_if,
                   "-F", "0", w.APP_IP4, timeout=seconds + 30).stdout
    sent = re.search(r"total queries:\s+(\d+)", out)
    got = re.search(r"total replies:\s+(\d+)", out)
    if not sent or not got:
        return None
    rcodes = {m.group(1): int(m.group(2)) for m in re.finditer(r"responded (\w+):\s+(\d+)", out)}
    return int(sent.group(1)), int(got.group(1)), rcodes


def passes(r):
    sent, got, _ = r
    return sent > 0 and got >= sent * (1 - LOSS)


def search(w, qfile, lo, hi):
    """RFC 2544-style binary search between a passing rate `lo` and a
    failing one `hi`: the highest rate that passed, as sent (kxdpgun may
    send less than asked: then the generator is the limit)."""
    best = 0
    for _ in range(STEPS):
        mid = (lo + hi) // 2
        r = gun(w, qfile, mid)
        if r and passes(r):
            lo = mid
            best = max(best, r[0] // SECONDS)
        else:
            hi = mid
        if hi - lo <= hi // 50:
            break
    return best


def expected_answers():
    """{name: set of addresses} for the benchmark's four aliases, from the
    bundled config's pools."""
    text = open(os.path.join(SRC, "configs", "carousel.yaml")).read()
    want = {}
    for block in re.split(r"\n  - name: ", text)[1:]:
        names = [block.split()[0]] + re.findall(r"([\w.-]+\.example\.test\.)",
                                                 block.split("members:")[0])
        addrs = set(re.findall(r"address: (\d+\.\d+\.\d+\.\d+)", block))
        for n in names:
            want[n.rstrip(".")] = addrs
    return {n: want[n] for n in ("www.example.test", "shop.example.test", "web.example.test",
                                 "app.example.test") if n in want}


def sample_check(w, want, reflector):
    """A few replies per name through the path, compared with the pool's
    members: (checked, bad)."""
    checked = bad = 0
    for name, addrs in want.items():
        for _ in range(5):
            out = w.in_cli("dig", "+time=1", "+tries=2", "+norec", f"@{w.APP_IP4}", name).stdout
            checked += 1
            if reflector:  # the query comes back as it went: no answer
                bad += "QUERY," not in out
                continue
            got = set(re.findall(r"\sIN\s+A\s+(\d[\d.]*)", out))
            wrong = "status: NOERROR" not in out or not got or not got <= addrs
            if wrong and not bad:
                print(f"unexpected answer for {name} (want {sorted(addrs)}):\n{out}")
            bad += wrong
    return checked, bad


def med(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    rows, maxima = [], {}
    targets = os.environ.get("BENCH_TARGETS",
                             "reflector,dpdk,dpdk-afxdp,xdp,socket,knot").split(",")
    paths = {"reflector": ("reflector (xdp_reflect)", start_reflector, False),
             "dpdk": ("carouseld DPDK (af_packet)", start_dpdk, False),
             "dpdk-afxdp": ("carouseld DPDK (af_xdp)", start_dpdk_afxdp, False),
             "xdp": ("carouseld XDP", start_xdp, True),
             "socket": ("carouseld sockets", start_socket, True),
             "knot": ("Knot DNS XDP", start_knot, True)}
    want = expected_answers()
    for t in targets:
        name, starter, addr_on_wire = paths[t]
        w = Wire("b")
        tmp = tempfile.mkdtemp(prefix="carousel-e2e-")
        qfile = os.path.join(tmp, "queries")
        with open(qfile, "w") as f:
            f.write(QUERIES)
        if addr_on_wire or t == "reflector":
            sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP4}/24", "dev",
               w.app_if)
        proc = starter(tmp, w)
        try:
            for _ in range(100):
                if t == "reflector" or "NOERROR" in w.in_cli(
                        "dig", "+time=1", "+tries=1", f"@{w.APP_IP4}", "www.example.test").stdout:
                    break
                time.sleep(0.2)
            lo, hi, best = 0, 0, 0
            for rate in RATES:
                r = gun(w, qfile, rate)
                if r is None:
                    rows.append((name, rate, 0, 0, 0.0, 0.0))
                    continue
                sent, got, rc = r
                noerr = 100.0 * rc.get("NOERROR", 0) / got if got else 0.0
                rows.append((name, rate, sent / SECONDS, got / SECONDS,
                             100.0 * min(got, sent) / max(sent, 1), noerr))
                print(f"{name} offered {rate}/s: sent {sent / SECONDS:.0f}/s, "
                      f"{got / SECONDS:.0f} replies/s ({rows[-1][4]:.1f} %), rcodes {rc}",
                      flush=True)
                if passes(r):
                    lo = max(lo, rate)
                    best = max(best, sent // SECONDS)
                elif not hi:
                    hi = rate
            checked, bad = sample_check(w, want, t == "reflector")
            found = []
            if SEARCH:
                top = hi or 2 * RATES[-1]
                for _ in range(ROUNDS):
                    found.append(max(best, search(w, qfile, lo, top)))
                    print(f"{name}: highest rate with <= 0.1 % loss {found[-1]}/s", flush=True)
            maxima[t] = (name, found, checked, bad)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            w.close()
    # gnuplot PNG (docs/img/e2e-….png when run from the tree): one line per
    # path, titled from the data's header
    dat = os.path.join(tempfile.mkdtemp(prefix="carousel-e2e-plot-"), "e2e.dat")
    with open(dat, "w") as f:
        f.write("offered " + " ".join(f'"{paths[t][0]}"' for t in targets) + "\n")
        for rate in RATES:
            f.write(f"{rate} " + " ".join(
                next((f"{r[3]:.0f}" for r in rows if r[1] == rate and r[0] == paths[t][0]), "?")
                for t in targets) + "\n")
    png = os.environ.get("BENCH_PLOT", os.path.join(SRC, "docs", "img",
                                                    "e2e-" + "-".join(targets) + ".png"))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot_e2e.gp")
    if subprocess.run(["sh", "-c", "command -v gnuplot"], capture_output=True).returncode == 0:
        subprocess.run(["gnuplot", "-e", f"infile='{dat}'; outfile='{png}'; "
                        f"npaths={len(targets)}", gp], check=False)
        print(f"plot: {png}")
    print("\n| path | offered q/s | sent q/s | replies/s | answered | NOERROR |")
    print("|---|---|---|---|---|---|")
    for n, rate, sps, rps, share, noerr in rows:
        print(f"| {n} | {rate} | {sps:.0f} | {rps:.0f} | {share:.1f} % | {noerr:.1f} % |")
    if not SEARCH:
        return
    print("\n| path | round | highest rate with <= 0.1 % loss (q/s) |")
    print("|---|---|---|")
    for t, (n, found, _, _) in maxima.items():
        for i, v in enumerate(found):
            print(f"| {n} | {i + 1} | {v} |")
    ceiling = med(maxima["reflector"][1]) if "reflector" in maxima else 0
    print()
    for t, (n, found, checked, bad) in maxima.items():
        m = med(found)
        print(f"e2e path={t} max_qps={m} min={min(found)} max={max(found)} "
              f"reflector_ratio={m / ceiling if ceiling else 0:.2f} "
              f"sample={'ok' if not bad else 'BAD'} sampled={checked} bad={bad}")


main()
