#!/usr/bin/python3
"""health_test.py -- pool members leave the rotation when their real
backends fail, and come back: nginx (http, https), Dovecot (pop3, imap,
pop3s, imaps, submission as smtp), dns and exec monitors; failover,
topology (source address and ECS), on-all-down, degraded TTL, drain,
`carouselctl pools`, state kept across reload, and the metrics endpoint.
"""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Carouseld, Checks, need  # noqa: E402
from backends import Dovecot, Nginx  # noqa: E402

INTERVAL, TIMEOUT, RISE, FALL = 0.3, 0.25, 2, 2
# A failure shows within fall checks, one interval to start the next
# check, jitter (a tenth), a timeout and a scheduling margin.
DETECT = (FALL + 1) * INTERVAL * 1.1 + TIMEOUT + 1.0
RECOVER = (RISE + 1) * INTERVAL * 1.1 + TIMEOUT + 1.0

need("nginx", "dovecot", "openssl", "kdig", "curl")
net = f"127.{random.randint(100, 250)}.{random.randint(0, 250)}"
WEB1, WEB2, KEEP = f"{net}.81", f"{net}.82", f"{net}.83"
MAIL1, MAIL2 = f"{net}.91", f"{net}.92"
HTTP, HTTPS = 18080, 18443
V6PORT = random.randint(20000, 60000)
MAILPORTS = {"pop3": 18110, "pop3s": 18995, "imap": 18143, "imaps": 18993, "smtp": 18587}
T = Checks("health")
# wrong passwords: a failed login may be answered late (the server's own
# brute-force delay), so these monitors wait longer and judge at once
SLOW = {"interval": "3s", "timeout": "2s", "fall": 1}


def mon(kind, **extra):
    keys = {"type": kind, "interval": f"{int(INTERVAL * 1000)}ms",
            "timeout": f"{int(TIMEOUT * 1000)}ms", "rise": RISE, "fall": FALL}
    keys.update(extra)
    return "{" + ", ".join(f"{k}: {v}" for k, v in keys.items()) + "}"


def addresses(srv, name, rdtype="A", **kw):
    r = srv.query(name, rdtype, **kw)
    return sorted(str(rd) for rrset in r.answer for rd in rrset
                  if rrset.rdtype == dns.rdatatype.from_text(rdtype))


def wait_for(pred, limit):
    """Poll pred every 50 ms (a kdig loop, in Python); returns seconds
    until it held, or None after `limit` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if pred():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def pools(srv):
    return srv.ctl_cmd("pools").stdout


def member_line(srv, pool, member):
    text, inpool = pools(srv), False
    for line in text.splitlines():
        if line.startswith("pool "):
            inpool = line.split()[1] == pool
        elif inpool and line.split()[1:2] == [member]:
            return line
    return ""


def kdig(srv, name):
    """The A records of name as kdig sees them (the polling loops)."""
    out = subprocess.run(["kdig", f"@{srv.addr}", "-p", str(srv.port), "+short", "+timeout=1",
                          "+retry=0", name], capture_output=True, text=True, timeout=10).stdout
    return sorted(x for x in out.split() if re.fullmatch(r"[0-9.]+", x))


def scrape(srv):
    text = subprocess.run(["curl", "-sf", "--max-time", "5", f"http://{srv.metrics}/metrics"],
                          capture_output=True, text=True, timeout=10, check=True).stdout
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def hold_open_server(addr, port):
    """An HTTP server that answers and then keeps the connection open
    (ignoring Connection: close): the verdict must not wait for EOF."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(16)
    held = []

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nhealthy\n")
            held.append(c)
    threading.Thread(target=serve, daemon=True).start()
    return ls


