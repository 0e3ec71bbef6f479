#!/usr/bin/python3
"""make_profiles.py -- traffic profiles for packet generators (issue 18).

    make_profiles.py [--out DIR] [--seed N] [--frames N] [--only a,b]

Writes into DIR (default: build/profiles under the source tree), the same
bytes for the same seed:

  bench.yaml, bench.zone  the config every profile is answered from:
                          50 000 pools (p0 … p49999.bench.test., three
                          members: two IPv4, one IPv6) with one alias each
                          (a0 … a49999), i.e. 100 000 names, cookies on with
                          a fixed secret, and the flood's large answers
  NAME.pcap               Ethernet frames, one query each, 02:00:00:00:00:02
                          → 02:00:00:00:00:01, to 198.51.100.1 or
                          2001:db8:100::1 port 53 (rewrite with tcprewrite
                          or the generator's own settings)
  NAME.dnsperf            the same questions for dnsperf -d (one "name type"
                          a line, in the pcap's order)
  NAME.kxdpgun            the same for kxdpgun -i ("name type [E|D]")
  NAME.expect             per line of the pcap: the rcode and answer count a
                          correct server gives (for sampling replies)
  profiles.txt            what each profile holds

Profiles (docs/benchmark-kit.md):
  hot        16 hot aliases only, A and AAAA, half with EDNS, 16 clients
  zipf10k    Zipf (s = 1) over 10 000 names, 90 % hits, 10 % NXDOMAIN
  zipf100k   the same over 100 000 names
  resolver   zipf10k's names shaped like resolver traffic: 50 % with a
             client cookie (half of those with a server cookie valid for
             an hour from generation), 10 % ECS, 30 % DO=1
  ipv6       zipf10k over IPv6, A and AAAA
  flood      ANY at the apex and a 1 kB TXT from 65 536 sources
             (100.64.0.0/16), EDNS 4096: large answers, many clients
"""
import argparse
import os
import random
import struct
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
POOLS = 50000
ZONE = "bench.test."
SECRET = bytes.fromhex("e5e973e5a6b2a43f48e7dc849e37bfcf")
APP4, APP6 = bytes([198, 51, 100, 1]), bytes.fromhex("20010db8010000000000000000000001")
MAC_DST, MAC_SRC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
TYPES = {"A": 1, "AAAA": 28, "TXT": 16, "ANY": 255, "SOA": 6}
NOERROR, NXDOMAIN = 0, 3


# --- SipHash-2-4 (RFC 9018 server cookies; lib/siphash.c in C) ---

def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & 0xffffffffffffffff


def siphash24(key, data):
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    M = 0xffffffffffffffff

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & M
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & M
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & M
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & M
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    tail = len(data) % 8
    for i in range(0, len(data) - tail, 8):
        m = struct.unpack_from("<Q", data, i)[0]
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    b = (len(data) & 0xff) << 56
    for i, c in enumerate(data[len(data) - tail:]):
        b |= c << (8 * i)
    v[3] ^= b
    rounds(2)
    v[0] ^= b
    v[2] ^= 0xff
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def server_cookie(client, ip, ts):
    head = bytes([1, 0, 0, 0]) + struct.pack("!I", ts)
    return head + struct.pack("<Q", siphash24(SECRET, client + head + ip))


# --- frames ---

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


def dns_query(qid, name, qtype, edns=0, do=False, opts=b""):
    arcount = 1 if edns else 0
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, arcount)
    q += wire_name(name) + struct.pack("!HH", TYPES[qtype], 1)
    if edns:
        q += b"\0" + struct.pack("!HHIH", 41, edns, 0x8000 if do else 0, len(opts)) + opts
    return q


