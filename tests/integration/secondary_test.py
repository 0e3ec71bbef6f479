#!/usr/bin/env python3
"""secondary_test.py -- secondary zones from a hidden primary (Knot DNS
with a TSIG key and NOTIFY): initial AXFR, a knotc change served through
NOTIFY + IXFR, an IXFR answered with the whole zone, with REFUSED, NOTIMP
or SERVFAIL, with a closed connection or not at all (AXFR after each), a
zone over 64 KiB in many signed messages, NOTIFY from strangers and with
bad keys, a wrong key of ours keeping the old data, the serial wrap,
restart with the primary down, SERVFAIL after expire and recovery; a pool
in a transferred zone keeps rotating and following health."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.tsig
import dns.tsigkeyring

from fleet import SECRET, WRONG, Primary, answer, source_port, start_carouseld, until, zone_text
from harness import Carouseld, Checks, ctl_stat, free_addr, need, stop_process

BIG_RECORDS = 2000

# zones behind a dnsdist in front of the primary that spoils their IXFR
# (SOA and AXFR pass): zone -> (dnsdist action, what happens to the IXFR,
# what carouseld logs before trying AXFR). dnsdist 1.7 closes the TCP
# connection of a query it drops; a query it hands to a backend that never
# answers is the timeout.
FALLBACK = {
    "refused.example.": ("RCodeAction(DNSRCode.REFUSED)", "answered REFUSED", "REFUSED"),
    "notimp.example.": ("RCodeAction(DNSRCode.NOTIMP)", "answered NOTIMP", "NOTIMP"),
    "servfail.example.": ("RCodeAction(DNSRCode.SERVFAIL)", "answered SERVFAIL", "SERVFAIL"),
    "dropped.example.": ("DropAction()", "dropped (connection closed)",
                         "Connection reset by peer after 0 messages"),
    "silent.example.": ('PoolAction("silent")', "never answered",
                        "timed out after 0 messages"),
}
# control/xfr.c XFR_MSG_TIMEOUT_MS: how long a transfer waits for each
# message. A constant, not a config key: the timeout case takes this long.
XFR_MSG_TIMEOUT = 10


def transfers(car, apex):
    """(ixfr, axfr) from carouselctl zones for one zone."""
    m = re.search(rf"^{re.escape(apex)}\n(?:  .*\n)*?  transfers +ixfr (\d+), axfr (\d+)",
                  car.ctl_cmd("zones").stdout, re.M)
    return (int(m[1]), int(m[2])) if m else None


def notify(car, apex, source, secret=None):
    """A NOTIFY from `source` (an address), signed with `secret` if given:
    (rcode, response flags, id matches, question echoed, TSIG ok or None)."""
    q = dns.message.make_query(apex, "SOA")
    q.flags = dns.flags.AA
    q.set_opcode(dns.opcode.NOTIFY)
    ring = None
    if secret:
        ring = dns.tsigkeyring.from_text({"xfr-key.": secret})
        q.use_tsig(ring, keyname="xfr-key.", algorithm=dns.tsig.HMAC_SHA256)
    wire = q.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, source_port()))
        s.settimeout(2)
        s.sendto(wire, (car.addr, car.port))
        resp = s.recv(4096)
    rcode = resp[3] & 0xF
    flags = int.from_bytes(resp[2:4], "big")
    same_id = resp[:2] == wire[:2]
    echoed = resp[12:12 + len(wire) - 12][:len(apex) + 6] == wire[12:12 + len(apex) + 6]
    tsig_ok = None
    if secret and rcode == 0:
        try:
            dns.message.from_wire(resp, keyring=ring, request_mac=q.mac)
            tsig_ok = True
        except Exception as e:  # noqa: BLE001 -- any failure is a bad signature
            print("response TSIG:", e)
            tsig_ok = False
    return rcode, flags, same_id, echoed, tsig_ok


def main():
    need("knotd", "knotc", "dig", "dnsdist", "curl")
    t = Checks("secondary")
    kaddr, kport = free_addr()
    daddr, dport = free_addr()
    haddr, hport = free_addr()
    kept = tempfile.mkdtemp(prefix="carousel-kept-")
    keyfile = os.path.join(kept, "xfr.key")
    with open(keyfile, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(keyfile, 0o600)
    flag = os.path.join(kept, "member-71-up")
    open(flag, "w").close()

    def config(secret_line):
        zones = "".join(f"""  - name: {apex}
    primary: ["{kaddr}@{kport}"]
    key: xfr-key.
    file: {kept}/{apex}zone
