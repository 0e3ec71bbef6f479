#!/usr/bin/python3
"""knot_compare_test.py -- the bundled zones served by carouseld and by
Knot DNS (pools flattened into plain RRsets) must give the same rcode, AA
flag and answer/authority/additional sections, order aside."""
import os
import tempfile

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from harness import SRC, Carouseld, Checks, Knot, flatten_pools, need

need("knotd")
t = Checks("knot-compare")

NAMES = ["example.test", "www", "shop", "web", "api", "app", "mx", "imap", "pop", "smtp",
         "mail", "ns1", "ns2", "static", "chain", "ext", "x.wild", "a.b.wild", "wild", "ent",
         "b.ent", "host.b.ent", "sub", "deep.sub", "ns.sub", "big", "nope", "_imaps._tcp",
         "_pop3s._tcp", "_submission._tcp", "_tcp", "ptr-me", "www.nope"]
TYPES = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS", "SOA", "PTR", "TYPE999"]
REVERSE = ["1", "10", "11", "25", "99", "2.0.192.in-addr.arpa"]


def fqdn(n, apex="example.test."):
    return n + "." if n.endswith(".test") or n.endswith(".arpa") else f"{n}.{apex}"


def section(rrsets):
    return sorted((str(r.name).lower(), r.rdtype, r.ttl, tuple(sorted(x.to_text() for x in r)))
                  for r in rrsets if r.rdtype != dns.rdatatype.OPT)


def ask(server, name, rdtype, tcp):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, server.addr, port=server.port, timeout=3)
    return dns.query.udp(q, server.addr, port=server.port, timeout=3)


queries = [(fqdn(n), ty) for n in NAMES for ty in TYPES]
queries += [(fqdn(n, "2.0.192.in-addr.arpa."), ty) for n in REVERSE for ty in ("PTR", "A", "SOA")]
cfg_path = os.path.join(SRC, "configs", "carousel.yaml")
flat_dir = tempfile.mkdtemp(prefix="carousel-flat-")
zones = flatten_pools(cfg_path, os.path.join(SRC, "configs", "zones"), flat_dir)

# Rotation and answer-count limit what one answer holds: compare whole
# pools by giving every pool answer-count 0 for this run.
with open(cfg_path) as f:
    text = f.read()
text = text[text.index("\nzones:") + 1:].replace("answer-count: 1", "answer-count: 0")

with Carouseld(text) as ours, Knot(zones) as knot:
    mismatches = 0
    for name, rdtype in queries:
        for tcp in (False, True):
            a = ask(ours, name, rdtype, tcp)
            b = ask(knot, name, rdtype, tcp)
            what = f"{name} {rdtype} {'tcp' if tcp else 'udp'}"
            same = (a.rcode() == b.rcode()
                    and bool(a.flags & dns.flags.AA) == bool(b.flags & dns.flags.AA)
                    and bool(a.flags & dns.flags.TC) == bool(b.flags & dns.flags.TC)
                    and section(a.answer) == section(b.answer)
                    and section(a.authority) == section(b.authority)
                    and section(a.additional) == section(b.additional))
            if not same:
                mismatches += 1
                t.check(False, f"{what} differs:\n--- carouseld\n{a}\n--- knot\n{b}")
    t.check(len(queries) >= 50, f"{len(queries)} queries compared over UDP and TCP")
    t.eq(mismatches, 0, "answers identical to Knot DNS (order aside)")
t.eq(ours.exit_code, 0, "carouseld exits cleanly")
t.done()
