#!/usr/bin/python3
"""backend_groups_test.py -- backend groups against three real Knot DNS
servers on loopback, each serving corp.example. with TXT records that name
the server: how each policy spreads queries, failover within fall x
interval and return after rise, TCP and truncation, the ACL, the cache
(TTL counting down, cookies not defeating it, negative answers), and
SERVFAIL or stale answers when nothing is up. carouseld runs with no
zones at all: backends alone are a valid config."""
import os
import re
import threading
import time
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from corp_farm import Farm, SlowServer, ask, spread, until, who
from harness import Carouseld, Checks, free_addr, need

need("knotd")
t = Checks("backend_groups")
farm = Farm()
knots = farm.knots
TAGS = ("knot0", "knot1", "knot2")


def kill(k):
    farm.kill(knots.index(k))


def revive(k):
    farm.revive(knots.index(k))


def servers(order=None, weight=None, which=(0, 1, 2)):
    out = ""
    for i in which:
        k = knots[i]
        out += f'      - {{address: "{k.addr}@{k.port}"'
        if order:
            out += f", order: {order[i]}"
        if weight:
            out += f", weight: {weight[i]}"
        out += "}\n"
    return out


def group(policy, extra="", **kw):
    return f"""backends:
  - name: corp
    domains: [corp.example.]
    policy: {policy}
    servers:
{servers(**kw)}    check: {{name: corp.example., type: SOA, interval: 300ms, timeout: 1s, rise: 2, fall: 2}}
    timeout: 2s
{extra}"""


def server_of(i):
    return farm.server(i)


def backends(d):
    """carouselctl backends: {server text: {key: value}}"""
    out = d.ctl_cmd("backends").stdout
    state = {}
    for line in out.splitlines():
        m = re.match(r"^  (\S+) (.*)$", line)
        if m:
            state[m.group(1)] = dict(re.findall(r'(\S+?)=("[^"]*"|\S+)', m.group(2)))
    return state


def group_line(d, name="corp"):
    line = d.ctl_cmd("backends", name).stdout.splitlines()[0]
    return {k: v for k, v in re.findall(r"(\S+?)=(\S+)", line)}


