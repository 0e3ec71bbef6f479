#!/usr/bin/python3
"""malformed_test.py -- a corpus of hostile and broken queries replayed
against carouseld over UDP and TCP: each gets FORMERR, NOTIMP, REFUSED or
silence as RFC 1035/6891 say, a slow-loris TCP client is cut off, and the
server answers a valid query after every single one of them."""
import socket
import struct
import time

import dns.message
import dns.rcode

from harness import Carouseld, Checks

t = Checks("malformed")

HDR = struct.Struct("!HHHHHH")
QNAME = b"\x03www\x07example\x04test\x00"
Q = QNAME + b"\x00\x01\x00\x01"
OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


def hdr(flags=0x0100, qd=1, an=0, ns=0, ar=0, qid=0x4242):
    return HDR.pack(qid, flags, qd, an, ns, ar)


# name, packet, expected rcode (None: no reply at all)
CORPUS = [
    ("empty datagram", b"", None),
    ("truncated header", b"\x42\x42\x01", None),
    ("header only, qdcount 1", hdr(), "FORMERR"),
    ("qdcount 0", hdr(qd=0), "FORMERR"),
    ("qdcount 2", hdr(qd=2) + Q + Q, "FORMERR"),
    ("counts that lie (ancount 5)", hdr(an=5) + Q, "FORMERR"),
    ("arcount that lies", hdr(ar=3) + Q, "FORMERR"),
    ("truncated question", hdr() + Q[:-2], "FORMERR"),
    ("trailing garbage", hdr() + Q + b"\xde\xad", "FORMERR"),
    ("compression loop", hdr() + b"\x01a\xc0\x0c\x00\x01\x00\x01", "FORMERR"),
    ("pointer to itself", hdr() + b"\xc0\x0c\x00\x01\x00\x01", "FORMERR"),
    ("forward pointer", hdr() + b"\xc0\x10\x00\x01\x01a\x00", "FORMERR"),
    ("pointer into the header", hdr() + b"\xc0\x04\x00\x01\x00\x01", "FORMERR"),
    ("label of 64", hdr() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", "FORMERR"),
    ("name of 256", hdr() + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01", "FORMERR"),
    ("reserved label type 0x80", hdr() + b"\x80abc\x00\x00\x01\x00\x01", "FORMERR"),
    ("OPT twice", hdr(ar=2) + Q + OPT + OPT, "FORMERR"),
    ("OPT not owned by the root", hdr(ar=1) + Q + b"\x01a\x00" + OPT[1:], "FORMERR"),
    ("OPT option running past RDATA", hdr(ar=1) + Q + OPT[:-2] + b"\x00\x04\x00\x0a\x00\x08",
     "FORMERR"),
    ("EDNS version 1", hdr(ar=1) + Q + OPT[:6] + b"\x01" + OPT[7:], "BADVERS"),
    ("QR=1 (a response)", hdr(flags=0x8100) + Q, None),
    ("opcode NOTIFY", hdr(flags=0x2000) + Q, "NOTIMP"),
    ("opcode UPDATE", hdr(flags=0x2800) + Q, "NOTIMP"),
    ("unknown class 42", hdr() + QNAME + b"\x00\x01\x00\x2a", "REFUSED"),
    ("qtype OPT", hdr() + QNAME + b"\x00\x29\x00\x01", "FORMERR"),
    ("qtype TSIG", hdr() + QNAME + b"\x00\xfa\x00\x01", "FORMERR"),
    ("AXFR over UDP", hdr() + QNAME + b"\x00\xfc\x00\x01", "REFUSED"),
    ("oversize UDP (3000 bytes)", hdr() + Q + b"\x00" * 3000, "FORMERR"),
    ("too many additional records", hdr(ar=200) + Q, "FORMERR"),
    ("300 empty EDNS options", hdr(ar=1) + Q + OPT[:9] + (1200).to_bytes(2, "big") +
     b"\x00\x63\x00\x00" * 300, "NOERROR"),
]


def healthy(d):
    r = d.query("www.example.test.", "A", timeout=2)
    return r.rcode() == 0 and len(r.answer) == 2


def udp_probe(d, pkt):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.4)
        s.sendto(pkt, (d.addr, d.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def rcode_of(resp):
    """The reply's rcode from its bytes (dnspython refuses some of the
    questions we echo, e.g. an UPDATE's), with OPT's extended bits."""
    if len(resp) < 12 or not resp[2] & 0x80:
        raise ValueError("not a DNS reply")
    rcode = resp[3] & 0xf
    if struct.unpack("!H", resp[10:12])[0] and resp[-11:-8] == b"\x00\x00\x29":
        rcode |= resp[-6] << 4  # our OPT is last and has no options here
    return dns.rcode.to_text(rcode)


class Limited(Carouseld):
    def server_block(self):
        return super().server_block() + "  tcp-max-per-client: 3\n"


with Limited() as d:
    for name, pkt, want in CORPUS:
        resp = udp_probe(d, pkt)
        if want is None:
            t.check(resp is None, f"udp {name}: no reply")
        else:
            got = None
            try:
                got = rcode_of(resp) if resp else None
                ok = got == want and resp[:2] == pkt[:2]
            except Exception as e:
                ok = False
                got = f"unparsable reply ({e})"
            t.check(ok, f"udp {name}: {want}" + ("" if ok else f" (got {got})"))
        t.check(healthy(d), f"...still answering after: {name}")

    # the same over TCP (framed), one connection each
    for name, pkt, want in CORPUS:
        if not pkt or len(pkt) > 2000:
            continue
        with socket.create_connection((d.addr, d.port), timeout=2) as s:
            s.sendall(struct.pack("!H", len(pkt)) + pkt)
            s.settimeout(0.5)
            try:
                head = s.recv(2)
                resp = s.recv(65535) if head else None
            except socket.timeout:
                resp = None
        if want is None:
            t.check(not resp, f"tcp {name}: no reply")
        else:
            t.check(resp is not None and rcode_of(resp) == want, f"tcp {name}: {want}")
    t.check(healthy(d), "answering after the TCP corpus")

    # TCP framing abuse
    with socket.create_connection((d.addr, d.port), timeout=2) as s:
        s.sendall(b"\x00\x00")  # length 0
        s.settimeout(2)
        t.eq(s.recv(10), b"", "tcp length 0: connection closed")
    with socket.create_connection((d.addr, d.port), timeout=2) as s:
        s.sendall(b"\xff\xff" + hdr() + Q)  # says 65535, sends 30, then nothing
        s.settimeout(4)
        start = time.monotonic()
        try:
            data = s.recv(10)
        except socket.timeout:
            data = None
        t.check(data == b"" and time.monotonic() - start < 4,
                "tcp length 65535 with fewer bytes: closed at the idle timeout")
    # slow loris: a byte a second keeps nothing open past the idle timeout
    # of a complete message (tcp-idle-timeout 2s in the harness)
    with socket.create_connection((d.addr, d.port), timeout=2) as s:
        pkt = struct.pack("!H", len(hdr() + Q)) + hdr() + Q
        closed = False
        for b in pkt:
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.3)
        t.check(closed or healthy(d), "slow-loris: the server keeps serving others")
    # one client cannot hold every connection (tcp-max-per-client: 3 here)
    conns = [socket.create_connection((d.addr, d.port), timeout=2) for _ in range(5)]
    closed = 0
    for c in conns:
        c.settimeout(0.5)
        try:
            closed += c.recv(1) == b""
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        c.close()
    t.eq(closed, 2, "connections over tcp-max-per-client are refused")
    t.check(healthy(d), "still answering at the end")
t.eq(d.exit_code, 0, "clean exit")
t.done()
