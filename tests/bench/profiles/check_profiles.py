#!/usr/bin/python3
"""check_profiles.py -- the traffic profiles answer as they should: makes
them (make_profiles.py, seed 42) into a temporary directory (twice, for
two of them: the same seed must give the same bytes), runs
`carouseld --check` on their config, starts carouseld (socket mode) on it,
sends a sample of every profile's queries (BENCH_SAMPLE frames spread over
the pcap, default 400; the DNS payload of each frame, over loopback) and
compares each reply's rcode and answer count with the profile's .expect
line. Prints one table row per profile and last
`profiles checked=N mismatches=M`; exits 1 on a mismatch."""
import filecmp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
from harness import CAROUSELD, Carouseld  # noqa: E402

SAMPLE = int(os.environ.get("BENCH_SAMPLE", "400"))
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def pcap_payloads(path):
    """DNS payloads of an Ethernet/IPv4-or-IPv6/UDP pcap, in order."""
    with open(path, "rb") as f:
        data = f.read()
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        l3 = 14 + (20 if fr[12:14] == b"\x08\x00" else 40)
        out.append(fr[l3 + 8:])
    return out


def main():
    out = tempfile.mkdtemp(prefix="carousel-profiles-")
    subprocess.run([sys.executable, os.path.join(HERE, "make_profiles.py"), "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    again = os.path.join(out, "again")
    subprocess.run([sys.executable, os.path.join(HERE, "make_profiles.py"), "--out", again,
                    "--only", "zipf10k,flood"], check=True, stdout=subprocess.DEVNULL)
    same = all(filecmp.cmp(os.path.join(out, f), os.path.join(again, f), shallow=False)
               for f in ("zipf10k.pcap", "flood.pcap", "zipf10k.kxdpgun", "bench.yaml"))
    print(f"same seed, same bytes: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)
    chk = subprocess.run([CAROUSELD, "--check", os.path.join(out, "bench.yaml")],
                         capture_output=True, text=True)
    print(f"carouseld --check bench.yaml: {(chk.stdout + chk.stderr).strip()}")
    if chk.returncode:
        sys.exit(1)
    text = open(os.path.join(out, "bench.yaml")).read()
    text = text[text.index("cookies:"):].replace("file: bench.zone", "file: zones/bench.zone")
    zones = os.path.join(out, "zones")
    os.makedirs(zones)
    shutil.copy(os.path.join(out, "bench.zone"), zones)
    srv = Carouseld(yaml_text=text, zones_from=zones)
    total = bad = 0
    print("\n| profile | frames | sampled | as expected | rcodes seen |")
    print("|---|---|---|---|---|")
    # the SOA probe the harness starts with needs example.test.: ask bench.test.
    srv.proc = subprocess.Popen([CAROUSELD, "-c", srv.config], stdout=srv.log, stderr=srv.log)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        for _ in range(200):
            try:
                sock.sendto(pcap_payloads(os.path.join(out, "hot.pcap"))[0], (srv.addr, srv.port))
                sock.recvfrom(4096)
                break
            except OSError:
                time.sleep(0.1)
        for name in ("hot", "zipf10k", "zipf100k", "resolver", "ipv6", "flood"):
            payloads = pcap_payloads(os.path.join(out, name + ".pcap"))
            expect = open(os.path.join(out, name + ".expect")).read().splitlines()
            step = max(1, len(payloads) // SAMPLE)
            ok, seen = 0, {}
            idx = range(0, len(payloads), step)
            for i in idx:
                sock.sendto(payloads[i], (srv.addr, srv.port))
                try:
                    reply = sock.recv(65535)
                except socket.timeout:
                    seen["timeout"] = seen.get("timeout", 0) + 1
                    continue
                rcode = RCODES.get(reply[3] & 15, str(reply[3] & 15))
                ancount = struct.unpack_from("!H", reply, 6)[0]
                seen[rcode] = seen.get(rcode, 0) + 1
                _, _, want_rc, want_n = expect[i].split()
                if rcode == want_rc and (int(want_n) < 0 or ancount == int(want_n)):
                    ok += 1
                elif bad < 5:
                    print(f"  {name} frame {i}: {expect[i]} but got {rcode} with {ancount}")
            n = len(idx)
            total += n
            bad += n - ok
            print(f"| {name} | {len(payloads)} | {n} | {ok} | "
                  f"{', '.join(f'{k} {v}' for k, v in sorted(seen.items()))} |", flush=True)
    finally:
        srv.stop()
        shutil.rmtree(out, ignore_errors=True)
    print(f"profiles checked={total} mismatches={bad}")
    sys.exit(1 if bad else 0)


main()
