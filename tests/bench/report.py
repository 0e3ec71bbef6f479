#!/usr/bin/python3
"""report.py -- run every benchmark this machine can run, keep what each
printed as CSV, and regenerate the report in docs/benchmarks.md (issue 18).

    report.py [--quick] [--only a,b] [--out DIR] [--no-docs] [--no-run]

For each benchmark: its output in OUT/NAME.txt, every markdown table it
printed as OUT/NAME.csv (further tables NAME.2.csv, …), its key=value
last lines in OUT/summary.csv; the machine (lscpu, kernel, load, package
versions) in OUT/machine.txt. Then the figures: each a ratio against a
baseline measured in the same run, per round, min / median / max over the
three rounds, written between the `<!-- report:… -->` markers of
docs/benchmarks.md and README.md (hand-written prose outside them stays),
and the plots (gnuplot) into docs/img/report-*.png. --no-docs leaves the
source tree alone: the same blocks go to OUT/report.md and the plots to
OUT/img/ (what the meson benchmark `report` does, into the build
directory). --no-run regenerates the docs from the CSVs already in OUT.
--quick: short runs (about 1 s a trial), for checking the kit in minutes;
its figures are marked as such.

A benchmark that cannot run here (exit 77: not root, a tool missing) is
listed as skipped with its reason."""
import argparse
import csv
import datetime
import glob
import os
import re
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("CAROUSEL_BUILD", os.path.join(SRC, "build"))
PY = "/usr/bin/python3"
PACKAGES = ["dpdk", "knot", "knot-dnsutils", "unbound", "dnsdist", "dnsperf", "libbpf1",
            "linux-image-amd64", "gcc", "clang", "libyaml-0-2", "gnuplot-nox", "tcpdump",
            "tcpreplay"]

# name: (title, command, env for a full run, env for --quick, timeout s)
BENCHES = {
    "socket": ("Socket mode vs Knot DNS", [PY, f"{HERE}/socket_bench.py"],
               {"BENCH_ROUNDS": "3"}, {"BENCH_SECONDS": "2"}, 900),
    "recursor": ("Recursion vs Unbound", [PY, f"{HERE}/recursor_bench.py"],
                 {"BENCH_ROUNDS": "3"}, {"BENCH_SECONDS": "2"}, 900),
    "backends": ("Backend group cache vs dnsdist", [PY, f"{HERE}/backends_bench.py"],
                 {"BENCH_ROUNDS": "3"}, {"BENCH_SECONDS": "2"}, 900),
    "dnstap": ("dnstap on vs off", [PY, f"{HERE}/dnstap_bench.py"],
               {"BENCH_ROUNDS": "3"}, {"BENCH_SECONDS": "2"}, 900),
    "health": ("Answers while members flap", [PY, f"{HERE}/health_bench.py"],
               {"BENCH_ROUNDS": "3"}, {"BENCH_SECONDS": "2"}, 900),
    "health_scale": ("Health at scale (100 000 monitors, 10 s)", [PY, f"{HERE}/health_scale.py"],
                     {"BENCH_MEMBERS": "3000,100000", "BENCH_INTERVAL": "10s"},
                     {}, 900),  # windows shorter than the interval see bursts
    "dpdk": ("DPDK in-process (net_ring)", [f"{BUILD}/tests/dp_bench", "3"],
             {}, {"_ARGV": "1"}, 600),
    "scale": ("Lookup throughput vs table size", None, {}, {}, 1800),
    "rss": ("Lcores and RSS queues, in simulation (an estimate)", [PY, f"{HERE}/rss_sim.py"],
            {}, {}, 600),
    "memif": ("DPDK over memif (dpdk-testpmd)", [PY, f"{HERE}/memif.py"],
              {}, {"BENCH_SECONDS": "1"}, 600),
    "xdp": ("XDP in the kernel's test runner", [f"{BUILD}/tests/xdp_bench", BUILD], {}, {}, 600),
    "e2e": ("End to end over veth: sweeps and maxima", [PY, f"{HERE}/e2e.py"],
            {"XDP_PASS_OBJ": f"{BUILD}/xdp_pass.bpf.o"},
            {"BENCH_SECONDS": "1", "BENCH_SEARCH_STEPS": "3"}, 1800),
    "bigconfig": ("A large config: 10 k, 100 k, 1 M names; reload under load",
                  [PY, f"{HERE}/bigconfig.py"], {},
                  {"BENCH_ROUNDS": "1", "BENCH_NAMES": "10000,100000",
                   "BENCH_LOAD_NAMES": "100000", "BENCH_RELOADS": "1"}, 900),
    "publish": ("Publishing 10 k, 100 k, 1 M names to DPDK and XDP",
                [PY, f"{HERE}/publish.py"], {},
                {"BENCH_ROUNDS": "1", "BENCH_NAMES": "10000,100000"}, 1800),
    "profiles": ("Traffic profiles answer as expected", [PY, f"{HERE}/profiles/check_profiles.py"],
                 {}, {"BENCH_SAMPLE": "200"}, 600),
}
SCALE_NAMES = [1000, 100000, 1000000]


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def machine(out, quick):
    load = open("/proc/loadavg").read().split()[:3]
    pk = sh("dpkg-query -W -f='${Package} ${Version}\\n' " + " ".join(PACKAGES) + " 2>/dev/null")
    text = (f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
            f"mode: {'quick (short runs)' if quick else 'full'}\n"
            f"kernel: {sh('uname -sr')}\nos: {sh('. /etc/os-release; echo $PRETTY_NAME')}\n"
            f"commit: {sh(f'git -C {SRC} rev-parse --short HEAD')}\n"
            f"load average at start: {' '.join(load)}\n"
            f"memory: {sh('free -m | sed -n 2p')}\n\n## lscpu\n{sh('lscpu')}\n\n"
            f"## packages\n{pk}\n")
    with open(os.path.join(out, "machine.txt"), "w") as f:
        f.write(text)


