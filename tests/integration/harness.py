"""harness.py -- start carouseld (and reference servers) on private 127.x
addresses for one integration test; stop only what it started, by pid."""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.message
import dns.query
import dns.rdatatype

SKIP = 77
SRC = os.environ.get("CAROUSEL_SOURCE", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("CAROUSEL_BUILD", os.path.join(SRC, "build"))
CAROUSELD = os.environ.get("CAROUSELD", os.path.join(BUILD, "carouseld"))
CAROUSELCTL = os.environ.get("CAROUSELCTL", os.path.join(BUILD, "carouselctl"))


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            skip(f"{t} is not installed (run scripts/install-deps.sh)")


def stop_process(proc, grace=10):
    """SIGTERM a process this test started, SIGKILL it after `grace`
    seconds; returns its exit status (None when there was none)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def free_addr():
    """A 127.x address and a port that are free for UDP and TCP."""
    for _ in range(100):
        addr = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
        port = random.randint(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind((addr, port))
                t.bind((addr, port))
            return addr, port
        except OSError:
            continue
    raise RuntimeError("no free address")


class Checks:
    """Collects failures so one run reports every broken behaviour."""

    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.passed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}")
        return cond

    def eq(self, got, want, what):
        ok = got == want
        if not ok:
            what = f"{what}: got {got!r}, want {want!r}"
        return self.check(ok, what)

    def done(self):
        print(f"{self.name}: {self.passed} checks passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


class Carouseld:
    """carouseld on a fresh copy of a config; the copy's zone paths and
    listen/control settings are rewritten for this run."""

    start_timeout = 10  # seconds to the first answer; a large config takes longer

    def __init__(self, yaml_text=None, workers=1, zones_from=None):
        self.dir = tempfile.mkdtemp(prefix="carousel-it-")
        self.addr, self.port = free_addr()
        self.ctl = os.path.join(self.dir, "ctl.sock")
        shutil.copytree(zones_from or os.path.join(SRC, "configs", "zones"),
                        os.path.join(self.dir, "zones"))
        self.config = os.path.join(self.dir, "carousel.yaml")
        self.workers = workers
        self.write_config(yaml_text)
        self.log = open(os.path.join(self.dir, "carouseld.log"), "w+")
        self.proc = None

    def server_block(self):
        return (f"server:\n  listen: [{self.addr}@{self.port}]\n"
                f"  workers: {self.workers}\n  control-socket: {self.ctl}\n"
                f"  tcp-idle-timeout: 2s\n")

    def write_config(self, yaml_text=None, path=None):
        if yaml_text is None:
            with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
                yaml_text = f.read()
            # swap the bundled server block for ours
            start = yaml_text.index("server:")
            end = yaml_text.index("\nzones:")
            yaml_text = yaml_text[:start] + self.server_block() + yaml_text[end:]
        else:
            yaml_text = self.server_block() + yaml_text
        with open(path or self.config, "w") as f:
            f.write(yaml_text)

    def start(self):
        self.proc = subprocess.Popen([CAROUSELD, "-c", self.config],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("carouseld exited: " + self.logtext())
            try:
                self.query("example.test.", "SOA", timeout=0.2)
                return self
            except Exception:
                time.sleep(0.05)
        # __exit__ does not run when __enter__ raises: stop it here
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("carouseld did not answer: " + self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def query(self, name, rdtype="A", tcp=False, timeout=2.0, **kw):
        q = dns.message.make_query(name, rdtype, **kw)
        if tcp:
            return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.addr, port=self.port, timeout=timeout,
                             ignore_trailing=True)

    def ctl_cmd(self, *args):
        return subprocess.run([CAROUSELCTL, "-s", self.ctl, *args],
                              capture_output=True, text=True, timeout=10)

    def stop(self):
        """SIGTERM; returns (and keeps in exit_code) the exit status, so a
        crash or a sanitizer report at shutdown is seen."""
        stop_process(self.proc)
        self.exit_code = self.proc.returncode if self.proc else None
        if self.exit_code:
            print(self.logtext()[-4000:])
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.exit_code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def dig(server, *args):
    out = subprocess.run(["dig", f"@{server.addr}", "-p", str(server.port),
                          "+norec", "+time=2", "+tries=1", *args],
                         capture_output=True, text=True, timeout=15)
    return out.stdout


class Knot:
    """Knot DNS serving zone files on a private 127.x address (the
    reference authoritative for comparisons and benchmarks)."""

    def __init__(self, zones, udp_workers=1):
        self.dir = tempfile.mkdtemp(prefix="carousel-knot-")
        self.addr, self.port = free_addr()
        zdir = os.path.join(self.dir, "zones")
        os.makedirs(zdir)
        zone_conf = ""
        for apex, path in zones:
            shutil.copy(path, os.path.join(zdir, apex + "zone"))
            zone_conf += f"  - domain: {apex}\n    file: {apex}zone\n"
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write(f"""server:
    listen: {self.addr}@{self.port}
    rundir: {self.dir}
    udp-workers: {udp_workers}
    tcp-workers: 1
    background-workers: 1
database:
    storage: {self.dir}/db
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: {zdir}
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
{zone_conf}""")
        self.log = open(os.path.join(self.dir, "knotd.log"), "w+")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["knotd", "-c", os.path.join(self.dir, "knot.conf")],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited")
            try:
                q = dns.message.make_query("example.test.", "SOA")
                r = dns.query.udp(q, self.addr, port=self.port, timeout=0.2)
                if r.answer:
                    return self
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("knotd did not answer")

    def stop(self):
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def flatten_pools(config_path, zone_dir, out_dir):
    """Write zone files in which every pool and alias of config_path is a
    plain RRset, as a classic authoritative would serve them."""
    import yaml
    with open(config_path) as f:
        cfg = yaml.safe_load(f)
    out = []
    for z in cfg["zones"]:
        src = os.path.join(zone_dir, os.path.basename(z["file"]))
        dst = os.path.join(out_dir, os.path.basename(z["file"]))
        extra = []
        apex = z["name"].lower()
        for p in cfg.get("pools", []):
            name = p["name"].lower()
            if not name.endswith(apex):
                continue
            ttl = p.get("ttl", 30)
            for m in p["members"]:
                if m.get("weight", 1) == 0:
                    continue
                rtype = "AAAA" if ":" in m["address"] else "A"
                extra.append(f"{name} {ttl} IN {rtype} {m['address']}")
            for a in p.get("aliases", []):
                extra.append(f"{a.lower()} {ttl} IN CNAME {name}")
        shutil.copy(src, dst)
        with open(dst, "a") as f:
            f.write("\n".join(extra) + "\n")
        out.append((apex, dst))
    return out


def ctl_stat(ctl, name):
    """One counter of `carouselctl stats`, -1 when absent."""

    out = subprocess.run([CAROUSELCTL, "-s", ctl, "stats"], capture_output=True,
                         text=True).stdout
    m = re.search(rf"^{re.escape(name)} (\d+)$", out, re.M)
    return int(m.group(1)) if m else -1


def need_root_netns():
    if os.geteuid() != 0:
        skip("needs root (network namespaces, veth)")
    need("ip", "ethtool")


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=30)


class Wire:
    """Two namespaces joined by a veth pair: `app` holds the appliance's
    end (no address: the dataplane owns it), `cli` the client's end with
    198.51.100.2/24 and 2001:db8:100::2/64. With client_defaults the
    client end keeps the kernel's offloads (checksum offload on), as a
    real host's would."""

    APP_IP4, APP_IP6 = "198.51.100.1", "2001:db8:100::1"
    CLI_IP4, CLI_IP6 = "198.51.100.2", "2001:db8:100::2"

    def __init__(self, tag, client_defaults=False):
        n = os.getpid() % 100000
        self.app, self.cli = f"car{tag}{n}a", f"car{tag}{n}c"
        self.app_if, self.cli_if = f"cw{n}a", f"cw{n}c"
        self.tap = f"ct{n}"
        sh("ip", "netns", "add", self.app)
        sh("ip", "netns", "add", self.cli)
        sh("ip", "link", "add", self.app_if, "netns", self.app, "type", "veth",
           "peer", "name", self.cli_if, "netns", self.cli)
        for ns, cmds in ((self.app, [
                ["ip", "link", "set", "lo", "up"],
                ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                 "net.ipv6.conf.default.accept_dad=0"],
                ["ip", "link", "set", self.app_if, "up"],
                ["ethtool", "-K", self.app_if, "tx", "off", "rx", "off"]]),
                (self.cli, [
                ["ip", "link", "set", "lo", "up"],
                ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                 "net.ipv6.conf.default.accept_dad=0"],
                ["ip", "addr", "add", f"{self.CLI_IP4}/24", "dev", self.cli_if],
                ["ip", "addr", "add", f"{self.CLI_IP6}/64", "dev", self.cli_if, "nodad"],
                ["ip", "link", "set", self.cli_if, "up"]] +
                ([] if client_defaults else [["ethtool", "-K", self.cli_if, "tx", "off"]]))):
            for c in cmds:
                sh("ip", "netns", "exec", ns, *c)

    def in_cli(self, *args, timeout=15):
        return subprocess.run(["ip", "netns", "exec", self.cli, *args], capture_output=True,
                              text=True, timeout=timeout)

    def dig(self, *args):
        """dig from the client namespace; its text output."""
        return self.in_cli("dig", "+time=2", "+tries=2", *args).stdout

    def wait_answering(self, proc, tries=100):
        """True once the appliance answers SOA queries from the client side."""
        for _ in range(tries):
            if proc.poll() is not None:
                return False
            if "NOERROR" in self.dig(f"@{self.APP_IP4}", "example.test", "SOA", "+time=1",
                                     "+tries=1"):
                return True
            time.sleep(0.2)
        return False

    def close(self):
        sh("ip", "netns", "del", self.app, check=False)
        sh("ip", "netns", "del", self.cli, check=False)


