#!/usr/bin/python3
"""bigconfig.py -- load and reload of large configs (issue 20): the curve
over 10 000, 100 000 and 1 000 000 names (1 000 / 10 000 / 100 000 pools;
each pool a canonical name, 9 aliases and 3 replicas, in one zone), and
what clients see while a large config is reloaded.

    bigconfig.py [--names 10000,100000,1000000] [--rounds 3]
                 [--load-names 100000,1000000] [--reloads 3] [--qps 3000]

For each size: `carouseld --check` wall time and peak RSS (/usr/bin/time
-v), `carouselctl reload` time on an idle daemon, the config's memory
(`carouselctl status` config-memory), the daemon's RSS after the reloads
and its peak (VmHWM: old and new config are both held during a reload),
and where a reload's time goes (the daemon's reload log line: config_load,
health and backend adoption, swap with the grace period and the old
config's free).
Times are the median of the rounds with min–max; the linearity figure is
the time per name at each size as a ratio to the smallest size's (1.0 =
linear).

Reload under load: a separate process sends a steady stream of A queries
for pool and alias names (--qps, over UDP on loopback, one worker) and
stamps each answer with its kernel receive time (SO_TIMESTAMPNS). First a
window with no reload (the baseline: the client's and the machine's own
pauses), then --reloads reloads back to back. For each window: queries
lost (no NOERROR answer with records within 1 s), the longest gap between
consecutive answers, the longest query latency, and the longest gap
between the client's own sends (a client stall shows there, not as the
server's). Issue 20's target: none lost, no gap above 10 ms.

Last lines: `bigconfig names=N check_s=.. rss_mb=.. reload_s=..
config_mb=.. daemon_mb=.. check_per_name=.. reload_per_name=..` per size,
then `bigconfig-load names=N window=steady|reload queries=.. lost=..
max_gap_ms=.. max_latency_ms=.. send_gap_ms=..` per size and window.

Environment: BENCH_NAMES, BENCH_ROUNDS, BENCH_LOAD_NAMES (empty: none),
BENCH_RELOADS, BENCH_QPS set the defaults of the options."""
import argparse
import array
import multiprocessing
import os
import random
import re
import select
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import dns.message

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import CAROUSELCTL, CAROUSELD, Carouseld  # noqa: E402

ALIASES = 9
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python lacks the name
LOST_AFTER_NS = 1_000_000_000


def member_addresses(i):
    """Three replica addresses of pool i, unique for i < 2**20."""
    v4 = f"10.{i >> 12}.{(i >> 4) & 255}"
    return [f"{v4}.{(i & 15) * 16 + 1}", f"{v4}.{(i & 15) * 16 + 2}",
            f"2001:db8:{i >> 16:x}:{i & 0xffff:x}::1"]


def query_names(pools, aliases=ALIASES):
    """Every name of a config written by write(): canonical, then aliases."""
    for i in range(pools):
        yield f"p{i}.big.test."
        for j in range(aliases):
            yield f"a{i}-{j}.big.test."


def write(dirname, pools=10000, aliases=ALIASES):
    """Writes DIRNAME/zones/big.zone and returns the config's zones: and
    pools: sections (no server: block) for `pools` pools with `aliases`
    aliases each, so pools * (aliases + 1) names."""
    os.makedirs(os.path.join(dirname, "zones"), exist_ok=True)
    with open(os.path.join(dirname, "zones", "big.zone"), "w") as f:
        f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns hm 1 2 3 4 60\n@ NS ns\nns A 192.0.2.1\n")
    lines = ["zones:\n  - name: big.test.\n    file: zones/big.zone\npools:\n"]
    for i in range(pools):
        names = ", ".join(f"a{i}-{j}.big.test." for j in range(aliases))
        a, b, c = member_addresses(i)
        lines.append(f"  - {{name: p{i}.big.test., aliases: [{names}], members: "
                     f"[{{address: {a}}}, {{address: {b}}}, {{address: \"{c}\"}}]}}\n")
    return "".join(lines)


# --- the client: a steady stream of queries, every answer time-stamped ---

