#!/usr/bin/python3
"""recursion_test.py -- carouseld resolving over a local hierarchy of Knot
servers (root, org., net., authoritatives; a lame server, a delegation
without glue, a cross-zone CNAME chain, a short TTL, an answer that needs
TCP, NXDOMAIN, NODATA), compared with a reference Unbound on the same
hierarchy; then the cache (no upstream traffic on a hit, TTLs counting
down, expiry refetch, negative caching, prefetch), SERVFAIL with an EDE,
the ACL, forward mode, RRL on answers that came from upstream, and
serve-stale with the authoritatives stopped."""
import socket
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from harness import Carouseld, Checks, need
from hierarchy import Hierarchy, Unbound

need("knotd", "unbound")
t = Checks("recursion")
h = Hierarchy().start()
ref = Unbound(hints=h.hints).start()

ZONE_TTL = {"www.example.org.": 300, "alias.example.org.": 300, "www.other.net.": 600,
            "www.lame.org.": 300, "www.nog.org.": 300, "big.example.org.": 300,
            "short.example.org.": 2, "mx.example.org.": 300}
CASES = [("www.example.org.", "A", False), ("www.example.org.", "AAAA", False),
         ("alias.example.org.", "A", False), ("www.lame.org.", "A", False),
         ("www.nog.org.", "A", False), ("big.example.org.", "TXT", True),
         ("nope.example.org.", "A", False), ("txtonly.example.org.", "A", False),
         ("mx.example.org.", "MX", False), ("short.example.org.", "A", False),
         ("nothing.net.", "A", False)]


def yaml(extra=""):
    return f"""zones:
  - name: example.test.
    file: zones/example.test.zone
recursion:
  enable: true
  mode: iterate
  root-hints: {h.hints}
  query-loopback: true
  allow: [127.0.0.1/32]
  max-ttl: 10s
  prefetch: true
{extra}"""


def ask(d, name, rdtype="A", tcp=False, source=None, **kw):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, **kw)
    if tcp:
        return dns.query.tcp(q, d.addr, port=d.port, timeout=8, source=source)
    return dns.query.udp(q, d.addr, port=d.port, timeout=8, source=source)


def rrsets(msg):
    return sorted((str(r.name).lower(), r.rdtype, tuple(sorted(x.to_text() for x in r)))
                  for r in msg.answer)


def stat(d, key):
    out = d.ctl_cmd("cache", "stats").stdout
    for line in out.splitlines():
        if line.startswith(key + " "):
            return int(line.split()[1])
    return -1