def main():
    tmp = os.path.join("/tmp", f"carousel-health-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    flag = FLAG
    flag.update({n: os.path.join(tmp, n) for n in ("fo-a", "fo-b", "fo-c", "geo-1")})
    for f in flag.values():
        open(f, "w").close()
    good, bad, loose = (os.path.join(tmp, n) for n in ("good.cred", "bad.cred", "loose.cred"))
    for path, text in ((good, "carol:s3cret\n"), (bad, "carol:wrong\n"), (loose, "carol:s3cret\n")):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644 if path == loose else 0o600)

    web1, web2 = Nginx(WEB1, HTTP), Nginx(WEB2, HTTPS, tls=True)
    web6 = Nginx("::1", V6PORT)
    mail1, mail2 = Dovecot(MAIL1, MAILPORTS), Dovecot(MAIL2, MAILPORTS)
    backends = [web1, web2, web6, mail1, mail2]
    metrics_port = random.randint(20000, 60000)
    srv = Carouseld(yaml_text="")  # the server block; the rest below

    def exec_mon(name):
        return mon("exec", command=f'"test -e {flag[name]}"', rise=1, fall=1)

    body = f"""zones:
  - name: example.test.
    file: zones/example.test.zone
metrics:
  listen: {srv.addr}@{metrics_port}
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
    monitor: {mon("http", port=HTTP, path="/health", expect=200, body="healthy")}
    ttl: 60
    degraded-ttl: 4
    members:
      - {{address: {WEB1}}}
      - {{address: {WEB2}, monitor: {mon("https", port=HTTPS, path="/health")}}}
  - name: mx.example.test.
    aliases: [imap.example.test.]
    monitor: {mon("imap", port=MAILPORTS["imap"], credentials=good)}
    members:
      - {{address: {MAIL1}}}
      - {{address: {MAIL2}}}
  - name: pop.example.test.
    monitor: {mon("pop3", port=MAILPORTS["pop3"], credentials=good)}
    members:
      - {{address: {MAIL1}}}
      - {{address: {MAIL2}, monitor: {mon("pop3", port=MAILPORTS["pop3"], credentials=bad, **SLOW)}}}
  - name: mailtls.example.test.
    members:
      - {{address: {MAIL1}, monitor: {mon("pop3s", port=MAILPORTS["pop3s"], credentials=good)}}}
      - {{address: {MAIL2}, monitor: {mon("imaps", port=MAILPORTS["imaps"], credentials=bad, **SLOW)}}}
  - name: smtp.example.test.
    monitor: {mon("smtp", port=MAILPORTS["smtp"])}
    members:
      - {{address: {MAIL1}}}
      - {{address: {MAIL2}}}
  - name: sick.example.test.
    members:
      - {{address: {WEB1}, monitor: {mon("http", port=HTTP, path="/sick")}}}
      - {{address: {WEB2}}}
  - name: verify.example.test.
    members:
      - {{address: {WEB2}, monitor: {mon("https", port=HTTPS, path="/health",
                                          **{"tls-verify": "true"})}}}
      - {{address: {WEB1}}}
  - name: v6.example.test.
    members:
      - {{address: "::1", monitor: {mon("http", port=V6PORT, path="/health")}}}
      - {{address: "2001:db8::9"}}
  - name: keep.example.test.
    members:
      - {{address: {KEEP}, monitor: {mon("http", port=HTTP, path="/health", body="healthy")}}}
  - name: ns.example.test.
    members:
      - {{address: {srv.addr}, monitor: {mon("dns", port=srv.port, query="example.test.")}}}
  - name: nx.example.test.
    members:
      - {{address: {srv.addr}, monitor: {mon("dns", port=srv.port, query="nowhere.example.test.")}}}
  - name: fo.example.test.
    method: failover
    min-up: 1
    members:
      - {{address: 192.0.2.1, group: 0, monitor: {exec_mon("fo-a")}}}
      - {{address: 192.0.2.2, group: 0, monitor: {exec_mon("fo-b")}}}
      - {{address: 192.0.2.3, group: 1, monitor: {exec_mon("fo-c")}}}
  - name: geo.example.test.
    method: topology
    members:
      - {{address: 192.0.2.31, clients: [127.66.0.0/16], monitor: {exec_mon("geo-1")}}}
      - {{address: 192.0.2.32, clients: [127.77.0.0/16, 127.77.1.0/24]}}
      - {{address: 192.0.2.33}}
  - name: closed.example.test.
    on-all-down: servfail
    monitor: {{type: exec, command: "false", initial: down}}
    members:
      - {{address: 192.0.2.41}}
  - name: open.example.test.
    monitor: {{type: exec, command: "false", initial: down}}
    members:
      - {{address: 192.0.2.51}}
      - {{address: 192.0.2.52}}
  - name: spare.example.test.
    on-all-down: {{pool: fo.example.test.}}
    monitor: {{type: exec, command: "false", initial: down}}
    members:
      - {{address: 192.0.2.61}}
"""
    srv.write_config(body)
    srv.metrics = f"{srv.addr}:{metrics_port}"

    # a credentials file others can read is refused, with file:line
    bad_cfg = srv.config + ".loose"
    srv.write_config(body.replace(f"credentials: {good}", f"credentials: {loose}", 1),
                     path=bad_cfg)
    r = subprocess.run([os.environ.get("CAROUSELD", "carouseld"), "--check", bad_cfg],
                       capture_output=True, text=True)
    T.check(r.returncode == 1 and re.search(r"\.loose:\d+:\d+: credentials file .* readable "
                                            r"by others", r.stderr),
            f"world-readable credentials refused: {r.stderr.strip()}")

    holder = None
    try:
        # inside the try: whatever fails, every server started here stops
        for b in backends:
            b.start()
        holder = hold_open_server(KEEP, HTTP)
        srv.start()
        run(srv, web1, web6, mail1)
    finally:
        code = srv.stop()
        for b in backends:
            b.close()
        if holder:
            holder.close()
        shutil.rmtree(tmp, ignore_errors=True)
    T.eq(code, 0, "carouseld exits cleanly (no sanitizer report)")
    T.done()