def stream(addr, port, wires, qps, rt, stop, conn):
    """Sends wires round-robin at qps until stop is set, then waits 1 s
    for late answers. Sends over conn: send times (monotonic ns, one per
    query, index = sequence number) and answers (sequence, kernel receive
    time in monotonic ns, 1 if NOERROR with records)."""
    if rt:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.connect((addr, port))
    s.setblocking(False)
    # kernel stamps are CLOCK_REALTIME; the run is short enough for one offset
    offset = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.monotonic_ns()
    sent, ans_seq, ans_ns, ans_ok = (array.array("q"), array.array("q"), array.array("q"),
                                     array.array("b"))
    step = 1e9 / qps
    start = time.monotonic_ns()
    seq, until, check = 0, None, start
    cmsg = socket.CMSG_SPACE(16)

    def drain():
        while True:
            try:
                data, anc, _, _ = s.recvmsg(4096, cmsg)
            except BlockingIOError:
                return
            if len(data) < 12:
                continue
            rx = next((struct.unpack("qq", d[:16]) for lvl, typ, d in anc
                       if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            rx = rx[0] * 1_000_000_000 + rx[1] - offset if rx else time.monotonic_ns()
            qid = struct.unpack("!H", data[:2])[0]
            n = seq - 1 - ((seq - 1 - qid) & 0xffff)  # the latest query with that id
            if n < 0:
                continue
            ans_seq.append(n)
            ans_ns.append(rx)
            ans_ok.append(1 if (data[3] & 0xf) == 0 and data[6:8] != b"\0\0" else 0)

    while True:
        now = time.monotonic_ns()
        if until is None:
            while start + seq * step <= now:
                w = wires[seq % len(wires)]
                try:
                    s.send(struct.pack("!H", seq & 0xffff) + w[2:])
                except BlockingIOError:
                    pass  # counts as lost
                sent.append(time.monotonic_ns())
                seq += 1
            if now >= check:
                check = now + 10_000_000
                if stop.is_set():
                    until = now + LOST_AFTER_NS
            wait = max(0.0, (start + seq * step - time.monotonic_ns()) / 1e9)
        elif now >= until:
            break
        else:
            wait = (until - now) / 1e9
        r, _, _ = select.select([s], [], [], wait)
        if r:
            drain()
    s.close()
    conn.send((sent.tobytes(), ans_seq.tobytes(), ans_ns.tobytes(), ans_ok.tobytes()))
    conn.close()


def window(sent, answers, t0, t1):
    """Figures for the queries sent in [t0, t1) and the answers to them.
    max_gap: the longest time between consecutive answers; max_wait: the
    same, counted only while a query (one that got its answer) was
    waiting, so a pause of the client's own sending does not count."""
    first = {}
    for n, rx, ok in answers:
        if ok and n not in first:
            first[n] = rx
    seqs = [n for n, t in enumerate(sent) if t0 <= t < t1]
    got = [n for n in seqs if n in first and first[n] - sent[n] <= LOST_AFTER_NS]
    lat = [first[n] - sent[n] for n in got]
    by_rx = sorted(got, key=lambda n: first[n])
    gap, gap_at, wait, wait_at = 0, t0, 0, t0
    done, oldest = set(), 0  # oldest: index in got of the oldest query still waiting
    prev = None
    for n in by_rx:
        rx = first[n]
        while oldest < len(got) and got[oldest] in done:
            oldest += 1
        if prev is not None:
            if rx - prev > gap:
                gap, gap_at = rx - prev, prev
            w = rx - max(prev, sent[got[oldest]])
            if w > wait:
                wait, wait_at = w, max(prev, sent[got[oldest]])
        done.add(n)
        prev = rx
    tx = [sent[n] for n in seqs]
    send_gap = max((b - a for a, b in zip(tx, tx[1:])), default=0)
    return {"queries": len(seqs), "lost": len(seqs) - len(got), "max_gap_ms": gap / 1e6,
            "gap_at": gap_at, "max_wait_ms": wait / 1e6, "wait_at": wait_at,
            "max_latency_ms": max(lat, default=0) / 1e6, "send_gap_ms": send_gap / 1e6}


def realtime(pid):
    """SCHED_FIFO for the threads of pid but its main (control) thread:
    the worker then runs when a query comes, whatever else the machine
    runs, and what is left to see is the daemon's own stalls."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) != pid:
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(10))


def reload_under_load(srv, pools, reloads, qps, rt, steady_s=5.0):
    rng = random.Random(20)
    wires = []
    for _ in range(4096):
        i = rng.randrange(pools)
        j = rng.randrange(-1, ALIASES)
        name = f"p{i}.big.test." if j < 0 else f"a{i}-{j}.big.test."
        wires.append(dns.message.make_query(name, "A", use_edns=False).to_wire())
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=stream, args=(srv.addr, srv.port, wires, qps, rt, stop, child))
    if rt:
        realtime(srv.proc.pid)
    proc.start()
    try:
        time.sleep(0.5)  # warm-up
        t_steady = time.monotonic_ns()
        time.sleep(steady_s)
        done = []
        for _ in range(reloads):
            t = time.monotonic_ns()
            res = subprocess.run([CAROUSELCTL, "-s", srv.ctl, "reload"], capture_output=True,
                                 text=True, timeout=300)
            done.append((t, time.monotonic_ns()))
            assert res.returncode == 0, res.stdout + res.stderr
            time.sleep(1.0)
        stop.set()
        sent_b, seq_b, rx_b, ok_b = parent.recv()
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    sent = array.array("q", sent_b)
    answers = list(zip(array.array("q", seq_b), array.array("q", rx_b), array.array("b", ok_b)))
    steady = window(sent, answers, t_steady, t_steady + int(steady_s * 1e9))
    during = window(sent, answers, done[0][0], done[-1][1] + 1_000_000_000)
    during["reload_s"] = [(b - a) / 1e9 for a, b in done]
    # where the longest pause fell: which reload, how far into it
    at = during["wait_at"]
    k = max([i for i in range(len(done)) if done[i][0] <= at] or [0])
    during["wait_where"] = (f"+{(at - done[k][0]) / 1e9:.2f} s from the start of reload "
                            f"{k + 1} (which took {(done[k][1] - done[k][0]) / 1e9:.2f} s)")
    steady["wait_where"] = ""
    return steady, during


# --- the curve ---

def rss_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def spread(xs):
    return min(xs), statistics.median(xs), max(xs)


def secs(xs):
    lo, med, hi = spread(xs)
    return f"{med:.2f} s ({lo:.2f}–{hi:.2f})" if len(xs) > 1 else f"{med:.2f} s"


def measure(names, rounds, load, reloads, qps, rt):
    pools = names // (ALIASES + 1)
    d = tempfile.mkdtemp(prefix="carousel-big-")
    body = write(d, pools)
    cfg = os.path.join(d, "check.yaml")
    with open(cfg, "w") as f:
        f.write("server:\n  listen: [127.0.0.1@53]\n" + body)
    r = {"names": pools * (ALIASES + 1), "pools": pools, "check_s": [], "rss_kb": [],
         "reload_s": []}
    for _ in range(rounds):
        t0 = time.monotonic()
        out = subprocess.run(["/usr/bin/time", "-v", CAROUSELD, "--check", cfg],
                             capture_output=True, text=True)
        r["check_s"].append(time.monotonic() - t0)
        assert out.returncode == 0, out.stdout + out.stderr
        r["rss_kb"].append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                                         out.stderr).group(1)))
    print(out.stdout.strip(), flush=True)
    os.unlink(cfg)
    srv = Carouseld(body, zones_from=os.path.join(d, "zones"))
    srv.start_timeout = 120
    with srv:
        last = f"a{pools - 1}-{ALIASES - 1}.big.test."
        assert len(srv.query(last, "A").answer) == 2, last
        for _ in range(rounds):
            t0 = time.monotonic()
            res = subprocess.run([CAROUSELCTL, "-s", srv.ctl, "reload"], capture_output=True,
                                 text=True, timeout=300)
            r["reload_s"].append(time.monotonic() - t0)
            assert res.returncode == 0, res.stdout + res.stderr
        phases = [tuple(int(x) for x in m) for m in re.findall(
            r"event=reload result=ok .*load_ms=(\d+) adopt_ms=(\d+) swap_ms=(\d+)",
            srv.logtext())]
        r["phases"] = [statistics.median(x) for x in zip(*phases)] if phases else None
        st = srv.ctl_cmd("status").stdout
        r["config_b"] = int(re.search(r"config-memory (\d+)", st).group(1))
        r["daemon_kb"] = rss_kb(srv.proc.pid, "VmRSS")
        r["daemon_hwm_kb"] = rss_kb(srv.proc.pid, "VmHWM")
        if load:
            r["load"] = reload_under_load(srv, pools, reloads, qps, rt)
            assert len(srv.query(last, "A").answer) == 2, last
    for name in os.listdir(os.path.join(d, "zones")):
        os.unlink(os.path.join(d, "zones", name))
    os.rmdir(os.path.join(d, "zones"))
    os.rmdir(d)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", default=os.environ.get("BENCH_NAMES", "10000,100000,1000000"),
                    help="sizes in names, comma-separated (10 names a pool)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    ap.add_argument("--load-names", default=os.environ.get("BENCH_LOAD_NAMES", "100000,1000000"),
                    help="sizes reloaded under load (empty: none)")
    ap.add_argument("--reloads", type=int, default=int(os.environ.get("BENCH_RELOADS", "3")))
    ap.add_argument("--qps", type=int, default=int(os.environ.get("BENCH_QPS", "3000")))
    ap.add_argument("--rt", action="store_true", default=bool(os.environ.get("BENCH_RT")),
                    help="client and daemon workers SCHED_FIFO (root): the daemon's own "
                         "stalls without the machine's")
    a = ap.parse_args()
    sizes = sorted(int(n) for n in a.names.split(",") if n)
    load = {int(n) for n in a.load_names.split(",") if n}
    res = [measure(n, a.rounds, n in load, a.reloads, a.qps, a.rt) for n in sizes]

    base = res[0]
    per_check = statistics.median(base["check_s"]) / base["names"]
    per_reload = statistics.median(base["reload_s"]) / base["names"]
    ref = f"{base['names'] // 1000} k" if base["names"] >= 1000 else str(base["names"])
    print("\n| names | pools | --check | --check max RSS | reload | config memory | daemon RSS "
          f"| daemon peak RSS | --check per name vs {ref} | reload per name vs {ref} "
          "| reload: load / adopt / swap |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        r["check_x"] = statistics.median(r["check_s"]) / r["names"] / per_check
        r["reload_x"] = statistics.median(r["reload_s"]) / r["names"] / per_reload
        print(f"| {r['names']} | {r['pools']} | {secs(r['check_s'])} | "
              f"{statistics.median(r['rss_kb']) / 1024:.0f} MiB | {secs(r['reload_s'])} | "
              f"{r['config_b'] / 2**20:.0f} MiB | {r['daemon_kb'] / 1024:.0f} MiB | "
              f"{r['daemon_hwm_kb'] / 1024:.0f} MiB | {r['check_x']:.2f} | "
              f"{r['reload_x']:.2f} | " +
              (" / ".join(f"{x:.0f}" for x in r["phases"]) + " ms |" if r["phases"] else "— |"))
    loaded = [r for r in res if "load" in r]
    if loaded:
        how = (", client and worker threads SCHED_FIFO" if a.rt else "")
        print(f"\nReload under load: {a.qps} q/s of A queries for pool and alias names, "
              f"one worker{how}; {a.reloads} reload(s) back to back; answers stamped on receipt "
              "by the kernel.\n")
        print("| names | window | reload | queries | lost | longest pause, a query waiting "
              "| longest latency | longest gap between answers | longest gap between sends "
              "(client) | longest pause at |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in loaded:
            for w, x in zip(("steady (no reload)", f"{a.reloads} reload{'s' if a.reloads > 1 else ''}"), r["load"]):
                print(f"| {r['names']} | {w} | {secs(x['reload_s']) if 'reload_s' in x else '—'} "
                      f"| {x['queries']} | {x['lost']} | {x['max_wait_ms']:.1f} ms | "
                      f"{x['max_latency_ms']:.1f} ms | {x['max_gap_ms']:.1f} ms | "
                      f"{x['send_gap_ms']:.1f} ms | {x['wait_where']} |")
    print()
    for r in res:
        print(f"bigconfig names={r['names']} check_s={statistics.median(r['check_s']):.2f} "
              f"rss_mb={statistics.median(r['rss_kb']) / 1024:.0f} "
              f"reload_s={statistics.median(r['reload_s']):.2f} "
              f"config_mb={r['config_b'] / 2**20:.0f} daemon_mb={r['daemon_kb'] / 1024:.0f} "
              f"check_per_name={r['check_x']:.2f} reload_per_name={r['reload_x']:.2f}")
    for r in loaded:
        for w, x in zip(("steady", "reload"), r["load"]):
            print(f"bigconfig-load names={r['names']} window={w} queries={x['queries']} "
                  f"lost={x['lost']} max_wait_ms={x['max_wait_ms']:.1f} "
                  f"max_gap_ms={x['max_gap_ms']:.1f} "
                  f"max_latency_ms={x['max_latency_ms']:.1f} send_gap_ms={x['send_gap_ms']:.1f}")


if __name__ == "__main__":
    main()