try:
    with Carouseld(yaml()) as d:
        # 1. every case like the reference Unbound
        for name, rdtype, tcp in CASES:
            a, b = ask(d, name, rdtype, tcp), ref.query(name, rdtype, tcp)
            ttl_ok = all(r.ttl <= ZONE_TTL.get(str(r.name), 300) for r in a.answer)
            t.check(a.rcode() == b.rcode() and rrsets(a) == rrsets(b) and ttl_ok
                    and a.flags & dns.flags.RA and not a.flags & dns.flags.AA,
                    f"{name} {rdtype}: same as Unbound ({dns.rcode.to_text(a.rcode())}, "
                    f"{len(a.answer)} RRsets, RA set)")
        r = ask(d, "big.example.org.", "TXT")
        t.check(r.flags & dns.flags.TC, "big TXT over UDP: TC (the upstream answer needed TCP)")
        r = ask(d, "nope.example.org.")
        t.check(r.authority and r.authority[0].rdtype == dns.rdatatype.SOA
                and r.authority[0].ttl <= 60, "NXDOMAIN carries the SOA, negative TTL <= 60")

        # 2. names in our zones never go upstream
        before = h.queries("root") + h.queries("org") + h.queries("auth1")
        r = ask(d, "static.example.test.")
        t.check(r.flags & dns.flags.AA and len(r.answer) == 1, "our zone answered authoritatively")
        t.eq(h.queries("root") + h.queries("org") + h.queries("auth1") - before, 0,
             "...without any upstream query")

        # 3. cache: a hit costs the authoritatives nothing; TTLs count down
        ask(d, "mail.example.org.")
        time.sleep(1.0)  # libunbound's own follow-ups (name server addresses) settle
        before, resolved = h.queries("auth1"), stat(d, "resolver.resolutions")
        first = ask(d, "mail.example.org.")
        time.sleep(2.1)
        second = ask(d, "mail.example.org.")
        t.eq(h.queries("auth1") - before, 0, "cache hits: no query reaches the authoritative")
        t.eq(stat(d, "resolver.resolutions") - resolved, 0, "...nor the resolver")
        t.check(second.answer[0].ttl < first.answer[0].ttl <= 10,
                f"TTL counts down in the cache ({first.answer[0].ttl} -> {second.answer[0].ttl})")
        # negative caching
        ask(d, "gone.example.org.")
        before = h.queries("auth1")
        r = ask(d, "gone.example.org.")
        t.check(r.rcode() == dns.rcode.NXDOMAIN and h.queries("auth1") == before,
                "negative answer cached (no upstream query the second time)")
        # expiry refetches (TTL 2)
        ask(d, "short.example.org.")
        before = h.queries("auth1")
        time.sleep(3.1)
        r = ask(d, "short.example.org.")
        t.check(r.answer and h.queries("auth1") > before, "an expired entry is fetched again")

        # 4. SERVFAIL with an EDE when no authority answers
        r = ask(d, "www.dead.org.")
        ede = [o for o in r.options if o.otype == dns.edns.EDE]
        t.check(r.rcode() == dns.rcode.SERVFAIL and ede,
                f"SERVFAIL with an extended error ({ede[0].code if ede else 'none'})")

        # 5. ACL: a client outside `allow` is refused, our zones still served
        r = ask(d, "www.example.org.", source="127.0.0.2")
        t.eq(dns.rcode.to_text(r.rcode()), "REFUSED", "recursion refused outside allow")
        r = ask(d, "static.example.test.", source="127.0.0.2")
        t.check(r.rcode() == 0 and r.answer, "authoritative data still served to it")
        # an ANY flood from outside `allow`: nothing amplified
        sent = got = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
            for i in range(200):
                w = dns.message.make_query(f"q{i}.example.org.", "ANY", use_edns=0,
                                           payload=4096).to_wire()
                sent += len(w)
                s.sendto(w, (d.addr, d.port))
            s.settimeout(0.5)
            try:
                while True:
                    got += len(s.recv(65535))
            except socket.timeout:
                pass
        t.check(0 < got <= sent, f"ANY flood from outside allow: {got} bytes out for {sent} in")

        # 6. prefetch: max-ttl 10s, the last tenth of the TTL refreshes ahead
        ask(d, "www.other.net.")
        time.sleep(8.5)
        ask(d, "www.other.net.")
        time.sleep(0.5)
        t.check(stat(d, "resolver.prefetches") >= 1, "prefetch refreshed a name before expiry")

        # 7. carouselctl cache
        st = d.ctl_cmd("cache", "stats")
        t.check(st.returncode == 0 and stat(d, "cache.hits") > 0 and stat(d, "cache.entries") > 0
                and stat(d, "cache.memory") <= stat(d, "cache.memory-max"),
                "cache stats: hits, entries, memory within the budget")
        ask(d, "www.example.org.")
        fl = d.ctl_cmd("cache", "flush", "www.example.org.")
        resolved = stat(d, "resolver.resolutions")
        r = ask(d, "www.example.org.")
        t.check(fl.returncode == 0 and fl.stdout.startswith("flushed ") and r.answer
                and stat(d, "resolver.resolutions") == resolved + 1,
                f"cache flush NAME ({fl.stdout.strip()}): the next query goes upstream")
        t.eq(d.ctl_cmd("cache", "flush", "bad..name").returncode, 1, "cache flush of a bad name fails")
    t.eq(d.exit_code, 0, "clean exit")

    # 8. forward mode, through the reference Unbound
    with Carouseld(yaml().replace("mode: iterate", f"mode: forward\n  forwarders: [\"{ref.addr}@{ref.port}\"]")) as f:
        a, b = ask(f, "alias.example.org."), ref.query("alias.example.org.")
        t.check(a.rcode() == 0 and rrsets(a) == rrsets(b), "forward mode: same answer as Unbound")
    t.eq(f.exit_code, 0, "clean exit (forward)")

    # 9. RRL limits upstream answers too: a flood of names that all miss
    # the cache (each answer comes back from the resolver) from one client
    with Carouseld(yaml() + "rrl:\n  rate-limit: 10\n  slip: 2\n") as d:
        resolved, n = stat(d, "resolver.resolutions"), 60
        full = tc = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            for i in range(n):
                s.sendto(dns.message.make_query(f"flood{i}.example.org.", "A").to_wire(),
                         (d.addr, d.port))
            s.settimeout(2)
            try:
                while full + tc < n:
                    r = dns.message.from_wire(s.recv(65535))
                    tc += bool(r.flags & dns.flags.TC)
                    full += not r.flags & dns.flags.TC
            except socket.timeout:
                pass
        resolved = stat(d, "resolver.resolutions") - resolved
        t.check(resolved >= n - 5, f"recursion flood: {resolved} of {n} names went upstream")
        # within a second 10 full answers; the flood may straddle a second
        t.check(0 < full <= 30 and tc > 0 and full + tc < n,
                f"...and RRL limits their answers: {full} full, {tc} truncated, "
                f"{n - full - tc} dropped (rate 10/s, slip 2)")
        t.check(d.query("flood0.example.org.", tcp=True).rcode() == dns.rcode.NXDOMAIN,
                "...TCP is not limited")
    t.eq(d.exit_code, 0, "clean exit (rrl)")

    # 10. serve-stale: authoritatives gone, the expired answer still served
    with Carouseld(yaml("  serve-stale: 30s\n")) as d:
        r1 = ask(d, "short.example.org.")
        h.stop(["auth1"])
        time.sleep(3.1)
        r2 = ask(d, "short.example.org.")
        t.check(r1.answer and r2.rcode() == 0 and rrsets(r2) == rrsets(r1),
                "serve-stale: answer served from stale data with the authoritative stopped")
        t.check(stat(d, "resolver.stale-answers") >= 1, "counted as a stale answer")
    t.eq(d.exit_code, 0, "clean exit (serve-stale)")
finally:
    ref.close()
    h.close()
t.done()