try:
    # 1. round-robin: 300 queries, 100 +- 1 each; client ID and case kept
    maddr, mport = free_addr()
    with Carouseld(group("round-robin", extra=f"metrics: {{listen: {maddr}@{mport}}}\n")) as d:
        counts = spread(d, 300, "rr")
        t.check(sorted(counts) == ["knot0", "knot1", "knot2"] and
                all(abs(c - 100) <= 1 for c in counts.values()),
                f"round-robin: 300 queries spread {counts}")
        q = dns.message.make_query("MiXeD.w.CoRp.ExAmPlE.", "TXT", use_edns=0, payload=1232)
        r = dns.query.udp(q, d.addr, port=d.port, timeout=3)
        t.check(r.id == q.id and r.question[0].name.to_text() == "MiXeD.w.CoRp.ExAmPlE." and
                r.flags & dns.flags.RD and r.flags & dns.flags.AA and r.edns == 0,
                "answer keeps the client's ID, question case and RD; server's AA; EDNS")
        t.eq(d.ctl_cmd("status").returncode, 0, "no zones: carouseld runs on backends alone")
        # TCP from the client: TCP upstream
        r = ask(d, "who.corp.example.", tcp=True)
        t.check(r.rcode() == dns.rcode.NOERROR and who(r) in TAGS, "TCP client answered")
        # a big answer: UDP without EDNS gets TC; TCP gets it all
        r = ask(d, "big.corp.example.")
        t.check(r.flags & dns.flags.TC and not r.answer, "big answer over 512-byte UDP: TC=1")
        r = ask(d, "big.corp.example.", tcp=True)
        t.check(len(r.answer) == 1 and len(r.answer[0][0].strings) == 8,
                "big answer over TCP: whole")
        r = ask(d, "mid.corp.example.")
        t.check(r.flags & dns.flags.TC, "850-byte answer over 512-byte UDP: TC=1")
        r = ask(d, "mid.corp.example.", use_edns=0, payload=1232)
        t.check(len(r.answer) == 1 and not r.flags & dns.flags.TC,
                "...over UDP with EDNS 1232: whole")
        # metrics-free counters
        st = backends(d)
        t.check(len(st) == 3 and all(s["state"] == "up" for s in st.values()) and
                all(int(s["queries"]) >= 100 for s in st.values()),
                "carouselctl backends: three servers up, queries counted")
        text = urllib.request.urlopen(f"http://{maddr}:{mport}/metrics", timeout=5).read().decode()
        s0 = server_of(0)
        t.check(f'carousel_backend_up{{group="corp",server="{s0}"}} 1' in text and
                re.search(rf'carousel_backend_queries_total{{group="corp",server="{s0}"}} '
                          r'(\d+)', text) and
                f'carousel_backend_latency_seconds{{group="corp",server="{s0}",quantile="0.99"}}'
                in text, "metrics: per-server state, queries and latency")

    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    # 2. weighted 1:2:1 over 400 queries: chi-square (2 d.f.) under 13.8 (p = 0.001)
    with Carouseld(group("weighted", weight=[1, 2, 1])) as d:
        counts = spread(d, 400, "wt")
        want = {"knot0": 100, "knot1": 200, "knot2": 100}
        chi = sum((counts.get(k, 0) - v) ** 2 / v for k, v in want.items())
        t.check(chi < 13.8, f"weighted 1:2:1: {counts} (chi-square {chi:.2f})")

    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    # 3. consistent hash: a name stays on one server; removing one of three
    # moves about a third of the names, only those it had
    with Carouseld(group("consistent-hash")) as d:
        names = [f"ch{i}.w.corp.example." for i in range(300)]
        first = {n: who(ask(d, n)) for n in names}
        again = {n: who(ask(d, n)) for n in names}
        t.eq(sum(first[n] != again[n] for n in names), 0, "consistent-hash: every name stays put")
        d.write_config(group("consistent-hash", which=(0, 1)))
        t.eq(d.ctl_cmd("reload").returncode, 0, "reload without knot2")
        after = {n: who(ask(d, n)) for n in names}
        moved = [n for n in names if after[n] != first[n]]
        t.check(all(first[n] == "knot2" for n in moved) and 0.2 <= len(moved) / 300 <= 0.47,
                f"consistent-hash: one server of three removed, {len(moved)}/300 names moved, "
                "all from it")

    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    # 4. first-available: order 2 only when both order 1 are down
    with Carouseld(group("first-available", order=[1, 1, 2])) as d:
        counts = spread(d, 20, "fa")
        t.eq(counts, {"knot0": 20}, "first-available: the first of order 1")
        kill(knots[0])
        t.check(until(lambda: backends(d)[server_of(0)]["state"] == "down", 5) is not None,
                "knot0 down")
        counts = spread(d, 20, "fb")
        t.eq(counts, {"knot1": 20}, "first-available: order 1 still up, order 2 unused")
        kill(knots[1])
        t.check(until(lambda: backends(d)[server_of(1)]["state"] == "down", 5) is not None,
                "knot1 down")
        counts = spread(d, 20, "fc")
        t.eq(counts, {"knot2": 20}, "first-available: both order 1 down, order 2 answers")
        revive(knots[0])
        revive(knots[1])

    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    # 5. least-outstanding: a server slowed by 200 ms gets fewer queries
    slow = SlowServer(0.2)
    try:
        lo = f"""backends:
  - name: corp
    domains: [corp.example.]
    policy: least-outstanding
    servers:
{servers(which=(0, 1))}      - "{slow.addr}@{slow.port}"
    check: {{interval: 500ms, timeout: 1s}}
    timeout: 1s
"""
        with Carouseld(lo) as d:
            got, lock = {}, threading.Lock()

            def client(c):
                for i in range(15):
                    w = who(ask(d, f"lo{c}x{i}.w.corp.example."))
                    with lock:
                        got[w] = got.get(w, 0) + 1
            threads = [threading.Thread(target=client, args=(c,)) for c in range(12)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            fast = min(got.get("knot0", 0), got.get("knot1", 0))
            t.check(sum(got.values()) == 180 and got.get("slow", 0) < fast / 4,
                    f"least-outstanding, 12 clients: {got}")
        t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    finally:
        slow.close()

    # 6. failover and return: down within fall x interval (+ a check timeout
    # and a margin), no queries while down, up again after rise checks
    with Carouseld(group("round-robin")) as d:
        until(lambda: all(s["state"] == "up" for s in backends(d).values()), 3)
        kill(knots[1])
        took = until(lambda: backends(d)[server_of(1)]["state"] == "down", 3)
        bound = 2 * 0.3 + 1.0 + 0.5  # fall x interval + a check timeout + a margin
        t.check(took is not None and took <= bound,
                f"killed server down in {took and round(took, 2)} s (bound {bound:.1f} s)")
        before = int(backends(d)[server_of(1)]["queries"])
        counts = spread(d, 30, "fo")
        t.check("knot1" not in counts and sum(counts.values()) == 30,
                f"no queries to the down server, all answered: {counts}")
        t.eq(int(backends(d)[server_of(1)]["queries"]) - before, 0, "...its query counter agrees")
        revive(knots[1])
        took = until(lambda: backends(d)[server_of(1)]["state"] == "up", 3)
        t.check(took is not None and took <= 2 * 0.3 + 0.5,
                f"back up after rise (2 checks) in {took and round(took, 2)} s")
        counts = spread(d, 30, "fr")
        t.check(counts.get("knot1") == 10, f"...and gets its share again: {counts}")

    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
    # 7. cache: a hit has a smaller TTL; a cookie does not make a miss;
    # negative answers cached; stale answers when nothing is up; ACL
    cache = """    cache: {size: 1M, max-ttl: 1h, stale: 30s}
  - name: closed
    domains: [closed.example.]
    servers: ["127.0.0.1@9"]
    allow: [10.0.0.0/8]
"""
    with Carouseld(group("round-robin", extra=cache)) as d:
        r1 = ask(d, "who.corp.example.")
        fwd = int(group_line(d)["forwarded"])
        time.sleep(1.2)
        r2 = ask(d, "who.corp.example.")
        t.check(r2.answer and r2.answer[0].ttl < r1.answer[0].ttl and who(r2) == who(r1),
                f"cache hit with a smaller TTL ({r1.answer[0].ttl} -> {r2.answer[0].ttl})")
        cookie = dns.edns.GenericOption(10, os.urandom(8))
        r3 = ask(d, "who.corp.example.", use_edns=0, options=[cookie])
        t.check(r3.rcode() == dns.rcode.NOERROR and who(r3) == who(r1),
                "a query with a client cookie answered")
        t.eq(int(group_line(d)["forwarded"]) - fwd, 0,
             "...from the cache, as the repeat was: nothing forwarded")
        fwd = int(group_line(d)["forwarded"])
        ask(d, "who.corp.example.", use_edns=0, want_dnssec=True)
        ask(d, "WHO.corp.example.", use_edns=0, want_dnssec=True)
        t.eq(int(group_line(d)["forwarded"]) - fwd, 1,
             "DO is part of the key (one miss), the question's case is not (then a hit)")
        out = d.ctl_cmd("backends", "nosuch")
        t.check(out.returncode == 1 and "no backend group" in out.stderr,
                "carouselctl backends GROUP: an unknown group is an error")
        t.check(d.ctl_cmd("backends", "corp").stdout.startswith("corp policy=round-robin"),
                "carouselctl backends corp: that group")
        ask(d, "nope.corp.example.")
        fwd = int(group_line(d)["forwarded"])
        n2 = ask(d, "nope.corp.example.")
        t.check(n2.rcode() == dns.rcode.NXDOMAIN and n2.authority and
                n2.authority[0].rdtype == dns.rdatatype.SOA and n2.authority[0].ttl <= 60 and
                int(group_line(d)["forwarded"]) == fwd,
                "NXDOMAIN cached, with its SOA (TTL <= SOA MINIMUM 60)")
        r = ask(d, "who.closed.example.")
        t.eq(dns.rcode.to_text(r.rcode()), "REFUSED", "client outside the group's allow: REFUSED")
        ask(d, "short.corp.example.")
        for k in knots:
            kill(k)
        t.check(until(lambda: all(s["state"] == "down" for s in backends(d).values()), 5)
                is not None, "all three servers down")
        time.sleep(1.1)  # short.corp.example.'s TTL of 1 s is over
        r = ask(d, "short.corp.example.", use_edns=0)
        ede = [o for o in r.options if o.otype == 15]
        t.check(r.rcode() == dns.rcode.NOERROR and who(r) in TAGS and ede and
                ede[0].code == 3 and r.answer[0].ttl <= 1,
                "nothing up: an expired answer within `stale`, EDE 3")
        r = ask(d, "never.w.corp.example.", use_edns=0)
        ede = [o for o in r.options if o.otype == 15]
        t.check(r.rcode() == dns.rcode.SERVFAIL and ede and ede[0].code in (22, 23),
                f"nothing up, nothing cached: SERVFAIL with EDE "
                f"{ede and ede[0].code} ({ede and ede[0].text})")
        for k in knots:
            revive(k)
    t.eq(d.exit_code, 0, "carouseld stopped cleanly")
finally:
    farm.stop()
t.done()