def frame(dns, src, sport):
    """Ethernet + IPv4/IPv6 + UDP around a DNS message, checksums set."""
    udp_len = 8 + len(dns)
    if len(src) == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, src,
                         APP4)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pseudo = src + APP4 + struct.pack("!BBH", 0, 17, udp_len)
        ethertype = b"\x08\x00"
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, udp_len, 17, 64, src, APP6)
        pseudo = src + APP6 + struct.pack("!IxxxB", udp_len, 17)
        ethertype = b"\x86\xdd"
    udp = struct.pack("!HHHH", sport, 53, udp_len, 0)
    c = csum(pseudo + udp + dns) or 0xffff
    udp = udp[:6] + struct.pack("!H", c)
    return MAC_DST + MAC_SRC + ethertype + ip + udp + dns


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            # 1 µs apart: tcpreplay --topspeed or --pps ignores it anyway
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


# --- the config ---

def member_addrs(i):
    b, c, d = i >> 14, (i >> 6) & 255, (i & 63) << 2
    return [f"10.{b}.{c}.{d + 1}", f"10.{b}.{c}.{d + 2}", f"2001:db8:{b:x}:{c:x}::{d + 3:x}"]


def write_config(out):
    big = " ".join(f'"{"x" * 200}-{k}"' for k in range(5))  # ~1 kB of TXT
    with open(os.path.join(out, "bench.zone"), "w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n"
                f"@ NS ns\n@ TXT \"v=bench\"\n@ MX 10 mail\nns A 198.51.100.1\n"
                f"ns AAAA 2001:db8:100::1\nmail A 198.51.100.25\nbig TXT {big}\n")
    with open(os.path.join(out, "bench.yaml"), "w") as f:
        f.write("# bench.yaml -- the config the traffic profiles are answered from\n"
                "# (tests/bench/profiles/make_profiles.py; docs/benchmark-kit.md)\n"
                "server:\n  listen: [198.51.100.1@53, \"2001:db8:100::1@53\"]\n"
                "  workers: 1\n"
                f"cookies:\n  secret: {SECRET.hex()}\n"
                "zones:\n  - {name: bench.test., file: bench.zone}\npools:\n")
        for i in range(POOLS):
            a = member_addrs(i)
            f.write(f"  - {{name: p{i}.{ZONE}, aliases: [a{i}.{ZONE}], members: "
                    f"[{{address: {a[0]}}}, {{address: {a[1]}}}, {{address: \"{a[2]}\"}}]}}\n")


# --- the profiles ---

class Zipf:
    """Rank in [0, n) with P(k) ∝ 1/(k+1), by inverse CDF."""

    def __init__(self, n, rnd):
        import bisect
        import itertools
        self.cdf = list(itertools.accumulate(1.0 / (k + 1) for k in range(n)))
        self.rnd, self.bisect = rnd, bisect.bisect_left

    def __call__(self):
        return min(self.bisect(self.cdf, self.rnd.random() * self.cdf[-1]), len(self.cdf) - 1)


def name_of(rank):
    """Rank k over the 100 000 names: pool and alias in turn."""
    return f"{'a' if rank & 1 else 'p'}{rank // 2}.{ZONE}"


def expect_for(name, qtype):
    """(rcode, answer RRs) a correct server gives."""
    if name.startswith("m"):
        return NXDOMAIN, 0
    if name == "big." + ZONE:
        return NOERROR, 1
    if name == ZONE:
        return NOERROR, -1  # ANY: RFC 8482 or the RRsets, either is right
    alias = name.startswith("a")
    n = 2 if qtype == "A" else 1
    return NOERROR, n + (1 if alias else 0)


def src4(i, n=16):
    return bytes([198, 51, 100, 10 + i % n])


def src6(i, n=16):
    return APP6[:15] + bytes([0x10 + i % n])


def zipf_queries(rnd, nnames, count, qtypes=("A",)):
    z = Zipf(nnames, rnd)
    out = []
    for i in range(count):
        k = z()
        name = f"m{k}.{ZONE}" if rnd.random() < 0.1 else name_of(k)
        out.append((name, qtypes[i % len(qtypes)]))
    return out


