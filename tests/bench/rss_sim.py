#!/usr/bin/python3
"""rss_sim.py -- how RSS would spread each traffic profile over 2, 4, 8 and
16 RX queues (worker lcores), and what that makes of the measured per-lcore
rate: a simulation, not a measurement (this machine has two cores).

    rss_sim.py [--profiles DIR] [--mqps X | --dpdk-csv FILE]

For every frame of every profile pcap (tests/bench/profiles/make_profiles.py,
seed 42; made into a temporary directory unless --profiles names one), the
Toeplitz hash with the standard Microsoft RSS key over the 4-tuple (source
address, destination address, source port, destination port; IPv4 or IPv6,
as a NIC's RSS for UDP), then the queue from a 128-entry redirection table
filled round robin (entry i -> queue i mod N, DPDK's default). Imbalance is
the busiest queue's frames over the mean per queue (1.00 = even). The
estimate assumes a worker lcore's capacity does not drop when more run
(no shared limit: memory bandwidth, LLC, the NIC's packet rate, the
exception path) and that the busiest queue saturates first:
estimate = per-lcore Mqps x N / imbalance. The per-lcore Mqps is --mqps, or
the median of carousel's `worker capacity Mqps` in a dp_bench table
(--dpdk-csv, default docs/report/dpdk.csv: the last report).

Prints a markdown table and, last, `rss imbalance16=I mqps16=E` (the worst
profile at 16 queues)."""
import argparse
import csv
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CAROUSEL_SOURCE", os.path.dirname(os.path.dirname(HERE)))
PROFILES = ["hot", "zipf10k", "zipf100k", "resolver", "ipv6", "flood"]
QUEUES = [2, 4, 8, 16]
RETA_SIZE = 128
# the key in Microsoft's RSS specification, also DPDK's and most NICs' default
MS_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcb"
                       "ae7b30b477cb2da38030f20c6a42b73bbeac01fa")


def toeplitz_tables(key, nbytes):
    """Toeplitz is linear over GF(2): the hash of an input is the XOR, over
    its set bits i, of the 32 key bits starting at bit i. Per input byte
    and value, that XOR precomputed."""
    k = int.from_bytes(key, "big")
    klen = len(key) * 8
    window = [(k >> (klen - 32 - i)) & 0xffffffff for i in range(nbytes * 8)]
    tables = []
    for p in range(nbytes):
        t = [0] * 256
        for v in range(256):
            h = 0
            for b in range(8):
                if v & (0x80 >> b):
                    h ^= window[p * 8 + b]
            t[v] = h
        tables.append(t)
    return tables


T = toeplitz_tables(MS_KEY, 36)  # IPv6: 16 + 16 + 2 + 2 bytes


def toeplitz(data):
    h = 0
    for p, v in enumerate(data):
        h ^= T[p][v]
    return h


def selftest():
    """Microsoft's verification vectors ("Verifying the RSS Hash Calculation")."""
    src, dst = bytes([66, 9, 149, 187]), bytes([161, 142, 100, 80])
    assert toeplitz(src + dst + struct.pack("!HH", 2794, 1766)) == 0x51ccc178
    assert toeplitz(src + dst) == 0x323e8fc2
    src6 = bytes.fromhex("3ffe250102001fff0000000000000007")
    dst6 = bytes.fromhex("3ffe2501020000030000000000000001")
    assert toeplitz(src6 + dst6 + struct.pack("!HH", 2794, 1766)) == 0x40207d3d
    assert toeplitz(src6 + dst6) == 0x2cc18cd5


