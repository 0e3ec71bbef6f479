#!/usr/bin/python3
"""rrl_test.py -- response rate limiting: a burst from one client gets
`rate-limit` answers a second, then one in `slip` responses truncated (at
random) and the rest dropped; TCP is not limited; another prefix is not affected;
under a flood of ANY queries with EDNS the server sends fewer bytes than
it receives."""
import socket
import time

import dns.flags
import dns.message
import dns.query

from harness import Carouseld, Checks

t = Checks("rrl")


class Limited(Carouseld):
    def write_config(self, yaml_text=None, path=None):
        super().write_config(yaml_text, path)
        with open(path or self.config, "a") as f:
            f.write("\nrrl:\n  rate-limit: 10\n  slip: 2\n")


def burst(d, n, source="127.0.0.1", rdtype="A", payload=None, name="www.example.test."):
    """Send n queries at once from one socket; count replies by kind."""
    full = tc = 0
    sent_bytes = recv_bytes = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        for i in range(n):
            q = dns.message.make_query(name, rdtype, use_edns=0 if payload else None,
                                       payload=payload or 512)
            q.id = i
            w = q.to_wire()
            sent_bytes += len(w)
            s.sendto(w, (d.addr, d.port))
        s.settimeout(0.5)
        while True:
            try:
                data = s.recv(65535)
            except socket.timeout:
                break
            recv_bytes += len(data)
            if data[2] & 0x02:
                tc += 1
            else:
                full += 1
    return full, tc, sent_bytes, recv_bytes


with Limited() as d:
    time.sleep(1.1)  # a fresh second for the burst
    full, tc, _, _ = burst(d, 60)
    t.check(10 <= full <= 20, f"burst of 60 from one client: {full} full answers (limit 10/s)")
    t.check(5 <= tc <= 40, f"...{tc} truncated (slip 2: one in two limited responses, "
                           "at random: 20-25 +- 3.5)")
    r = dns.query.tcp(dns.message.make_query("www.example.test.", "A"), d.addr, port=d.port,
                      timeout=3)
    t.check(len(r.answer) == 2, "TCP is not rate limited")
    full, tc, _, _ = burst(d, 5, source="127.0.1.1")
    t.eq(full, 5, "another /24 is not affected")
    time.sleep(1.1)
    full, tc, sent, recv = burst(d, 400, rdtype="ANY", payload=4096, name="example.test.")
    t.check(recv <= sent, f"ANY flood with EDNS: {recv} bytes out for {sent} bytes in")
    stats = d.ctl_cmd("stats").stdout
    t.check("rrl.slipped" in stats and "rrl.dropped" in stats and
            int(stats.split("rrl.dropped ")[1].split()[0]) > 0, "stats count limited responses")
t.eq(d.exit_code, 0, "clean exit")
t.done()
