#!/usr/bin/python3
"""backend_dnsdist_test.py -- carouseld's backend groups side by side with
dnsdist (Debian's) in front of the same three Knot servers, with the same
policy and health settings, on the same query script: the same
distribution for every policy, the same failover and return."""
import threading
import time

from corp_farm import Carousel, Dnsdist, Farm, SlowServer, ask, spread, until, who
from harness import Checks, need

need("knotd", "dnsdist")
t = Checks("backend_dnsdist")
farm = Farm()

# the same health settings on both sides (dnsdist counts in whole seconds)
INTERVAL, FALL, RISE = 1, 2, 2


def both(policy, servers, script, judge):
    """Run script(target) against carouseld and dnsdist: (ours, theirs).
    A result judge() rejects is measured once more on a fresh instance
    (said so in the output): on a shared, loaded machine a check or a
    query may be late for either side."""
    out = []
    for kind in (Carousel, Dnsdist):
        for attempt in (1, 2):
            with kind(policy, servers, INTERVAL, FALL, RISE) as target:
                time.sleep(INTERVAL * 1.2)  # a first round of checks
                settle(target, lambda c: None not in c)
                result = script(target)
            if judge(result) or attempt == 2:
                break
            print(f"retry {policy}, {kind.__name__}: {result}")
        out.append(result)
    return out


def settle(target, cond, limit=10):
    """Wait (bounded) until six queries give counts that cond accepts."""
    return until(lambda: cond(spread(target, 6, "settle")), limit)


def farm_servers(weights=(1, 1, 1), orders=(1, 1, 1), which=(0, 1, 2)):
    return [(farm.server(i), weights[i], orders[i]) for i in which]


def chi2(counts, want):
    return sum((counts.get(k, 0) - v) ** 2 / v for k, v in want.items())


try:
    # round-robin: 300 queries, 100 +- 1 each on both
    def even(c):
        return (sorted(c, key=str) == ["knot0", "knot1", "knot2"] and
                all(abs(v - 100) <= 1 for v in c.values()))

    ours, theirs = both("round-robin", farm_servers(), lambda d: spread(d, 300, "rr"), even)
    for name, c in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(even(c), f"round-robin, {name}: {c}")

    # weighted 1:2:1 (dnsdist: wrandom): both within chi-square bounds (p = 0.001)
    want = {"knot0": 100, "knot1": 200, "knot2": 100}
    ours, theirs = both("weighted", farm_servers(weights=(1, 2, 1)),
                        lambda d: spread(d, 400, "wt"), lambda c: chi2(c, want) < 13.8)
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
            settle(d, lambda c: None not in c)
            first, again = mapping(d), mapping(d)
        with kind("consistent-hash", farm_servers(weights=(weight,) * 3, which=(0, 1)),
                  INTERVAL, FALL, RISE) as d:
            time.sleep(INTERVAL * 1.2)
            settle(d, lambda c: None not in c)
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
        settle(d, lambda c: c == {"knot1": 6})
        seen.append(spread(d, 10, "fb"))
        farm.kill(1)
        settle(d, lambda c: c == {"knot2": 6})
        seen.append(spread(d, 10, "fc"))
        farm.revive(0)
        farm.revive(1)
        return seen

    def by_order(seen):
        return (len(seen[0]) == 1 and list(seen[0])[0] in ("knot0", "knot1") and
                seen[1] == {"knot1": 10} and seen[2] == {"knot2": 10})

    ours, theirs = both("first-available", farm_servers(orders=(1, 1, 2)), first_available,
                        by_order)
    for name, seen in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(by_order(seen), f"first-available, {name}: {seen}")

    # failover: a killed server leaves the rotation (after fall checks) and
    # gets its share again after rise checks; how long each took is shown
    def failover(d):
        farm.kill(1)
        gone = settle(d, lambda c: "knot1" not in c and None not in c)
        down = spread(d, 30, "fo")
        farm.revive(1)
        back_in = settle(d, lambda c: "knot1" in c)
        back = spread(d, 30, "fr")
        return down, back, gone, back_in

    def failed_over(r):
        return r[0] == {"knot0": 15, "knot2": 15} and r[1].get("knot1", 0) >= 9

    ours, theirs = both("round-robin", farm_servers(), failover, failed_over)
    for name, r in (("carouseld", ours), ("dnsdist", theirs)):
        t.check(failed_over(r), f"failover and return, {name}: {r[0]} then {r[1]} "
                                f"(out after {r[2] and round(r[2], 1)} s, back after "
                                f"{r[3] and round(r[3], 1)} s)")

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

        def fewer_to_slow(got):
            fast = min(got.get("knot0", 0), got.get("knot1", 0))
            return sum(got.values()) == 180 and None not in got and got.get("slow", 0) < fast / 2

        ours, theirs = both("least-outstanding",
                            farm_servers(which=(0, 1)) + [(f"{slow.addr}@{slow.port}", 1, 1)],
                            loaded, fewer_to_slow)
        for name, got in (("carouseld", ours), ("dnsdist", theirs)):
            t.check(fewer_to_slow(got), f"least-outstanding, {name}: {got}")
    finally:
        slow.close()
finally:
    farm.stop()
t.done()
