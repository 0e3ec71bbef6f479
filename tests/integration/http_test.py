#!/usr/bin/env python3
"""http_test.py -- the http: listener with curl: the JSON API documents,
security headers, the allow ACL (403), the password (401), the API key
(POST drain/undrain, a bad key refused, no GET changes state), /metrics,
and the old metrics: section (/metrics only)."""
import json
import os
import random
import subprocess

from harness import Carouseld, Checks, free_addr, need

KEY = "k3y-" + "%032x" % random.getrandbits(128)
PASSWORD = "pw-%016x" % random.getrandbits(64)

POOLS = """
zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
    members:
      - {address: 192.0.2.10}
      - {address: 192.0.2.11}
      - {address: "2001:db8::10"}
"""


def curl(url, *args, source=None):
    """(status, headers dict lower-cased, body) of one request."""
    cmd = ["curl", "-s", "-i", "--max-time", "5", *args, url]
    if source:
        cmd[1:1] = ["--interface", source]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def secret_file(srv, name, text):
    path = os.path.join(srv.dir, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return name


def open_listener(t):
    """Loopback without secrets: reads are open, changes are refused."""
    addr, port = free_addr()
    srv = Carouseld(POOLS + f"http:\n  listen: {addr}@{port}\n")
    base = f"http://{addr}:{port}"
    with srv:
        st, h, body = curl(base + "/")
        t.eq(st, 200, "GET / (the page)")
        t.check("text/html" in h.get("content-type", ""), "the page is HTML")
        t.eq(h.get("x-content-type-options"), "nosniff", "header X-Content-Type-Options")
        t.eq(h.get("x-frame-options"), "deny", "header X-Frame-Options")
        t.check(h.get("content-security-policy", "").startswith("default-src 'self'"),
                f"header Content-Security-Policy: {h.get('content-security-policy')}")
        t.check("http://" not in body and "https://" not in body,
                "the page names no other host")
        for asset in ("/app.js", "/app.css"):
            st, h, body = curl(base + asset)
            t.check(st == 200 and "http://" not in body and "https://" not in body,
                    f"GET {asset}: 200, no other host")
        srv.query("www.example.test.", "A")
        st, h, body = curl(base + "/api/v1/status")
        status = json.loads(body) if st == 200 else {}
        t.eq(h.get("content-type"), "application/json", "API answers JSON")
        t.eq([z["name"] for z in status.get("zones", [])], ["example.test."],
             "status: the zones")
        t.check(all(z["serial"] > 0 for z in status.get("zones", [])), "status: zone serials")
        t.eq(status.get("pools"), 1, "status: pool count")
        st, _, body = curl(base + "/api/v1/pools")
        pools = json.loads(body) if st == 200 else []
        t.eq([m["address"] for p in pools for m in p["members"]],
             ["192.0.2.10", "192.0.2.11", "2001:db8::10"], "pools: every member")
        t.check(all(m["state"] == "up" and m["drained"] is False
                    for p in pools for m in p["members"]), "pools: all up, none drained")
        st, _, body = curl(base + "/api/v1/stats")
        stats = json.loads(body) if st == 200 else {}
        t.check(stats.get("socket", {}).get("udp", 0) >= 2, "stats: socket queries counted")
        t.check(stats.get("rcode", {}).get("NOERROR", 0) >= 1, "stats: rcodes")
        url = base + "/api/v1/pools/web.example.test./members/192.0.2.10/drain"
        st, _, _ = curl(url)
        t.eq(st, 405, "GET on drain changes nothing (405)")
        st, _, body = curl(url, "-X", "POST", "-H", f"X-API-Key: {KEY}")
        t.eq(st, 403, f"POST drain without a configured key: 403 {body.strip()}")
        st, _, body = curl(base + "/api/v1/pools")
        t.check('"drained":true' not in body, "...and nothing was drained")
        st, _, _ = curl(base + "/api/v1/status", "-X", "POST")
        t.eq(st, 405, "POST on a document: 405")
        st, _, _ = curl(base + "/api/v1/nope")
        t.eq(st, 404, "unknown API path: 404")
        st, _, body = curl(base + "/metrics")
        t.check(st == 200 and "carousel_queries_total" in body, "GET /metrics")
    t.eq(srv.exit_code, 0, "carouseld stopped cleanly")


def guarded_listener(t):
    """Password, API key and an allow ACL."""
    addr, port = free_addr()
    outsider = addr
    while outsider == addr:
        outsider, _ = free_addr()
    srv = Carouseld(POOLS)
    pw = secret_file(srv, "http.pass", f"admin:{PASSWORD}")
    key = secret_file(srv, "http.key", KEY)
    srv.write_config(POOLS + f"http:\n  listen: {addr}@{port}\n  allow: [{addr}/32]\n"
                     f"  password-file: {pw}\n  api-key-file: {key}\n")
    base = f"http://{addr}:{port}"
    auth = ["-u", f"admin:{PASSWORD}"]
    with srv:
        st, _, _ = curl(base + "/", *auth, source=outsider)
        t.eq(st, 403, f"from {outsider}, outside allow: 403 (even with the password)")
        st, h, _ = curl(base + "/", source=addr)
        t.eq(st, 401, "the page without the password: 401")
        t.check(h.get("www-authenticate", "").startswith("Basic"), "...asking for Basic auth")
        st, _, _ = curl(base + "/", "-u", "admin:wrong", source=addr)
        t.eq(st, 401, "a wrong password: 401")
        st, _, _ = curl(base + "/", *auth, source=addr)
        t.eq(st, 200, "the right password: 200")
        st, _, _ = curl(base + "/metrics", source=addr)
        t.eq(st, 401, "/metrics without the password: 401")
        st, _, _ = curl(base + "/api/v1/pools", source=addr)
        t.eq(st, 401, "API read without credentials: 401")
        st, _, _ = curl(base + "/api/v1/pools", "-H", f"X-API-Key: {KEY}", source=addr)
        t.eq(st, 200, "API read with the key: 200")
        st, _, _ = curl(base + "/api/v1/pools", *auth, source=addr)
        t.eq(st, 200, "API read with the password: 200")
        url = base + "/api/v1/pools/web.example.test./members/192.0.2.10/"
        st, _, _ = curl(url + "drain", "-X", "POST", source=addr)
        t.eq(st, 401, "POST drain without a key: 401")
        st, _, _ = curl(url + "drain", "-X", "POST", "-H", "X-API-Key: " + KEY[:-1] + "x",
                        source=addr)
        t.eq(st, 401, "POST drain with a bad key: 401")
        st, _, _ = curl(url + "drain", "-X", "POST", *auth, source=addr)
        t.eq(st, 401, "POST drain with only the password: 401")
        out = srv.ctl_cmd("pools").stdout
        t.check("member 192.0.2.10 state up drained no" in out, "...nothing was drained")
        st, _, body = curl(url + "drain", "-X", "POST", "-H", f"X-API-Key: {KEY}", source=addr)
        t.eq(st, 200, f"POST drain with the key: 200 {body.strip()}")
        out = srv.ctl_cmd("pools").stdout
        t.check("member 192.0.2.10 state up drained yes" in out, "carouselctl pools: drained")
        r = srv.query("www.example.test.", "A")
        addrs = sorted(str(rd) for rrset in r.answer for rd in rrset if rd.rdtype == 1)
        t.eq(addrs, ["192.0.2.11"], "the drained member is not answered")
        st, _, body = curl(url + "undrain", "-X", "POST", "-H", f"X-API-Key: {KEY}",
                           source=addr)
        t.eq(st, 200, "POST undrain with the key: 200")
        st, _, body = curl(base + "/api/v1/pools", "-H", f"X-API-Key: {KEY}", source=addr)
        t.check('"drained":true' not in body, "undrained")
        st, _, body = curl(base + "/api/v1/pools/web.example.test./members/192.0.2.99/drain",
                           "-X", "POST", "-H", f"X-API-Key: {KEY}", source=addr)
        t.check(st == 404 and "has no member" in body, f"drain an unknown member: 404 {body}")
        t.check(PASSWORD not in srv.logtext() and KEY not in srv.logtext(),
                "secrets never logged")
    t.eq(srv.exit_code, 0, "carouseld stopped cleanly")


def old_metrics(t):
    addr, port = free_addr()
    srv = Carouseld(POOLS + f"metrics:\n  listen: {addr}@{port}\n")
    base = f"http://{addr}:{port}"
    with srv:
        st, _, body = curl(base + "/metrics")
        t.check(st == 200 and "carousel_member_up" in body, "metrics: still serves /metrics")
        st, _, _ = curl(base + "/api/v1/status")
        t.eq(st, 404, "metrics: serves no API")
        t.check("metrics: is the old name of http:" in srv.logtext(),
                "metrics: logs how to migrate")
    t.eq(srv.exit_code, 0, "carouseld stopped cleanly")


def main():
    need("curl")
    t = Checks("http")
    open_listener(t)
    guarded_listener(t)
    old_metrics(t)
    t.done()


if __name__ == "__main__":
    main()