def tables(text):
    """Every markdown table in text: [[header, row, …], …]."""
    found, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|") and line.rstrip().endswith("|"):
            cells = [c.strip() for c in line.strip()[1:-1].split("|")]
            if not all(re.fullmatch(r"-+", c) for c in cells):
                cur.append(cells)
        elif cur:
            found.append(cur)
            cur = []
    return found


def run_one(name, out, quick, img):
    title, cmd, env_full, env_quick, timeout = BENCHES[name]
    env = dict(os.environ, CAROUSEL_SOURCE=SRC, CAROUSELD=f"{BUILD}/carouseld",
               CAROUSELCTL=f"{BUILD}/carouselctl", CAROUSEL_BUILD=BUILD,
               UDP_REFLECT=f"{BUILD}/tests/udp_reflect",
               BENCH_DPDK_CSV=os.path.join(out, "dpdk.csv"),  # rss: the per-lcore rate
               BENCH_PLOT=os.path.join(img, "report-e2e.png"))
    env.update(env_full)
    if quick:
        env.update(env_quick)
    start = time.monotonic()
    if name == "scale" and not os.access(f"{BUILD}/tests/dp_bench", os.X_OK):
        text, rc = "SKIP: build/tests/dp_bench is not built (DPDK missing)", 77
    elif name == "scale":
        text, rc = "", 0
        for n in SCALE_NAMES:
            for thp in ("", "1"):
                if thp and n < 100000:
                    continue
                e = dict(env, GLIBC_TUNABLES="glibc.malloc.hugetlb=1") if thp else env
                p = subprocess.run([f"{BUILD}/tests/dp_bench", "0.5" if quick else "2", str(n),
                                    "scale"], capture_output=True, text=True, env=e,
                                   timeout=timeout)
                lines = p.stdout.splitlines()
                if thp:  # the same table, entries on transparent huge pages
                    lines = [re.sub(r"^\| (\d+) \|", r"| \1 (THP) |", ln) for ln in lines]
                    lines = [ln.replace("dpdk-scale names=", "dpdk-scale thp=1 names=")
                             for ln in lines]
                text += "\n".join(lines) + "\n"
                rc = rc or p.returncode
    else:
        if "_ARGV" in env:
            cmd = [cmd[0], env.pop("_ARGV")] + cmd[2:]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
            text, rc = p.stdout + ("\n" + p.stderr if p.returncode not in (0, 77) else ""), \
                p.returncode
        except subprocess.TimeoutExpired as e:
            text, rc = (e.stdout or b"").decode(errors="replace") + "\nTIMEOUT", 124
        except FileNotFoundError as e:
            text, rc = f"SKIP: {e}", 77
    took = time.monotonic() - start
    with open(os.path.join(out, f"{name}.txt"), "w") as f:
        f.write(text)
    for path in glob.glob(os.path.join(out, f"{name}.csv")) + \
            glob.glob(os.path.join(out, f"{name}.*.csv")):
        os.unlink(path)
    merged = {}
    for t in tables(text):  # same header: one table (the scale runs)
        merged.setdefault(tuple(t[0]), []).extend(t[1:])
    for i, (head, rows) in enumerate(merged.items()):
        with open(os.path.join(out, f"{name}.csv" if i == 0 else f"{name}.{i + 1}.csv"),
                  "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(head)
            w.writerows(rows)
    status = "ok" if rc == 0 else "skipped" if rc == 77 else f"failed ({rc})"
    reason = ""
    if rc == 77:
        m = re.search(r"SKIP:?\s*(.*)", text)
        reason = m.group(1).strip() if m else ""
    print(f"{name}: {status} in {took:.0f} s {reason}", flush=True)
    return status, reason, took, text


# --- figures: ratios against the same run's baseline, per round ---

def num(cell):
    m = re.search(r"-?\d+(\.\d+)?", cell.replace(" ", ""))
    return float(m.group(0)) if m else None


def read_csv(out, name, idx=1, column=None):
    """Rows of NAME.csv (NAME.IDX.csv); with column, of the first of NAME's
    tables that has that column, wherever the benchmark printed it."""
    if column is not None:
        for i in range(1, 10):
            rows = read_csv(out, name, i)
            if rows and column in rows[0]:
                return rows
        return []
    path = os.path.join(out, f"{name}.csv" if idx == 1 else f"{name}.{idx}.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pair_ratio(rows, key, col, subject, base, round_col="round"):
    """Per round: value(subject) / value(base), rows told apart by key."""
    by = {}
    for r in rows:
        v = num(r.get(col, ""))
        if v is not None:
            by.setdefault(r.get(round_col), {})[r[key]] = v
    return [d[subject] / d[base] for d in by.values()
            if subject in d and base in d and d[base]]


def spread(xs):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[0], statistics.median(xs), xs[-1]


def figures(out):
    """[(benchmark, figure, baseline, (min, median, max) or None, note)]"""
    F = []

    def add(bench, fig, base, ratios, note=""):
        F.append((bench, fig, base, spread(ratios), note))

    rows = read_csv(out, "socket")
    add("socket", "carouseld qps", "Knot DNS qps", pair_ratio(rows, "server", "qps", "carouseld",
                                                              "knotd"))
    ceil = "dnsperf ceiling (udp_reflect)"
    r = pair_ratio(rows, "server", "qps", "carouseld", ceil)
    add("socket", "carouseld qps", "dnsperf → udp_reflect ceiling", r,
        "ceiling " + _range(rows, "server", ceil, "qps", "q/s") +
        (" — dnsperf-bound" if r and statistics.median(r) >= 0.9 else ""))
    rows = read_csv(out, "recursor")
    add("recursor", "carouseld warm-cache qps", "Unbound",
        pair_ratio(rows, "resolver", "warm-cache qps", "carouseld", "unbound"))
    rows = read_csv(out, "backends")
    add("backends", "carouseld answers per CPU-s", "dnsdist",
        pair_ratio(rows, "proxy", "answers per CPU-s", "carouseld", "dnsdist"))
    rows = read_csv(out, "dnstap")
    add("dnstap", "qps, every exchange logged", "dnstap off",
        pair_ratio(rows, "dnstap", "qps", "every exchange", "off"))
    rows = read_csv(out, "health")
    add("health", "qps while members flap", "steady members",
        pair_ratio(rows, "server", "qps", "flapping", "steady"))
    rows = read_csv(out, "health_scale")
    if rows:
        sizes = sorted({int(r["monitored members"]) for r in rows})
        for n in sizes[1:]:
            per = [num(r["main-thread µs per check"]) for r in rows
                   if int(r["monitored members"]) == n]
            base = statistics.median([num(r["main-thread µs per check"]) for r in rows
                                      if int(r["monitored members"]) == sizes[0]])
            cpu = [num(r["main thread CPU"]) for r in rows if int(r["monitored members"]) == n]
            add("health_scale", f"main-thread CPU per check, {n} monitors",
                f"{sizes[0]} monitors", [p / base for p in per if base],
                f"main thread {min(cpu):.0f}–{max(cpu):.0f} % of a core")
    rows = read_csv(out, "dpdk", column="mode")
    add("dpdk", "carousel worker capacity", "minimal responder",
        pair_ratio(rows, "mode", "worker capacity Mqps", "carousel", "minimal responder"),
        _range(rows, "mode", "carousel", "worker capacity Mqps", "Mqps per lcore"))
    rows = read_csv(out, "dpdk", column="queries")
    if rows:
        share = re.search(r"mix_fastpath=(\S+)", open(os.path.join(out, "dpdk.txt")).read())
        add("dpdk", "resolver-like mix (cookies, ECS, DO)", "plain queries",
            pair_ratio(rows, "queries", "worker capacity Mqps", "resolver mix", "plain"),
            f"fast path answered {100 * float(share.group(1)):.1f} % of held names"
            if share else "")
    rows = read_csv(out, "scale")
    for n in sorted({r["names"] for r in rows}, key=lambda x: (len(x), x)):
        sub = [r for r in rows if r["names"] == n]
        add("scale", f"carousel, {n} names", "minimal responder",
            pair_ratio(sub, "mode", "worker capacity Mqps", "carousel", "minimal responder"),
            _range(sub, "mode", "carousel", "worker capacity Mqps", "Mqps per lcore"))
        add("scale", f"prefetch gain, {n} names", "same, no prefetch",
            pair_ratio(sub, "mode", "worker capacity Mqps", "carousel", "carousel, no prefetch"))
    rows = read_csv(out, "memif")
    add("memif", "carouseld answered, hot names", "generator ceiling (testpmd macswap)",
        pair_ratio(rows, "run", "answered Mpps", "carouseld, hot names",
                   "generator ceiling (testpmd macswap)"),
        _range(rows, "run", "carouseld, hot names", "answered Mpps", "Mpps"))
    rows = read_csv(out, "xdp", column="carousel ns")
    if rows:
        r = [(num(x["minimal responder ns"]) - num(x["pass (floor) ns"])) /
             (num(x["carousel ns"]) - num(x["pass (floor) ns"])) for x in rows
             if num(x["carousel ns"]) > num(x["pass (floor) ns"])]
        add("xdp", "carousel speed (1/ns above the floor)", "minimal responder", r)
    rows = read_csv(out, "e2e", column="highest rate with <= 0.1 % loss (q/s)")
    if rows:
        for path in dict.fromkeys(x["path"] for x in rows):
            if path.startswith("reflector"):
                continue
            r = pair_ratio(rows, "path", "highest rate with <= 0.1 % loss (q/s)", path,
                           "reflector (xdp_reflect)")
            bound = " — generator-bound" if r and statistics.median(r) >= 0.9 else ""
            add("e2e", f"{path}: highest rate, ≤ 0.1 % loss", "kxdpgun → xdp_reflect ceiling",
                r, _range(rows, "path", path, "highest rate with <= 0.1 % loss (q/s)", "q/s") +
                bound)
    return F


def _range(rows, key, subject, col, unit):
    v = [num(r[col]) for r in rows if r.get(key) == subject and num(r.get(col, "")) is not None]
    if not v:
        return ""
    fmt = (lambda x: f"{x:.0f}") if max(v) >= 1000 else (lambda x: f"{x:.2f}")
    return f"{fmt(min(v))}–{fmt(max(v))} {unit}"


# --- docs ---

def md_table(rows, head):
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
                     ["| " + " | ".join(r) + " |" for r in rows])


def replace_block(text, tag, body):
    begin, end = f"<!-- report:{tag} -->", f"<!-- /report:{tag} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in text and end in text:
        return text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def plots(out, figs, img):
    """IMG/report-summary.png: median and spread of every ratio;
    IMG/report-scale.png: Mqps per lcore vs names."""
    dat = os.path.join(out, "summary.dat")
    with open(dat, "w") as f:
        for i, (b, fig, base, s, _) in enumerate(x for x in figs if x[3]):
            fig = fig.replace(": highest rate, ≤ 0.1 % loss", " max rate")
            label = f"{b}: {fig}"[:44].replace("_", "-").replace('"', "")
            f.write(f'{i} {s[1]:.3f} {s[0]:.3f} {s[2]:.3f} "{label}"\n')
    gp = os.path.join(HERE, "plot_report.gp")
    subprocess.run(["gnuplot", "-e", f"infile='{dat}'; outfile='{img}/report-summary.png'",
                    gp], capture_output=True)
    rows = read_csv(out, "e2e", column="replies/s")  # the sweep, per path
    if rows:
        paths = list(dict.fromkeys(r["path"] for r in rows))
        rates = sorted({int(r["offered q/s"]) for r in rows})
        edat = os.path.join(out, "e2e.dat")
        with open(edat, "w") as f:
            f.write("offered " + " ".join(f'"{p}"' for p in paths) + "\n")
            for rate in rates:
                f.write(f"{rate} " + " ".join(next(
                    (r["replies/s"] for r in rows if r["path"] == p and
                     int(r["offered q/s"]) == rate), "?") for p in paths) + "\n")
        subprocess.run(["gnuplot", "-e", f"infile='{edat}'; outfile='{img}/report-e2e.png'; "
                        f"npaths={len(paths)}", os.path.join(HERE, "plot_e2e.gp")],
                       capture_output=True)
    rows = read_csv(out, "scale")
    if rows:
        sdat = os.path.join(out, "scale.dat")
        with open(sdat, "w") as f:
            for n in sorted({r["names"] for r in rows if "THP" not in r["names"]}, key=int):
                vals = []
                for mode in ("carousel", "carousel, no prefetch", "minimal responder"):
                    v = [num(r["worker capacity Mqps"]) for r in rows
                         if r["names"] == n and r["mode"] == mode]
                    vals.append(statistics.median(v) if v else 0)
                f.write(f"{n} " + " ".join(f"{v:.3f}" for v in vals) + "\n")
        subprocess.run(["gnuplot", "-e", f"infile='{sdat}'; outfile='{img}/report-scale.png'",
                        os.path.join(HERE, "plot_scale.gp")], capture_output=True)


def write_docs(out, results, img, docs):
    """The report blocks into docs/benchmarks.md and README.md (docs), or
    into OUT/report.md; the plots into img."""
    figs = [f for f in figures(out) if f[3] or f[0] in results]
    with open(os.path.join(out, "figures.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["benchmark", "figure", "baseline", "min", "median", "max", "note"])
        for b, fig, base, s, note in figs:
            w.writerow([b, fig, base] + ([f"{x:.3f}" for x in s] if s else ["", "", ""]) +
                       [note])
    mach = open(os.path.join(out, "machine.txt")).read()
    when = re.search(r"date: (.*)", mach).group(1)
    cpu = re.search(r"Model name:\s*(.*)", mach)
    ncpu = re.search(r"^CPU\(s\):\s*(\d+)", mach, re.M)
    kernel = re.search(r"kernel: (.*)", mach).group(1)
    loaded = float(re.search(r"load average at start: (\S+)", mach).group(1))
    mode = re.search(r"mode: (.*)", mach).group(1)
    warn = []
    if "quick" in mode:
        warn.append("**quick mode** (about 1 s a trial: a check of the kit, not a measurement)")
    if loaded > 1.0:
        warn.append(f"**loaded machine** (load average {loaded:.1f} at the start: other work "
                    "shared the cores; absolute figures are low and wide, ratios less so)")
    head = (f"Run {when}, {cpu.group(1) if cpu else '?'} × {ncpu.group(1) if ncpu else '?'} "
            f"CPUs, {kernel}; {mode}. " + ("; ".join(warn) + "." if warn else ""))
    rows = [[b, fig, base, f"{s[1]:.2f}" if s else "—",
             f"{s[0]:.2f}–{s[2]:.2f}" if s else "—", note] for b, fig, base, s, note in figs]
    summary = (head + "\n\n" + md_table(rows, ["benchmark", "figure", "baseline", "ratio (median)",
                                               "min–max", "absolute"]) +
               "\n\n![every ratio: median and min–max of three rounds]"
               "(img/report-summary.png)\n")
    status = md_table([[n, BENCHES[n][0], st + (f": {why}" if why else ""), f"{t:.0f} s"]
                       for n, (st, why, t, _) in results.items()],
                      ["benchmark", "what", "status", "took"])
    detail = []
    for n in results:
        # NAME.csv first, then NAME.2.csv, NAME.3.csv, …
        for i, path in enumerate(sorted(glob.glob(os.path.join(out, f"{n}*.csv")),
                                        key=lambda p: (p.count("."), p))):
            if not re.fullmatch(rf"{n}(\.\d+)?\.csv", os.path.basename(path)):
                continue
            with open(path, newline="") as f:
                t = list(csv.reader(f))
            if t:
                where = os.path.relpath(path, SRC if docs else out)
                detail.append(f"**{BENCHES[n][0]}** (`{where}`)\n\n" +
                              md_table(t[1:], t[0]))
    if "e2e" in results and os.path.exists(os.path.join(img, "report-e2e.png")):
        detail.append("![replies/s against offered load, end to end](img/report-e2e.png)")
    if "scale" in results and os.path.exists(os.path.join(img, "report-scale.png")):
        detail.append("![worker capacity per lcore vs names in the table]"
                      "(img/report-scale.png)")
    bm = os.path.join(SRC, "docs", "benchmarks.md") if docs else os.path.join(out, "report.md")
    text = open(bm).read() if os.path.exists(bm) else "# Benchmark report\n"
    text = replace_block(text, "summary", summary)
    text = replace_block(text, "runs", status + "\n\n" + "\n\n".join(detail))
    with open(bm, "w") as f:
        f.write(text)
    plots(out, figs, img)
    if not docs:
        return
    readme = os.path.join(SRC, "README.md")
    rt = open(readme).read()
    def pick(bench, want=""):
        return next((r for r in rows if r[0] == bench and want in r[1]), None)
    short = [r for r in (pick("socket"), pick("dpdk"), pick("scale", "carousel, 1000000 names"),
                         pick("memif"), pick("xdp"), pick("e2e", "XDP"), pick("e2e", "af_xdp"),
                         pick("e2e", "Knot"), pick("health_scale")) if r]
    rt = replace_block(rt, "summary", head + "\n\n" + md_table(
        short, ["benchmark", "figure", "baseline", "ratio", "min–max", "absolute"]) +
        "\n\nAll figures, how they are measured, and the kit to reproduce them: "
        "[docs/benchmarks.md](docs/benchmarks.md), "
        "[docs/benchmark-kit.md](docs/benchmark-kit.md).\n\n"
        "![every ratio: median and min–max of three rounds](docs/img/report-summary.png)")
    with open(readme, "w") as f:
        f.write(rt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(BENCHES))
    ap.add_argument("--out", default=os.path.join(SRC, "docs", "report"))
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--no-run", action="store_true")
    a = ap.parse_args()
    img = os.path.join(a.out, "img") if a.no_docs else os.path.join(SRC, "docs", "img")
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(img, exist_ok=True)
    results = {}
    if a.no_run:
        for n in BENCHES:
            p = os.path.join(a.out, f"{n}.txt")
            if os.path.exists(p):
                results[n] = ("ok" if glob.glob(os.path.join(a.out, f"{n}*.csv")) else "skipped",
                              "", 0, open(p).read())
    else:
        if a.only == ",".join(BENCHES) or not os.path.exists(os.path.join(a.out, "machine.txt")):
            machine(a.out, a.quick)
        else:  # some again: the others' results stay, and the machine they ran on
            with open(os.path.join(a.out, "status.csv"), newline="") as f:
                for r in csv.DictReader(f):
                    p = os.path.join(a.out, f"{r['benchmark']}.txt")
                    results[r["benchmark"]] = (r["status"], r["reason"], float(r["seconds"]),
                                               open(p).read() if os.path.exists(p) else "")
        for n in a.only.split(","):
            results[n] = run_one(n, a.out, a.quick, img)
        with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["benchmark", "line", "key", "value"])
            for n, (_, _, _, text) in results.items():
                for i, line in enumerate(text.splitlines()):
                    if re.match(r"^[\w-]+ (\w+=\S+ ?)+$", line):
                        for kv in line.split()[1:]:
                            k, v = kv.split("=", 1)
                            w.writerow([n, i, k, v])
        with open(os.path.join(a.out, "status.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["benchmark", "status", "reason", "seconds"])
            for n, (st, why, t, _) in results.items():
                w.writerow([n, st, why, f"{t:.0f}"])
    if a.no_run and os.path.exists(os.path.join(a.out, "status.csv")):
        with open(os.path.join(a.out, "status.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if r["benchmark"] in results:
                    results[r["benchmark"]] = (r["status"], r["reason"], float(r["seconds"]),
                                               results[r["benchmark"]][3])
    write_docs(a.out, results, img, not a.no_docs)
    print(f"report: {a.out}, " + ("docs/benchmarks.md, README.md" if not a.no_docs
                                  else os.path.join(a.out, "report.md")))


if __name__ == "__main__":
    main()