def health_pool_yaml(flag_a, flag_b):
    """A pool whose two members follow flag files (exec monitors, checked
    every 200 ms): the fast-path tests take one away and bring it back."""
    def mon(flag):
        return (f'{{type: exec, command: "test -e {flag}", interval: 200ms, '
                f'timeout: 150ms, rise: 1, fall: 1}}')
    return f"""  - name: hc.example.test.
    aliases: [hcalias.example.test.]
    members:
      - {{address: 192.0.2.71, monitor: {mon(flag_a)}}}
      - {{address: 192.0.2.72, monitor: {mon(flag_b)}}}
"""


def check_fastpath_health(t, label, dig, stat, counter, flag_b):
    """A member that fails its check leaves the fast path's answers within
    fall x interval + one interval (and a scheduling margin), and comes
    back when it passes again; the fast path (its `counter`) answers."""
    bound = 2 * 0.2 * 1.1 + 0.15 + 1.0

    def addrs():
        return sorted(dig("hcalias.example.test", "+short").split()[1:])

    def until(want, limit):
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if addrs() == want:
                return time.monotonic() - start
            time.sleep(0.02)
        return None

    both, one = ["192.0.2.71", "192.0.2.72"], ["192.0.2.71"]
    t.check(until(both, 5) is not None, f"{label}: health-checked pool, both members up")
    before = stat(counter)
    t.eq(addrs(), both, f"{label}: both members answered")
    t.eq(stat(counter) - before, 1, f"{label}: ...by the fast path")
    os.unlink(flag_b)
    took = until(one, bound)
    t.check(took is not None, f"{label}: failed member gone from fast-path answers in "
                              f"{took and round(took, 2)} s (bound {bound:.2f} s)")
    before = stat(counter)
    t.eq(addrs(), one, f"{label}: the failed member is not answered")
    t.eq(stat(counter) - before, 1, f"{label}: ...and the fast path answered that")
    open(flag_b, "w").close()
    t.check(until(both, bound) is not None, f"{label}: member back after it passes again")


def dnsperf(server, qfile, seconds):
    """dnsperf (-c 4 -q 256) against server for `seconds`: (qps, % lost)."""
    out = subprocess.run(["dnsperf", "-s", server.addr, "-p", str(server.port), "-d", qfile,
                          "-l", str(seconds), "-c", "4", "-q", "256", "-t", "2"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    return qps, 100.0 * lost / max(sent, 1)