""" for apex in ("example.net.", "short.example.", "big.example.")) + "".join(f"""  - name: {apex}
    primary: ["{daddr}@{dport}", "{kaddr}@{kport}"]
    key: xfr-key.
    file: {kept}/{apex}zone
""" for apex in FALLBACK)
        return f"""http:
  listen: {haddr}@{hport}
keys:
  - name: xfr-key.
    algorithm: hmac-sha256
    {secret_line}
zones:
  - name: example.test.
    file: zones/example.test.zone
{zones}pools:
  - name: www.example.net.
    aliases: [web.example.net.]
    members:
      - {{address: 192.0.2.71, monitor: {{type: exec, command: "test -e {flag}", interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}}}
      - {{address: 192.0.2.72}}
"""

    car = Carouseld(config(f"secret-file: {keyfile}"))
    big = "".join(f"t{i} TXT \"{'x' * 60} {i}\"\n" for i in range(BIG_RECORDS))
    knot = Primary(kaddr, kport, {
        "example.net.": (zone_text("example.net.", 4294967290), True),
        "short.example.": (zone_text("short.example.", 1, refresh=1, retry=1, expire=6), True),
        "big.example.": (zone_text("big.example.", 1, extra=big), False),
        **{apex: (zone_text(apex, 1), True) for apex in FALLBACK},
    }, notify=[(car.addr, car.port)])
    # the backend of dnsdist's "silent" pool: the kernel completes the
    # handshake, nobody ever reads the query
    saddr, sport = free_addr()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind((saddr, sport))
    silent.listen(8)
    ddir = tempfile.mkdtemp(prefix="carousel-dnsdist-")
    dconf = os.path.join(ddir, "dnsdist.conf")
    with open(dconf, "w") as f:
        rules = "".join(f'addAction(AndRule({{QTypeRule(DNSQType.IXFR), QNameRule("{apex}")}}), '
                        f"{action})\n" for apex, (action, _, _) in FALLBACK.items())
        f.write(f"""setLocal("{daddr}:{dport}")
setACL({{"127.0.0.0/8"}})
setSecurityPollSuffix("")
newServer({{address="{kaddr}:{kport}", checkName="refused.example.", checkType="SOA"}})
newServer({{address="{saddr}:{sport}", pool="silent"}}):setUp()
{rules}""")
    dlog = open(os.path.join(ddir, "dnsdist.log"), "w+")
    dnsdist = None
    try:
        knot.start(wait_zone="big.example.")
        dnsdist = subprocess.Popen(["dnsdist", "--supervised", "--disable-syslog", "-C", dconf],
                                   stdout=dlog, stderr=dlog, stdin=subprocess.DEVNULL)
        ok, _ = until(lambda: answer(daddr, dport, "refused.example.", "SOA")[0] == "NOERROR",
                      15)
        if not ok:
            dlog.seek(0)
            raise RuntimeError("dnsdist does not answer: " + dlog.read()[-2000:])
        start_carouseld(car)

        def serves(name, want, rdtype="A"):
            return answer(car.addr, car.port, name, rdtype) == ("NOERROR", want)

        # 1. the first transfer (AXFR, signed), and a zone over 64 KiB
        _, took = until(lambda: serves("old.example.net.", ["192.0.2.1"]), 15)
        t.check(serves("old.example.net.", ["192.0.2.1"]),
                f"initial AXFR: example.net. served ({took:.2f} s after start)")
        ok, _ = until(lambda: serves(f"t{BIG_RECORDS - 1}.big.example.",
                                     [f'"{"x" * 60} {BIG_RECORDS - 1}"'], "TXT"), 15)
        t.check(ok, f"big.example. ({BIG_RECORDS} TXT, over 64 KiB, many TSIG-signed "
                    "messages) transferred whole")
        big_wire = sum(len(r) for r in open(f"{kept}/big.example.zone"))
        t.check(big_wire > 65536, f"the kept big.example. file holds {big_wire} bytes")
        t.check(ctl_stat(car.ctl, "xfr.axfr") >= 3, "xfr.axfr counts the first transfers")
        zones = car.ctl_cmd("zones").stdout
        t.check(re.search(r"example\.net\.\n  serial +4294967290\n  state +serving", zones)
                is not None, "carouselctl zones: serial and state of example.net.")
        t.check(f"{kaddr}@{kport} (key xfr-key.)" in zones and "next-refresh" in zones
                and "expire " in zones, "carouselctl zones: primary, key, timers")

        metrics = subprocess.run(["curl", "-s", f"http://{haddr}:{hport}/metrics"],
                                 capture_output=True, text=True, timeout=10).stdout
        t.check('carousel_zone_serial{zone="example.net."} 4294967290' in metrics and
                re.search(r'carousel_zone_transfers_total\{zone="big\.example\.",type="axfr"\} 1',
                          metrics) is not None and
                'carousel_zone_expired{zone="example.net."} 0' in metrics,
                "/metrics: zone serials, transfers, expiry")
        status = subprocess.run(["curl", "-s", f"http://{haddr}:{hport}/api/v1/status"],
                                capture_output=True, text=True, timeout=10).stdout
        t.check('"name":"example.net.","serial":4294967290' in status,
                "/api/v1/status lists the secondary zone's serial")

        # 2. a pool in a transferred zone rotates and follows health
        t.eq(answer(car.addr, car.port, "www.example.net.")[1], ["192.0.2.71", "192.0.2.72"],
             "pool www.example.net. in the transferred zone answers both members")

        # 3. NOTIFY + IXFR: a knotc change is served within 2 s
        ixfr0, notify0 = ctl_stat(car.ctl, "xfr.ixfr"), ctl_stat(car.ctl, "xfr.notify")
        start = time.monotonic()
        serial = knot.change("example.net.", sets=["new 60 A 192.0.2.99"])
        ok, _ = until(lambda: serves("new.example.net.", ["192.0.2.99"]), 5, step=0.02)
        took = time.monotonic() - start
        t.check(ok and took <= 2.0, f"knotc change (serial {serial}) served in {took:.2f} s "
                                    "(NOTIFY + IXFR; bound 2 s)")
        # counted in the same step that starts serving it: the count has
        # moved by the time the change answers
        t.check(ctl_stat(car.ctl, "xfr.ixfr") > ixfr0, "...by IXFR")
        t.check(ctl_stat(car.ctl, "xfr.notify") > notify0, "...set off by a NOTIFY")
        t.eq(answer(car.addr, car.port, "www.example.net.")[1], ["192.0.2.71", "192.0.2.72"],
             "the pool still answers after the transfer")
        t.eq(answer(car.addr, car.port, "web.example.net.")[1], ["192.0.2.71", "192.0.2.72"],
             "...and so does its alias")
        os.unlink(flag)
        ok, _ = until(lambda: answer(car.addr, car.port, "www.example.net.")[1] ==
                      ["192.0.2.72"], 5)
        t.check(ok, "a failed member leaves the pool of the transferred zone")
        open(flag, "w").close()
        ok, _ = until(lambda: answer(car.addr, car.port, "www.example.net.")[1] ==
                      ["192.0.2.71", "192.0.2.72"], 5)
        t.check(ok, "...and comes back")

        # a transferred zone the loader refuses (A records at a pool's name):
        # the old data keeps serving; fixed at the primary, it arrives
        bad = knot.change("example.net.", sets=["www 60 A 192.0.2.200", "bad 60 A 192.0.2.201"])
        ok, _ = until(lambda: f"transfer of serial {bad} rejected" in
                      car.ctl_cmd("zones").stdout, 10)
        t.check(ok, "a transfer that conflicts with a pool is rejected (carouselctl zones)")
        t.eq(answer(car.addr, car.port, "www.example.net.")[1], ["192.0.2.71", "192.0.2.72"],
             "...the pool keeps answering")
        t.eq(answer(car.addr, car.port, "bad.example.net.")[0], "NXDOMAIN",
             "...and the rest of the old zone too")
        fixed = knot.change("example.net.", unsets=["www A"])
        ok, _ = until(lambda: serves("bad.example.net.", ["192.0.2.201"]), 10)
        t.check(ok, f"fixed at the primary (serial {fixed}): the zone arrives")

        # 4. NOTIFY from elsewhere, with a bad key, and done right
        other = f"127.{(int(kaddr.split('.')[1]) % 200) + 1}.9.9"
        t.eq(notify(car, "example.net.", other, SECRET)[0], dns.rcode.REFUSED,
             "NOTIFY from an address that is not a primary: REFUSED")
        t.eq(notify(car, "example.net.", kaddr, WRONG)[0], dns.rcode.NOTAUTH,
             "NOTIFY from the primary's address with a wrong key: NOTAUTH")
        t.eq(notify(car, "example.net.", kaddr)[0], dns.rcode.REFUSED,
             "unsigned NOTIFY for a zone with a key: REFUSED")
        rcode, flags, same_id, echoed, tsig_ok = notify(car, "example.net.", kaddr, SECRET)
        t.check(rcode == 0 and flags & dns.flags.QR and flags & dns.flags.AA and same_id
                and echoed and tsig_ok,
                "NOTIFY from the primary with the key: NOERROR, QR, AA, same ID, question "
                "echoed, signed response (RFC 1996 4.7, RFC 8945)")
        t.eq(notify(car, "nothere.example.", kaddr, SECRET)[0], dns.rcode.REFUSED,
             "NOTIFY for a zone we are not secondary for: REFUSED")

        # 5. our key wrong: the transfer is refused, the old data stays
        car.write_config(config(f"secret: {WRONG}"))
        t.eq(car.ctl_cmd("reload").returncode, 0, "reload with a wrong key")
        fail0 = ctl_stat(car.ctl, "xfr.failed")
        knot.change("example.net.", sets=["new2 60 A 192.0.2.98"])
        car.ctl_cmd("refresh", "example.net.")
        ok, _ = until(lambda: ctl_stat(car.ctl, "xfr.failed") > fail0, 10)
        t.check(ok, "with a wrong key the refresh fails")
        t.eq(answer(car.addr, car.port, "new2.example.net."), ("NXDOMAIN", []),
             "...and the old data keeps serving")
        t.check(serves("new.example.net.", ["192.0.2.99"]), "...all of it")
        car.write_config(config(f"secret-file: {keyfile}"))
        car.ctl_cmd("reload")
        car.ctl_cmd("refresh", "example.net.")
        ok, _ = until(lambda: serves("new2.example.net.", ["192.0.2.98"]), 10)
        t.check(ok, "the right key again: the change arrives")

        # 6. IXFR answered with the whole zone (no journal at the primary)
        axfr0 = ctl_stat(car.ctl, "xfr.axfr")
        knot.change("big.example.", sets=["added 60 A 192.0.2.77"])
        ok, _ = until(lambda: serves("added.big.example.", ["192.0.2.77"]), 10)
        t.check(ok, "big.example. change served (IXFR answered AXFR-style)")
        t.check(ctl_stat(car.ctl, "xfr.axfr") > axfr0, "...counted as a whole-zone transfer")

        # 6b. IXFR answered REFUSED, NOTIMP, SERVFAIL, the connection closed,
        # no answer at all (dnsdist rules in front of the primary): AXFR.
        # All five change at once, so the test waits out the timeout (the one
        # slow case) once: the step takes about XFR_MSG_TIMEOUT s.
        ok, _ = until(lambda: all(serves(f"old.{apex}", ["192.0.2.1"]) for apex in FALLBACK),
                      15)
        t.check(ok, f"{', '.join(FALLBACK)} transferred through dnsdist (AXFR passes)")
        before = {apex: transfers(car, apex) for apex in FALLBACK}
        start = time.monotonic()
        for apex in FALLBACK:
            knot.change(apex, sets=["after 60 A 192.0.2.66"])
        for apex, (_, how, note) in FALLBACK.items():
            ok, _ = until(lambda a=apex: serves(f"after.{a}", ["192.0.2.66"]),
                          XFR_MSG_TIMEOUT + 15)
            took = time.monotonic() - start
            ixfr0, axfr0 = before[apex]
            t.check(ok and transfers(car, apex) == (ixfr0, axfr0 + 1),
                    f"{apex}: IXFR {how}: the change arrives by AXFR "
                    f"({took:.1f} s; carouselctl zones: axfr +1, ixfr +0)")
            d = re.escape(f"{daddr}@{dport}")
            logged = re.search(rf'event=xfr zone={re.escape(apex)} primary={d} '
                               rf'note="IXFR from {d}: {note}; trying AXFR"', car.logtext())
            t.check(logged is not None, f"...after the fallback, which is logged "
                                        f"({logged[0] if logged else 'no log line'})")
        # done with dnsdist: while the primary is down below, the SOA checks
        # of these zones (retry 1 s) then fail at once (port unreachable)
        # rather than wait for a dnsdist whose backend is gone
        stop_process(dnsdist)
        silent.close()

        # 7. serial arithmetic: Knot increments through 4294967295 to 0, 1...
        before = knot.serial("example.net.")
        serial, k = before, 0
        while serial is None or serial > 1000:
            serial = knot.change("example.net.", sets=[f"step{k} 60 A 192.0.2.{k}"])
            k += 1
        knot.change("example.net.", sets=["wrapped 60 A 192.0.2.5"])
        serial = knot.serial("example.net.")
        t.check(serial < before, f"the primary's serial wrapped ({before} -> {serial})")
        ok, _ = until(lambda: serves("wrapped.example.net.", ["192.0.2.5"]), 5)
        t.check(ok, "the wrapped serial is newer (RFC 1982): the change is served")
        t.check(re.search(rf"example\.net\.\n  serial +{serial}\n",
                          car.ctl_cmd("zones").stdout) is not None,
                f"carouselctl zones shows serial {serial}")

        # 8. restart with the primary down: the kept zone serves
        knot.stop()
        stop_process(car.proc)
        start_carouseld(car)
        t.check(serves("wrapped.example.net.", ["192.0.2.5"]) and
                serves("new.example.net.", ["192.0.2.99"]),
                "restart with the primary down: the kept zone serves")

        # 9. primary down: retries, then SERVFAIL after expire (6 s)
        rc, took = until(lambda: answer(car.addr, car.port, "old.short.example.")[0] ==
                         "SERVFAIL", 20, step=0.2)
        t.check(rc, f"short.example. (expire 6 s) answers SERVFAIL once expired "
                    f"({took:.1f} s after the restart)")
        t.check(ctl_stat(car.ctl, "xfr.failed") >= 2, "the refresh was retried")
        t.check("expired" in car.ctl_cmd("zones").stdout, "carouselctl zones says expired")
        got = answer(car.addr, car.port, "new.example.net.")
        t.eq(got, ("NOERROR", ["192.0.2.99"]), "example.net. (expire 1 h) still serves")
        knot.start(wait_zone="short.example.")
        ok, took = until(lambda: serves("old.short.example.", ["192.0.2.1"]), 15, step=0.1)
        t.check(ok, f"the primary is back: short.example. serves again ({took:.1f} s)")
        m = car.ctl_cmd("zones").stdout
        t.check("ixfr" in m and "failed" in m, "carouselctl zones lists transfer counters")

        # 10. a primary whose serial went back (rebuilt from an old file):
        # ignored and logged, the newer data keeps serving
        knot.stop()
        with open(os.path.join(knot.dir, "zones", "example.net.zone"), "w") as f:
            f.write(zone_text("example.net.", 4294967000))  # before 1, across the wrap
        shutil.rmtree(os.path.join(knot.dir, "db"))
        os.makedirs(os.path.join(knot.dir, "db"))
        knot.start(wait_zone="example.net.")
        car.ctl_cmd("refresh", "example.net.")
        ok, _ = until(lambda: "primary serial 4294967000 is older than ours" in
                      car.ctl_cmd("zones").stdout, 10)
        t.check(ok, "a primary serial that went back (4294967000 after 1, RFC 1982) is "
                    "reported and ignored")
        t.check(serves("wrapped.example.net.", ["192.0.2.5"]), "...and our data keeps serving")
        t.check("primary serial 4294967000 is older than ours" in car.logtext(), "...and logged")
    finally:
        car.stop()
        t.eq(car.exit_code, 0, "carouseld stops cleanly")
        knot.close()
        stop_process(dnsdist)
        silent.close()
        dlog.close()
        shutil.rmtree(ddir, ignore_errors=True)
        shutil.rmtree(kept, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
