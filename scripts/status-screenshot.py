#!/usr/bin/env python3
"""status-screenshot.py -- make docs/img/status-page.png: carouseld with
health-checked pools under dnsperf load (a replica fails half-way), the
status page in headless Chromium for a minute of real time, then a
screenshot. Chromium is driven over --remote-debugging-pipe (fd 3 in,
fd 4 out, NUL-terminated JSON): no extra Python packages.
Usage: scripts/status-screenshot.py [OUT.png]   (after ninja -C build)"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import SRC, Carouseld, free_addr  # noqa: E402


def chrome_shot(url, out, seconds, size=(1200, 1450)):
    r1, w1 = os.pipe()  # we write, Chromium reads fd 3
    r2, w2 = os.pipe()  # Chromium writes fd 4, we read
    profile = tempfile.mkdtemp(prefix="carousel-chromium-")

    def fds():
        os.dup2(r1, 3)
        os.dup2(w2, 4)
    p = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                          "--remote-debugging-pipe", f"--window-size={size[0]},{size[1]}",
                          "--hide-scrollbars", "about:blank"],
                         pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    os.close(r1)
    os.close(w2)
    buf, last = b"", 0

    def call(method, params=None, session=None):
        nonlocal buf, last
        last += 1
        msg = {"id": last, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(w1, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in buf:
                buf += os.read(r2, 1 << 20)
            m, _, buf = buf.partition(b"\0")
            m = json.loads(m)
            if m.get("id") == last:
                return m.get("result", m)
    try:
        target = call("Target.createTarget", {"url": url})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        time.sleep(seconds)
        png = call("Page.captureScreenshot", {"format": "png"}, session)["data"]
        with open(out, "wb") as f:
            f.write(base64.b64decode(png))
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "docs", "img",
                                                             "status-page.png")
    flags = tempfile.mkdtemp(prefix="carousel-flags-")
    fa, fb = os.path.join(flags, "a"), os.path.join(flags, "b")
    for f in (fa, fb):
        open(f, "w").close()

    def mon(f):
        return (f'{{type: exec, command: "test -e {f}", interval: 1s, timeout: 500ms, '
                'rise: 1, fall: 1}')
    addr, port = free_addr()
    srv = Carouseld(f"""zones:
  - name: example.test.
    file: zones/example.test.zone
  - name: 2.0.192.in-addr.arpa.
    file: zones/2.0.192.in-addr.arpa.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test., shop.example.test.]
    monitor: {{type: exec, command: "true", interval: 2s}}
    members:
      - {{address: 192.0.2.10, monitor: {mon(fa)}}}
      - {{address: 192.0.2.11, monitor: {mon(fb)}}}
      - {{address: 192.0.2.12}}
      - {{address: "2001:db8::10"}}
  - name: api.example.test.
    method: weighted
    members:
      - {{address: 192.0.2.20, weight: 5}}
      - {{address: 192.0.2.21, weight: 1}}
  - name: mx.example.test.
    aliases: [imap.example.test.]
    members:
      - {{address: 192.0.2.25}}
      - {{address: 192.0.2.26}}
rrl:
  rate-limit: 1500
http:
  listen: {addr}@{port}
""")
    qfile = os.path.join(flags, "queries")
    with open(qfile, "w") as f:
        f.write("www.example.test A\nshop.example.test AAAA\nmx.example.test A\n"
                "example.test SOA\nnope.example.test A\nother.invalid A\n" * 50)

    def load(rate, seconds):
        return subprocess.run(["dnsperf", "-s", srv.addr, "-p", str(srv.port), "-d", qfile,
                               "-l", str(seconds), "-c", "2", "-Q", str(rate)],
                              stdout=subprocess.DEVNULL, timeout=seconds + 30)
    with srv:
        shot = threading.Thread(target=chrome_shot, args=(f"http://{addr}:{port}/", out, 70))
        shot.start()
        load(2000, 20)
        os.unlink(fb)  # a replica fails
        load(6000, 25)
        load(1000, 30)
        shot.join()
    shutil.rmtree(flags, ignore_errors=True)
    print(out)


if __name__ == "__main__":
    main()
