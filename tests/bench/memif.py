#!/usr/bin/python3
"""memif.py -- end to end with a stock DPDK generator, no kernel in the way:
dpdk-testpmd replays a pcap of queries (net_pcap, infinite_rx) into a
net_memif server port in io forwarding; carouseld's DPDK wire port is the
memif client (socket-abstract=no: carouseld runs in a namespace of its
own, for its exception interface). testpmd's forwarding lcore is core 0,
carouseld's worker core 1.

Three runs taking turns, three rounds: the generator's ceiling (a second testpmd
as the memif client in macswap mode, a trivial reflector), carouseld on
hot names only, and carouseld on a Zipf mix with 10 % misses (answered by
carouseld through the kernel). The pcaps are made here from the bundled
config's names: A and AAAA, half with EDNS, 16 client addresses.

Prints offered (what the generator pushed into memif), answered (replies
that came back) per second, and last
`memif answered_mpps=A offered_mpps=O ceiling_mpps=C miss_ratio=M`
(medians; M = answered with 10 % misses / answered on hits only).

Caveat: DPDK 22.11's memif PMD can crash either side when the peer goes
away under load, so forwarding is stopped before carouseld is."""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import stop_process  # noqa: E402
SRC = os.environ.get("CAROUSEL_SOURCE", os.path.dirname(os.path.dirname(HERE)))
CAROUSELD = os.environ.get("CAROUSELD", os.path.join(SRC, "build", "carouseld"))
CAROUSELCTL = os.environ.get("CAROUSELCTL", os.path.join(os.path.dirname(CAROUSELD),
                                                         "carouselctl"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = 3
APP_IP = bytes([198, 51, 100, 1])


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


if os.geteuid() != 0:
    skip("needs root (namespaces, DPDK)")
if not shutil.which("dpdk-testpmd"):
    skip("dpdk-testpmd is not installed (Debian package dpdk-dev)")
if (os.cpu_count() or 1) < 2:
    skip("needs 2 cores")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def wire_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query_frame(qid, name, qtype, edns, src):
    dns = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    dns += wire_name(name) + struct.pack("!HH", qtype, 1)
    if edns:
        dns += b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    udp_len = 8 + len(dns)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, src, APP_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    sport = 1024 + qid % 60000
    pseudo = src + APP_IP + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, 53, udp_len, 0)
    c = csum(pseudo + udp + dns) or 0xffff
    udp = udp[:6] + struct.pack("!H", c)
    eth = bytes.fromhex("020000000001") + bytes.fromhex("020000000002") + b"\x08\x00"
    return eth + ip + udp + dns


def bundled_names():
    names = []
    text = open(os.path.join(SRC, "configs", "carousel.yaml")).read()
    for m in re.finditer(r"- name: (\S+)\n\s+aliases: \[([^\]]*)\]", text):
        names.append(m.group(1))
        names += [a.strip() for a in m.group(2).split(",") if a.strip()]
    for m in re.finditer(r"- name: (\S+\.example\.test\.)\n", text):
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def make_pcaps(tmp):
    names = bundled_names()
    rnd = random.Random(42)
    weights = [1.0 / (i + 1) for i in range(len(names))]  # Zipf, s = 1
    srcs = [bytes([198, 51, 100, 10 + i]) for i in range(16)]
    hot, mixed = [], []
    for i in range(4096):
        name = rnd.choices(names, weights)[0]
        qtype = 1 if i % 4 < 2 else 28
        edns = i % 2 == 1
        hot.append(query_frame(i, name, qtype, edns, srcs[i % 16]))
        if i % 10 == 9:  # a name carouseld answers itself (NXDOMAIN)
            name = f"miss{i}.example.test."
        mixed.append(query_frame(i, name, qtype, edns, srcs[i % 16]))
    paths = (os.path.join(tmp, "hot.pcap"), os.path.join(tmp, "mixed.pcap"))
    write_pcap(paths[0], hot)
    write_pcap(paths[1], mixed)
    return paths, srcs


class Testpmd:
    """dpdk-testpmd, interactive on stdin so its main thread sleeps."""

    def __init__(self, prefix, vdevs, fwd, main_lcore, fwd_lcore, ports):
        args = ["stdbuf", "-oL", "dpdk-testpmd", "-l", f"{fwd_lcore},{main_lcore}", "--main-lcore",
                str(main_lcore), "--no-huge", "--no-pci", "-m", "512", "--file-prefix", prefix,
                "--log-level=*:error"]
        for v in vdevs:
            args += ["--vdev", v]
        args += ["--", "-i", f"--forward-mode={fwd}", "--nb-cores=1", "--burst=32",
                 "--rxd=1024", "--txd=1024", "--total-num-mbufs=16384"]
        self.ports = ports
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.out = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.out.append(line)

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stats(self):
        """(rx, tx) packets per port since the last clear."""
        start = len(self.out)
        self.cmd("show port stats all")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.1)
            text = "".join(self.out[start:])
            rx = [int(x) for x in re.findall(r"RX-packets:\s+(\d+)", text)]
            tx = [int(x) for x in re.findall(r"TX-packets:\s+(\d+)", text)]
            if len(rx) >= self.ports and len(tx) >= self.ports:
                return rx, tx
        return [], []

    def quit(self):
        try:
            self.cmd("stop")
            time.sleep(0.3)
            self.cmd("quit")
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()


