#!/usr/bin/python3
"""edns_test.py -- the EDNS compliance checks of ISC's ednscomp
(genreport) against carouseld, plus the flags and rcodes around them."""
import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode

from harness import Carouseld, Checks

t = Checks("edns")


def ask(d, name="example.test.", rdtype="SOA", tcp=False, edns_version=None, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    if edns_version is not None:  # make_query takes use_edns=1 for True
        q.use_edns(edns_version, q.ednsflags, q.payload, options=q.options)
    q.flags &= ~dns.flags.RD
    return q, (dns.query.tcp if tcp else dns.query.udp)(q, d.addr, port=d.port, timeout=3)


with Carouseld() as d:
    _, r = ask(d)
    t.check(r.rcode() == 0 and r.edns < 0 and r.answer, "dns: plain query, no OPT in reply")
    _, r = ask(d, use_edns=0)
    t.check(r.rcode() == 0 and r.edns == 0 and r.payload == 1232 and r.answer,
            "edns: OPT version 0, our UDP size 1232")
    _, r = ask(d, use_edns=0, edns_version=1)
    t.check(r.rcode() == dns.rcode.BADVERS and r.edns == 0 and not r.answer,
            "edns1: BADVERS, OPT version 0, no answer")
    _, r = ask(d, use_edns=0, options=[dns.edns.GenericOption(100, b"")])
    t.check(r.rcode() == 0 and r.answer and not r.options, "ednsopt: unknown option not echoed")
    _, r = ask(d, use_edns=0, edns_version=1, options=[dns.edns.GenericOption(100, b"")])
    t.check(r.rcode() == dns.rcode.BADVERS and not r.options,
            "edns1opt: BADVERS, option not echoed")
    _, r = ask(d, use_edns=0, want_dnssec=True)
    t.check(r.rcode() == 0 and r.ednsflags & dns.flags.DO, "do: DO echoed")
    _, r = ask(d, use_edns=0, ednsflags=0x80)
    t.check(r.rcode() == 0 and r.ednsflags == 0, "ednsflags: unknown EDNS flag not echoed")
    _, r = ask(d, use_edns=0, options=[dns.edns.GenericOption(3, b""),      # NSID
                                       dns.edns.GenericOption(9, b""),      # EXPIRE
                                       dns.edns.ECSOption("192.0.2.0", 24)])
    ecs = [o for o in r.options if o.otype == dns.edns.ECS]
    t.check(r.rcode() == 0 and r.answer and len(r.options) == 1 and ecs and
            ecs[0].address == "192.0.2.0" and ecs[0].srclen == 24 and ecs[0].scopelen == 0,
            "optlist: NSID, EXPIRE ignored; ECS echoed with scope 0 (RFC 7871 7.2.1)")
    q = dns.message.make_query("example.test.", "SOA", use_edns=0)
    q.flags = (q.flags & ~dns.flags.RD) | 0x0040  # Z bit
    r = dns.query.udp(q, d.addr, port=d.port, timeout=3)
    t.check(r.rcode() == 0 and not r.flags & 0x0040, "zflag: Z clear in the reply")
    _, r = ask(d, rdtype=666, use_edns=0)
    t.check(r.rcode() == 0 and not r.answer and r.authority, "type666: NODATA with SOA")
    _, r = ask(d, tcp=True, use_edns=0)
    t.check(r.rcode() == 0 and r.answer and r.edns == 0, "ednstcp: EDNS over TCP")
    _, r = ask(d, "big.example.test.", "TXT", use_edns=0, payload=512)
    t.check(r.flags & dns.flags.TC and r.edns == 0, "edns@512: TC with OPT kept")
    _, r = ask(d, "big.example.test.", "TXT", use_edns=0, payload=4096)
    t.check(r.flags & dns.flags.TC, "client size 4096 is capped at our 1232")
    q = dns.message.make_query("example.test.", "SOA", use_edns=0)
    q.set_opcode(dns.opcode.STATUS)
    r = dns.query.udp(q, d.addr, port=d.port, timeout=3)
    t.check(r.rcode() == dns.rcode.NOTIMP and r.opcode() == dns.opcode.STATUS,
            "opcode STATUS: NOTIMP, opcode echoed")
    q = dns.message.make_query("example.test.", "SOA", rdclass="CH")
    r = dns.query.udp(q, d.addr, port=d.port, timeout=3)
    t.eq(dns.rcode.to_text(r.rcode()), "REFUSED", "class CH: REFUSED")
t.eq(d.exit_code, 0, "clean exit")
t.done()
