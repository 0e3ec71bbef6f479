#!/usr/bin/env python3
"""status_page_test.py -- the status page in a real browser: headless
Chromium loads it (--dump-dom with a virtual-time budget) and its DOM lists
every member of every pool; after a replica's check fails the next load
shows it down; under dnsperf load the page shows non-zero query rates and
a screenshot is taken (CAROUSEL_SCREENSHOT=PATH keeps it, e.g. for
docs/img/status-page.png)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Carouseld, Checks, free_addr, need, skip


def chromium(url, *extra):
    profile = tempfile.mkdtemp(prefix="carousel-chromium-")
    try:
        out = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=4000", *extra, url],
            capture_output=True, text=True, timeout=90)
        return out.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def members(dom):
    """{address: state} of the member rows."""
    return dict(re.findall(r'<tr class="member" data-address="([^"]+)" data-state="(\w+)"', dom))


def main():
    need("dnsperf")
    if not shutil.which("chromium"):
        skip("chromium is not installed (Debian package chromium)")
    t = Checks("status_page")
    flags = tempfile.mkdtemp(prefix="carousel-flags-")
    flag_a, flag_b = os.path.join(flags, "a"), os.path.join(flags, "b")
    for f in (flag_a, flag_b):
        open(f, "w").close()

    def mon(flag):
        return (f'{{type: exec, command: "test -e {flag}", interval: 200ms, timeout: 150ms, '
                f'rise: 1, fall: 1}}')
    addr, port = free_addr()
    srv = Carouseld(f"""
zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
    members:
      - {{address: 192.0.2.10, monitor: {mon(flag_a)}}}
      - {{address: 192.0.2.11, monitor: {mon(flag_b)}}}
      - {{address: "2001:db8::10"}}
  - name: mx.example.test.
    members:
      - {{address: 192.0.2.25}}
      - {{address: 192.0.2.26}}
http:
  listen: {addr}@{port}
""")
    url = f"http://{addr}:{port}/"
    load = None
    try:
        srv.start()
        time.sleep(0.5)
        dom = chromium(url, "--dump-dom")
        want = {"192.0.2.10": "up", "192.0.2.11": "up", "2001:db8::10": "up",
                "192.0.2.25": "up", "192.0.2.26": "up"}
        t.eq(members(dom), want, "the DOM lists every member, all up")
        t.check('data-pool="web.example.test."' in dom and 'data-pool="mx.example.test."' in dom,
                "the DOM lists every pool")
        t.check(re.search(r"<td>example\.test\.</td><td>\d+</td>", dom) is not None,
                "zone serials shown")
        os.unlink(flag_b)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and \
                "member 192.0.2.11 state down" not in srv.ctl_cmd("pools").stdout:
            time.sleep(0.1)
        dom = chromium(url, "--dump-dom")
        want["192.0.2.11"] = "down"
        t.eq(members(dom), want, "after its check fails the next load shows 192.0.2.11 down")
        t.check("1 member down" in dom, "the page says one member is down")

        qfile = os.path.join(srv.dir, "queries")
        with open(qfile, "w") as f:
            f.write("www.example.test A\nmx.example.test A\nexample.test SOA\n" * 100)
        load = subprocess.Popen(["dnsperf", "-s", srv.addr, "-p", str(srv.port), "-d", qfile,
                                 "-l", "15", "-c", "2", "-q", "64", "-Q", "3000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        shot = os.environ.get("CAROUSEL_SCREENSHOT") or os.path.join(srv.dir, "page.png")
        dom = chromium(url, "--dump-dom")
        m = re.search(r'id="qps-total">([\d.]+)<', dom)
        t.check(m is not None and float(m.group(1)) > 100,
                f"under dnsperf load the page shows queries/s: {m and m.group(1)}")
        chromium(url, "--window-size=1200,1500", f"--screenshot={shot}",
                 "--hide-scrollbars")
        t.check(os.path.exists(shot) and os.path.getsize(shot) > 20000,
                f"screenshot taken ({os.path.exists(shot) and os.path.getsize(shot)} bytes)")
    finally:
        if load and load.poll() is None:
            load.terminate()
            load.wait(10)
        t.eq(srv.stop(), 0, "carouseld stopped cleanly")
        shutil.rmtree(flags, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