def measure(gen):
    """Offered and answered Mpps over SECONDS: what the generator's memif
    port sent (offered; the pcap port reads faster and testpmd drops the
    rest) and what it received back (answered)."""
    gen.cmd("clear port stats all")
    time.sleep(SECONDS)
    rx, tx = gen.stats()
    if len(rx) < 2:
        return 0.0, 0.0
    return tx[1] / SECONDS / 1e6, rx[1] / SECONDS / 1e6


def generator(tmp, pcap):
    sock = os.path.join(tmp, "memif.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    gen = Testpmd("cargen", [f"net_pcap0,rx_pcap={pcap},tx_pcap=/dev/null,infinite_rx=1",
                             f"net_memif0,role=server,socket={sock},socket-abstract=no"],
                  "io", 1, 0, 2)
    return gen, sock


def ceiling(tmp, pcap):
    gen, sock = generator(tmp, pcap)
    time.sleep(2)
    refl = Testpmd("carrefl", [f"net_memif0,role=client,socket={sock},socket-abstract=no"],
                   "macswap", 0, 1, 1)
    time.sleep(2)
    refl.cmd("start")
    gen.cmd("start")
    time.sleep(1)
    res = [measure(gen)]
    gen.cmd("stop")
    time.sleep(0.5)
    refl.quit()
    gen.quit()
    return res


def carousel(tmp, pcap, srcs, label):
    gen, sock = generator(tmp, pcap)
    time.sleep(2)
    ns = f"carmf{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    ctl = os.path.join(tmp, "ctl.sock")
    text = open(os.path.join(SRC, "configs", "carousel-dpdk.yaml")).read()
    text = text.replace("/run/carousel/ctl-dpdk.sock", ctl)
    text = text.replace("net_af_packet0,iface=car-dp0",
                        f"net_memif0,role=client,socket={sock},socket-abstract=no")
    text = text.replace("iface=cartap0", "iface=carmft0").replace("idle-sleep: 1ms", "idle-sleep: 0")
    text = text.replace("file: zones/", f"file: {SRC}/configs/zones/")
    cfg = os.path.join(tmp, "carousel.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    log = open(os.path.join(tmp, f"carouseld-{label}.log"), "w")
    proc = subprocess.Popen(["ip", "netns", "exec", ns, CAROUSELD, "-c", cfg, "--dataplane",
                             "dpdk", "--", "-l", "0-1", "--no-huge", "--no-pci", "-m", "512",
                             "--file-prefix", "carmf", "--log-level=*:error"],
                            stdout=log, stderr=log)
    res = []
    try:
        for _ in range(100):
            if subprocess.run([CAROUSELCTL, "-s", ctl, "status"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        # the pcap's clients, so the kernel can answer the misses at once
        for i, src in enumerate(srcs):
            subprocess.run(["ip", "netns", "exec", ns, "ip", "neigh", "replace",
                            ".".join(map(str, src)), "lladdr", "02:00:00:00:00:02", "dev",
                            "carmft0", "nud", "permanent"], capture_output=True)
        gen.cmd("start")
        time.sleep(1)
        res = [measure(gen)]
        st = subprocess.run([CAROUSELCTL, "-s", ctl, "stats"], capture_output=True,
                            text=True).stdout
        keep = ("dpdk.answered", "dpdk.punted.miss", "dpdk.from-kernel", "dpdk.dropped")
        print(f"  carouseld ({label}): " + ", ".join(
            line for line in st.splitlines() if line.startswith(keep) and not line.endswith(" 0")))
        gen.cmd("stop")  # before carouseld goes: the memif caveat
        time.sleep(0.5)
    finally:
        stop_process(proc, 15)
        gen.quit()
        subprocess.run(["ip", "netns", "del", ns])
        log.close()
    return res


def med(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    tmp = tempfile.mkdtemp(prefix="carousel-memif-")
    (hot, mixed), srcs = make_pcaps(tmp)
    runs = {"generator ceiling (testpmd macswap)": [], "carouseld, hot names": [],
            "carouseld, 10 % misses": []}
    for _ in range(ROUNDS):  # in turn: the machine drifts between rounds
        runs["generator ceiling (testpmd macswap)"] += ceiling(tmp, hot)
        runs["carouseld, hot names"] += carousel(tmp, hot, srcs, "hot")
        runs["carouseld, 10 % misses"] += carousel(tmp, mixed, srcs, "mixed")
    print("| run | round | offered Mpps | answered Mpps | answered share |")
    print("|---|---|---|---|---|")
    for label, res in runs.items():
        for i, (off, ans) in enumerate(res):
            print(f"| {label} | {i + 1} | {off:.2f} | {ans:.2f} | "
                  f"{100 * ans / off if off else 0:.1f} % |")
    ceil = med([a for _, a in runs["generator ceiling (testpmd macswap)"]])
    hot_res = runs["carouseld, hot names"]
    mix_res = runs["carouseld, 10 % misses"]
    ans, off = med([a for _, a in hot_res]), med([o for o, _ in hot_res])
    miss = med([m[1] / h[1] if h[1] else 0 for h, m in zip(hot_res, mix_res)])
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"memif answered_mpps={ans:.2f} offered_mpps={off:.2f} ceiling_mpps={ceil:.2f} "
          f"miss_ratio={miss:.2f}")


main()