def tuples(path):
    """(2-tuple bytes, 4-tuple bytes) of each Ethernet/IP/UDP frame of a pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if struct.unpack_from("<I", data, 0)[0] != 0xa1b2c3d4:
        sys.exit(f"{path}: not a little-endian microsecond pcap")
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if fr[12:14] == b"\x08\x00":
            ihl = (fr[14] & 15) * 4
            addrs, l4 = fr[26:34], 14 + ihl
        elif fr[12:14] == b"\x86\xdd":
            addrs, l4 = fr[22:54], 54
        else:
            continue
        out.append((addrs, addrs + fr[l4:l4 + 4]))
    return out


def spread(keys):
    """{queues: (imbalance over the 4-tuple, imbalance over addresses only)}"""
    cache = {}
    h4 = [cache.setdefault(k4, toeplitz(k4)) for _, k4 in keys]
    h2 = [cache.setdefault(k2, toeplitz(k2)) for k2, _ in keys]
    res = {}
    for n in QUEUES:
        reta = [i % n for i in range(RETA_SIZE)]
        imb = []
        for hs in (h4, h2):
            load = [0] * n
            for h in hs:
                load[reta[h % RETA_SIZE]] += 1
            imb.append(max(load) / (len(hs) / n))
        res[n] = tuple(imb)
    return res


def lcore_mqps(path):
    with open(path, newline="") as f:
        v = [float(r["worker capacity Mqps"]) for r in csv.DictReader(f)
             if r.get("mode") == "carousel"]
    return statistics.median(v) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles")
    ap.add_argument("--mqps", type=float)
    ap.add_argument("--dpdk-csv", default=os.environ.get(
        "BENCH_DPDK_CSV", os.path.join(SRC, "docs", "report", "dpdk.csv")))
    a = ap.parse_args()
    selftest()
    mqps, source = a.mqps, "given with --mqps"
    if mqps is None and os.path.exists(a.dpdk_csv):
        mqps = lcore_mqps(a.dpdk_csv)
        source = f"median of carousel's worker capacity in {os.path.relpath(a.dpdk_csv, SRC)}"
    tmp = None
    if not a.profiles:
        tmp = a.profiles = tempfile.mkdtemp(prefix="carousel-rss-")
        subprocess.run([sys.executable, os.path.join(HERE, "profiles", "make_profiles.py"),
                        "--out", tmp], check=True, stdout=subprocess.DEVNULL)
    try:
        rows = {p: spread(tuples(os.path.join(a.profiles, p + ".pcap"))) for p in PROFILES}
    finally:
        if tmp:
            shutil.rmtree(tmp)
    print("RSS spread (Toeplitz, Microsoft key, 128-entry table): busiest queue / mean "
          "queue; 4-tuple as a NIC hashes UDP, addresses only for contrast")
    print()
    print("| profile | " + " | ".join(f"{n} queues" for n in QUEUES) +
          " | " + " | ".join(f"{n} queues, addresses only" for n in QUEUES) + " |")
    print("|---|" + "---|" * 2 * len(QUEUES))
    for p, r in rows.items():
        print(f"| {p} | " + " | ".join(f"{r[n][0]:.2f}" for n in QUEUES) + " | " +
              " | ".join(f"{r[n][1]:.2f}" for n in QUEUES) + " |")
    worst = {n: max(r[n][0] for r in rows.values()) for n in QUEUES}
    worst2 = {n: max(r[n][1] for r in rows.values()) for n in QUEUES}
    print()
    if mqps is None:
        print("no per-lcore rate (--mqps or a dp_bench CSV): no estimate")
        print(f"rss imbalance16={worst[16]:.2f}")
        return
    print(f"ESTIMATE, not a measurement: hit throughput with N worker lcores = "
          f"{mqps:.2f} Mqps per lcore ({source}) x N / the "
          f"worst profile's imbalance, if nothing shared limits it")
    print()
    print("| worker lcores (RX queues) | worst imbalance | estimated Mqps (not measured) | "
          "hashed on addresses only: imbalance | estimated Mqps |")
    print("|---|---|---|---|---|")
    print(f"| 1 | 1.00 | {mqps:.2f} (measured) | 1.00 | {mqps:.2f} (measured) |")
    for n in QUEUES:
        print(f"| {n} | {worst[n]:.2f} | {mqps * n / worst[n]:.1f} | {worst2[n]:.2f} | "
              f"{mqps * n / worst2[n]:.1f} |")
    print(f"\nrss imbalance16={worst[16]:.2f} mqps16={mqps * 16 / worst[16]:.1f}")


if __name__ == "__main__":
    main()
