#!/usr/bin/python3
"""backend_dnsdist_test.py -- carouseld's backend groups side by side with
dnsdist (Debian's) in front of the same three Knot servers, with the same
policy and health settings, on the same query script: the same
distribution for every policy, the same failover and return."""
import threading
import time

from corp_farm import Carousel, Dnsdist, Farm, SlowServer, ask, spread, who
from harness import Checks, need

need("knotd", "dnsdist")
t = Checks("backend_dnsdist")
farm = Farm()

# the same health settings on both sides (dnsdist counts in whole seconds)
INTERVAL, FALL, RISE = 1, 2, 2


def both(policy, servers, script):
    """Run script(target) against carouseld and dnsdist: (ours, theirs)."""
    out = []
    for kind in (Carousel, Dnsdist):
        with kind(policy, servers, INTERVAL, FALL, RISE) as target:
            time.sleep(INTERVAL * 1.2)  # a first round of checks
            out.append(script(target))
    return out


def farm_servers(weights=(1, 1, 1), orders=(1, 1, 1), which=(0, 1, 2)):
    return [(farm.server(i), weights[i], orders[i]) for i in which]


def chi2(counts, want):
    return sum((counts.get(k, 0) - v) ** 2 / v for k, v in want.items())


try:
    # round-robin: 300 queries, 100 +- 1 each on both
    ours, theirs = both("round-robin", farm_servers(), lambda d: spread(d, 300, "rr"))
    for name, c in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(sorted(c, key=str) == ["knot0", "knot1", "knot2"] and
                all(abs(v - 100) <= 1 for v in c.values()), f"round-robin, {name}: {c}")

    # weighted 1:2:1 (dnsdist: wrandom): both within chi-square bounds (p = 0.001)
    want = {"knot0": 100, "knot1": 200, "knot2": 100}
    ours, theirs = both("weighted", farm_servers(weights=(1, 2, 1)),
                        lambda d: spread(d, 400, "wt"))
    for name, c in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(chi2(c, want) < 13.8, f"weighted 1:2:1, {name}: {c} (chi-square "
                                      f"{chi2(c, want):.1f})")

    # consistent hash: names stay put; without one server of three, only its
    # names move, about a third (dnsdist's ring needs weight for points)
    names = [f"ch{i}.w.corp.example." for i in range(300)]

    def mapping(d):
        return {n: who(ask(d, n)) for n in names}

    for kind, weight in ((Carousel, 1), (Dnsdist, 100)):
        with kind("consistent-hash", farm_servers(weights=(weight,) * 3), INTERVAL, FALL,
                  RISE) as d:
            time.sleep(INTERVAL * 1.2)
            first, again = mapping(d), mapping(d)
        with kind("consistent-hash", farm_servers(weights=(weight,) * 3, which=(0, 1)),
                  INTERVAL, FALL, RISE) as d:
            time.sleep(INTERVAL * 1.2)
            after = mapping(d)
        moved = [n for n in names if after[n] != first[n]]
        label = kind.__name__.lower()
        others = sum(first[n] != "knot2" for n in moved)
        t.check(first == again and others == 0 and 0.15 <= len(moved) / 300 <= 0.55,
                f"consistent-hash, {label}: stable ({first == again}); {len(moved)}/300 "
                f"names moved when knot2 went, {others} of them not knot2's")

    # first-available, orders 1, 1, 2: an order-1 server while one is up
    def first_available(d):
        seen = [spread(d, 10, "fa")]
        farm.kill(0)
        time.sleep(INTERVAL * (FALL + 1.5))
        seen.append(spread(d, 10, "fb"))
        farm.kill(1)
        time.sleep(INTERVAL * (FALL + 1.5))
        seen.append(spread(d, 10, "fc"))
        farm.revive(0)
        farm.revive(1)
        return seen

    ours, theirs = both("first-available", farm_servers(orders=(1, 1, 2)), first_available)
    for name, seen in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(len(seen[0]) == 1 and list(seen[0])[0] in ("knot0", "knot1") and
                seen[1] == {"knot1": 10} and seen[2] == {"knot2": 10},
                f"first-available, {name}: {seen}")

    # failover: a killed server gets no queries after fall x interval, and
    # its share again after rise x interval
    def failover(d):
        farm.kill(1)
        time.sleep(INTERVAL * (FALL + 1.5))
        down = spread(d, 30, "fo")
        farm.revive(1)
        time.sleep(INTERVAL * (RISE + 1.5))
        back = spread(d, 30, "fr")
        return down, back

    ours, theirs = both("round-robin", farm_servers(), failover)
    for name, (down, back) in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(down == {"knot0": 15, "knot2": 15} and back.get("knot1", 0) >= 9,
                f"failover and return, {name}: {down} then {back}")

    # least-outstanding: a server slowed by 200 ms gets fewer queries
    slow = SlowServer(0.2)
    try:
        def loaded(d):
            got, lock = {}, threading.Lock()

            def client(c):
                for i in range(15):
                    try:
                        w = who(ask(d, f"lo{c}x{i}.w.corp.example."))
                    except Exception:
                        w = None
                    with lock:
                        got[w] = got.get(w, 0) + 1
            threads = [threading.Thread(target=client, args=(c,)) for c in range(12)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            return got

        ours, theirs = both("least-outstanding",
                            farm_servers(which=(0, 1)) + [(f"{slow.addr}@{slow.port}", 1, 1)],
                            loaded)
        for name, got in (("carouseld", ours), ("dnsdist", theirs)):
            fast = min(got.get("knot0", 0), got.get("knot1", 0))
            t.check(sum(got.values()) == 180 and None not in got and
                    got.get("slow", 0) < fast / 2, f"least-outstanding, {name}: {got}")
    finally:
        slow.close()
finally:
    farm.stop()
t.done()