def run(srv, web1, web6, mail1):
    # members start up (initial: up): wait for real verdicts before judging
    T.check(wait_for(lambda: all("http 200" in member_line(srv, "web.example.test.", a)
                                 for a in (WEB1, WEB2)), RECOVER) is not None,
            "http and https monitors pass on the two nginx")
    T.eq(addresses(srv, "www.example.test."), [WEB1, WEB2], "both nginx replicas serve www")
    T.check(wait_for(lambda: "state down" in member_line(srv, "pop.example.test.", MAIL2),
                     RECOVER) is not None, "pop3 with a wrong password: member down")
    line = member_line(srv, "pop.example.test.", MAIL2)
    T.check("PASS rejected" in line and "-ERR" in line, f"pools says why: {line.strip()}")
    # a verdict and the state it leads to: wait for both (one slow login on
    # a loaded machine costs `rise` more checks, not the test)
    wait_for(lambda: all(w in member_line(srv, "pop.example.test.", MAIL1)
                         for w in ("state up", "pop3 login ok")), RECOVER)
    line = member_line(srv, "pop.example.test.", MAIL1)
    T.check("state up" in line and "pop3 login ok" in line,
            f"pop3 USER/PASS login: member up: {line.strip()}")
    wait_for(lambda: all(w in member_line(srv, "mx.example.test.", MAIL1)
                         for w in ("state up", "imap login ok")), RECOVER)
    T.check("imap login ok" in member_line(srv, "mx.example.test.", MAIL1),
            "imap LOGIN: member up")
    T.check(wait_for(lambda: "state down" in member_line(srv, "mailtls.example.test.", MAIL2),
                     RECOVER) is not None, "imaps with a wrong password: member down")
    line = member_line(srv, "mailtls.example.test.", MAIL2)
    T.check("LOGIN rejected" in line, f"pools says why: {line.strip()}")
    wait_for(lambda: all(w in member_line(srv, "mailtls.example.test.", MAIL1)
                         for w in ("state up", "pop3 login ok")), RECOVER)
    line = member_line(srv, "mailtls.example.test.", MAIL1)
    T.check("state up" in line and "pop3 login ok" in line, f"pop3s over TLS: {line.strip()}")
    wait_for(lambda: all(w in member_line(srv, "smtp.example.test.", m)
                         for m in (MAIL1, MAIL2) for w in ("state up", "smtp 220")), RECOVER)
    T.eq(addresses(srv, "smtp.example.test."), [MAIL1, MAIL2],
         "smtp monitor (Dovecot submission): both up")
    line = member_line(srv, "smtp.example.test.", MAIL1)
    T.check("EHLO 250" in line, f"smtp monitor: 220 greeting, EHLO 250: {line.strip()}")
    wait_for(lambda: addresses(srv, "sick.example.test.") == [WEB2], RECOVER)
    T.eq(addresses(srv, "sick.example.test."), [WEB2], "http 503 where 200 is expected: down")
    line = member_line(srv, "sick.example.test.", WEB1)
    T.check("http status 503" in line, f"http status checked: {line.strip()}")
    wait_for(lambda: "state down" in member_line(srv, "verify.example.test.", WEB2), RECOVER)
    line = member_line(srv, "verify.example.test.", WEB2)
    T.check("state down" in line and "certificate not trusted" in line,
            f"tls-verify: a self-signed replica is down, and says why: {line.strip()}")
    wait_for(lambda: "http 200" in member_line(srv, "keep.example.test.", KEEP), RECOVER)
    line = member_line(srv, "keep.example.test.", KEEP)
    T.check("state up" in line and "http 200" in line,
            f"http judged on the response, not on the server closing: {line.strip()}")
    wait_for(lambda: "dns NOERROR" in member_line(srv, "ns.example.test.", srv.addr), RECOVER)
    T.check("state up" in member_line(srv, "ns.example.test.", srv.addr),
            "dns monitor: NOERROR with an answer is up")
    wait_for(lambda: "state down" in member_line(srv, "nx.example.test.", srv.addr), RECOVER)
    line = member_line(srv, "nx.example.test.", srv.addr)
    T.check("state down" in line and "dns rcode NXDOMAIN" in line,
            f"dns monitor: NXDOMAIN is down, and says so: {line.strip()}")
    m0 = scrape(srv)

    # degraded TTL: all up, the pool's TTL
    r = srv.query("web.example.test.", "A")
    T.eq(r.answer[0].ttl, 60, "TTL with every member up")

    # kill one nginx: gone within fall x interval + one interval
    web1.stop()
    took = wait_for(lambda: kdig(srv, "www.example.test.") == [WEB2], DETECT)
    T.check(took is not None, f"dead nginx leaves the rotation in {took and round(took, 2)} s "
                              f"(bound {DETECT:.2f} s)")
    for _ in range(20):
        if WEB1 in addresses(srv, "www.example.test."):
            T.check(False, "a dead replica was answered again")
            break
    r = srv.query("web.example.test.", "A")
    T.eq(r.answer[0].ttl, 4, "degraded pool answers with degraded-ttl")
    line = member_line(srv, "web.example.test.", WEB1)
    T.check("state down" in line and "connect" in line, f"pools: {line.strip()}")
    m = scrape(srv)
    T.eq(m.get(f'carousel_member_up{{pool="web.example.test.",member="{WEB1}"}}'), 0.0,
         "metrics: dead member up=0")
    T.eq(m.get('carousel_pool_degraded{pool="web.example.test."}'), 1.0,
         "metrics: pool degraded")

    # reload: the dead member stays down (no flap to `initial: up`)
    T.check("reloaded" in srv.ctl_cmd("reload").stdout, "reload")
    T.eq(addresses(srv, "www.example.test."), [WEB2], "state kept across reload")

    web1.start()
    took = wait_for(lambda: kdig(srv, "www.example.test.") == [WEB1, WEB2], RECOVER)
    T.check(took is not None, f"restarted nginx is back after rise in {took and round(took, 2)} s")
    T.eq(srv.query("web.example.test.", "A").answer[0].ttl, 60, "TTL back to normal")

    # an IPv6 replica: checked over IPv6, its AAAA follows
    if not T.eq(addresses(srv, "v6.example.test.", "AAAA"), ["2001:db8::9", "::1"],
                "IPv6 replica up (http over ::1)"):
        print(pools(srv))
    web6.stop()
    T.check(wait_for(lambda: addresses(srv, "v6.example.test.", "AAAA") == ["2001:db8::9"],
                     DETECT) is not None, "dead IPv6 replica leaves the AAAA answers")

    # Dovecot behind MX: the additional section follows the pool
    def mx_glue():
        r = srv.query("example.test.", "MX")
        return sorted(str(rd) for rrset in r.additional for rd in rrset
                      if rrset.rdtype == dns.rdatatype.A)
    T.eq(mx_glue(), [MAIL1, MAIL2], "MX additional: both Dovecot replicas")
    mail1.stop()
    took = wait_for(lambda: mx_glue() == [MAIL2] and
                    addresses(srv, "imap.example.test.") == [MAIL2], DETECT)
    T.check(took is not None, f"dead Dovecot leaves MX and alias answers in "
                              f"{took and round(took, 2)} s")
    r = srv.query("_imaps._tcp.example.test.", "SRV")
    glue = sorted(str(rd) for rrset in r.additional for rd in rrset
                  if rrset.rdtype == dns.rdatatype.A)
    T.eq(glue, [MAIL2], "SRV additional follows the pool too")
    mail1.start()
    T.check(wait_for(lambda: mx_glue() == [MAIL1, MAIL2], RECOVER) is not None,
            "restarted Dovecot is back")

    # failover: group 0 serves while one of it is up
    T.eq(addresses(srv, "fo.example.test."), ["192.0.2.1", "192.0.2.2"], "failover: group 0")
    os.unlink(FLAG["fo-a"])
    T.check(wait_for(lambda: addresses(srv, "fo.example.test.") == ["192.0.2.2"], DETECT),
            "failover: group 0 with one member left")
    os.unlink(FLAG["fo-b"])
    T.check(wait_for(lambda: addresses(srv, "fo.example.test.") == ["192.0.2.3"], DETECT),
            "failover: group 1 takes over")
    # spare (all down, on-all-down: pool) answers with fo's members
    T.eq(addresses(srv, "spare.example.test."), ["192.0.2.3"],
         "on-all-down pool: another pool's serving members")
    open(FLAG["fo-a"], "w").close()
    T.check(wait_for(lambda: addresses(srv, "fo.example.test.") == ["192.0.2.1"], RECOVER),
            "failover: back to group 0")
    open(FLAG["fo-b"], "w").close()

    # on-all-down
    r = srv.query("closed.example.test.", "A", use_edns=0)
    T.eq(dns.rcode.to_text(r.rcode()), "SERVFAIL", "on-all-down servfail")
    ede = [o for o in r.options if o.otype == dns.edns.EDE]
    T.check(ede and "down" in ede[0].text, "SERVFAIL carries an EDE saying why")
    T.eq(addresses(srv, "open.example.test."), ["192.0.2.51", "192.0.2.52"],
         "on-all-down serve-all (the default): every member")
    T.check("on-all-down serve-all" in pools(srv), "pools shows the all-down action")

    # topology: by source address, then by ECS
    def geo(source=None, ecs=None):
        q = dns.message.make_query("geo.example.test.", "A", use_edns=0,
                                   options=[dns.edns.ECSOption(ecs, 24)] if ecs else [])
        r = dns.query.udp(q, srv.addr, port=srv.port, timeout=2, source=source)
        return r, sorted(str(rd) for rrset in r.answer for rd in rrset)
    T.eq(geo("127.66.0.5")[1], ["192.0.2.31"], "topology: client 127.66/16 gets its member")
    T.eq(geo("127.77.1.5")[1], ["192.0.2.32"], "topology: client 127.77.1/24 gets its member")
    T.eq(geo("127.1.2.3")[1], ["192.0.2.31", "192.0.2.32", "192.0.2.33"],
         "topology: other clients get every member")
    r, got = geo("127.1.2.3", ecs="127.77.1.0")
    T.eq(got, ["192.0.2.32"], "topology: ECS address decides")
    ecs = [o for o in r.options if o.otype == dns.edns.ECS]
    T.check(ecs and ecs[0].scopelen == 24, "ECS echoed with scope = the matched prefix")
    os.unlink(FLAG["geo-1"])
    T.check(wait_for(lambda: geo("127.66.0.5")[1] == ["192.0.2.32", "192.0.2.33"], DETECT),
            "topology: preferred member down, the others answer")

    # pools POOL: one pool only; an unknown one is an error
    r = srv.ctl_cmd("pools", "web.example.test")
    T.check(r.returncode == 0 and r.stdout.count("\npool ") + r.stdout.startswith("pool ") == 1
            and WEB1 in r.stdout, "pools POOL shows that pool alone")
    r = srv.ctl_cmd("pools", "nope.example.test.")
    T.check(r.returncode == 1 and "no pool" in r.stdout + r.stderr, "pools of an unknown pool")
    T.eq(scrape(srv).get('carousel_pool_serving{pool="web.example.test."}'), 2.0,
         "metrics: members a pool serves")

    # drain / undrain
    r = srv.ctl_cmd("drain", "web.example.test.", WEB1)
    T.check(r.returncode == 0 and "drained" in r.stdout, "carouselctl drain")
    T.eq(addresses(srv, "www.example.test."), [WEB2], "drained member gets no answers")
    T.check("drained yes" in member_line(srv, "web.example.test.", WEB1), "pools: drained yes")
    T.eq(srv.query("web.example.test.", "A").answer[0].ttl, 60, "drain is not degradation")
    r = srv.ctl_cmd("drain", "web.example.test.", "192.0.2.200")
    T.check(r.returncode == 1 and "has no member" in r.stdout + r.stderr,
            "drain of an unknown member: an error")
    r = srv.ctl_cmd("drain", "nope.example.test.", WEB1)
    T.check(r.returncode == 1 and "no pool" in r.stdout + r.stderr,
            "drain of an unknown pool: an error")
    srv.ctl_cmd("undrain", "web.example.test.", WEB1)
    T.eq(addresses(srv, "www.example.test."), [WEB1, WEB2], "undrained member is back")

    # metrics: counters move
    before = scrape(srv)
    for _ in range(25):
        srv.query("www.example.test.", "A")
    after = scrape(srv)
    key = 'carousel_queries_total{path="socket",transport="udp"}'
    T.check(after[key] - before[key] >= 25, f"metrics: udp queries +{after[key] - before[key]}")
    key = f'carousel_member_checks_total{{pool="web.example.test.",member="{WEB1}"}}'
    T.check(after[key] > m0[key], "metrics: checks counted")
    T.check(after.get('carousel_reloads_total{result="ok"}') == 1.0, "metrics: reloads")
    T.check(any(k.startswith("carousel_member_check_latency_seconds") for k in after),
            "metrics: check latency")
    code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://{srv.metrics}/nope"], capture_output=True, text=True).stdout
    T.eq(code, "404", "metrics: unknown path is a 404")


FLAG = {}

if __name__ == "__main__":
    main()
