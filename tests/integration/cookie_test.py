#!/usr/bin/python3
"""cookie_test.py -- DNS Cookies (RFC 7873, RFC 9018 server cookies): a
client cookie gets a server cookie, a valid one comes back unchanged, a
bad one is replaced (the query still answered), a malformed option gets
FORMERR, a secret rotation keeps old cookies working (no BADCOOKIE
storm), and clients with a valid cookie are exempt from RRL."""
import socket

import dns.edns
import dns.message
import dns.query
import dns.rcode

from harness import Carouseld, Checks

t = Checks("cookie")
SECRET1 = "e5e973e5a6b2a43f48e7dc849e37bfcf"
SECRET2 = "445536bcd2513298075a5d379663c962"
SECRET3 = "dd3bdf9344b678b185a6f5cb60fca715"
CLIENT = bytes.fromhex("2464c4abcf10c957")


class WithCookies(Carouseld):
    secret = SECRET1

    def write_config(self, yaml_text=None, path=None):
        super().write_config(yaml_text, path)
        with open(path or self.config, "a") as f:
            f.write(f"\ncookies:\n  secret: {self.secret}\nrrl:\n  rate-limit: 5\n  slip: 0\n")


def ask(d, cookie, sock=None):
    q = dns.message.make_query("www.example.test.", "A", use_edns=0,
                               options=[dns.edns.GenericOption(10, cookie)])
    return dns.query.udp(q, d.addr, port=d.port, timeout=2, sock=sock)


def cookie_of(r):
    for o in r.options:
        if o.otype == 10:
            return o.data
    return None


with WithCookies() as d:
    r = ask(d, CLIENT)
    c1 = cookie_of(r)
    t.check(r.rcode() == 0 and c1 and len(c1) == 24 and c1[:8] == CLIENT and c1[8] == 1,
            "client cookie alone: answered with a version-1 server cookie")
    r = ask(d, c1)
    t.eq(cookie_of(r), c1, "a valid server cookie comes back unchanged")
    bogus = c1[:16] + bytes(8)
    r = ask(d, bogus)
    c = cookie_of(r)
    t.check(r.rcode() == 0 and len(r.answer) == 2 and c and c != bogus and c[:8] == CLIENT,
            "a bad server cookie: still answered, with a new cookie")
    r = ask(d, CLIENT + bytes(4))
    t.eq(dns.rcode.to_text(r.rcode()), "FORMERR", "a 12-byte cookie option: FORMERR")

    # RRL: 30 at once without a cookie, then with a valid one
    def burst(cookie):
        got = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(30):
                opts = [dns.edns.GenericOption(10, cookie)] if cookie else []
                q = dns.message.make_query("www.example.test.", "A", use_edns=0, options=opts)
                s.sendto(q.to_wire(), (d.addr, d.port))
            s.settimeout(0.5)
            try:
                while True:
                    s.recv(4096)
                    got += 1
            except socket.timeout:
                pass
        return got
    t.check(burst(None) <= 12, "without a cookie a burst is rate limited")
    t.eq(burst(c1), 30, "with a valid cookie the same burst is not")

    # rotation: the old secret becomes `previous`
    d.secret = SECRET2
    d.write_config()
    t.eq(d.ctl_cmd("reload").returncode, 0, "reload with a new secret")
    r = ask(d, c1)
    c2 = cookie_of(r)
    t.check(r.rcode() == 0 and len(r.answer) == 2 and c2 and c2 != c1,
            "after a rotation an old cookie still works, and is renewed")
    r = ask(d, c2)
    t.eq(cookie_of(r), c2, "the renewed cookie is valid under the new secret")
    d.secret = SECRET3
    d.write_config()
    d.ctl_cmd("reload")
    r = ask(d, c1)
    t.check(r.rcode() == 0 and cookie_of(r) != c1,
            "two rotations later the first cookie is replaced, the query still answered")
t.eq(d.exit_code, 0, "clean exit")
t.done()