def profile(name, rnd, count, now):
    """[(frame, dnsperf line, kxdpgun line, expect line)]"""
    rows = []
    if name == "hot":
        for i in range(count):
            qn, qt = name_of(i % 16), ("A", "A", "AAAA", "AAAA")[i % 4]
            edns = 1232 if i % 2 else 0
            rows.append((frame(dns_query(i & 0xffff, qn, qt, edns), src4(i), 1024 + i % 60000),
                         qn, qt, "E" if edns else ""))
    elif name in ("zipf10k", "zipf100k"):
        qs = zipf_queries(rnd, 10000 if name == "zipf10k" else 100000, count)
        for i, (qn, qt) in enumerate(qs):
            edns = 1232 if i % 2 else 0
            rows.append((frame(dns_query(i & 0xffff, qn, qt, edns), src4(i), 1024 + i % 60000),
                         qn, qt, "E" if edns else ""))
    elif name == "resolver":
        qs = zipf_queries(rnd, 10000, count)
        for i, (qn, qt) in enumerate(qs):
            k = i % 20  # 10 of 20 cookies (5 with a server cookie), 2 ECS, 6 DO=1
            cookie, ecs, do = k < 10, 10 <= k < 12, k % 10 < 3
            src = src4(i)
            opts = b""
            if cookie:
                client = struct.pack("!Q", 0x0102030405060700 + i % 256)
                server = server_cookie(client, src, now) if k >= 5 else b""
                opts += struct.pack("!HH", 10, 8 + len(server)) + client + server
            if ecs:
                opts += struct.pack("!HHHBB", 8, 7, 1, 24, 0) + bytes([198, 51, 100])
            edns = 1232 if cookie or ecs or do else 0
            rows.append((frame(dns_query(i & 0xffff, qn, qt, edns, do, opts), src,
                               1024 + i % 60000), qn, qt, "D" if do else "E" if edns else ""))
    elif name == "ipv6":
        qs = zipf_queries(rnd, 10000, count, ("A", "AAAA"))
        for i, (qn, qt) in enumerate(qs):
            edns = 1232 if i % 2 else 0
            rows.append((frame(dns_query(i & 0xffff, qn, qt, edns), src6(i), 1024 + i % 60000),
                         qn, qt, "E" if edns else ""))
    elif name == "flood":
        for i in range(count):
            qn, qt = (ZONE, "ANY") if i % 2 else ("big." + ZONE, "TXT")
            src = bytes([100, 64, (i >> 8) & 255, i & 255])
            rows.append((frame(dns_query(i & 0xffff, qn, qt, 4096), src, 1024 + i % 60000),
                         qn, qt, "E"))
    return rows


PROFILES = {"hot": 4096, "zipf10k": 65536, "zipf100k": 131072, "resolver": 65536,
            "ipv6": 65536, "flood": 65536}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(SRC, "build", "profiles"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--frames", type=int, default=0, help="frames per profile (default: each "
                    "profile's own, 4 096 to 131 072)")
    ap.add_argument("--only", default=",".join(PROFILES))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    write_config(a.out)
    now = int(time.time())
    summary = []
    for name in a.only.split(","):
        rnd = random.Random(f"{a.seed}-{name}")
        rows = profile(name, rnd, a.frames or PROFILES[name], now)
        base = os.path.join(a.out, name)
        write_pcap(base + ".pcap", [r[0] for r in rows])
        with open(base + ".dnsperf", "w") as f:
            f.writelines(f"{qn} {qt}\n" for _, qn, qt, _ in rows)
        with open(base + ".kxdpgun", "w") as f:
            f.writelines(f"{qn} {qt}{' ' + fl if fl else ''}\n" for _, qn, qt, fl in rows)
        with open(base + ".expect", "w") as f:
            for _, qn, qt, _ in rows:
                rc, n = expect_for(qn, qt)
                f.write(f"{qn} {qt} {'NOERROR' if rc == NOERROR else 'NXDOMAIN'} {n}\n")
        size = sum(len(r[0]) for r in rows)
        summary.append(f"{name}: {len(rows)} frames, {size / len(rows):.0f} bytes a frame "
                       f"on average, {len(set((r[1], r[2]) for r in rows))} distinct questions")
    with open(os.path.join(a.out, "profiles.txt"), "w") as f:
        f.write(f"seed {a.seed}\n" + "\n".join(summary) + "\n")
    print("\n".join(summary))
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
