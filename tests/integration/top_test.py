#!/usr/bin/env python3
"""top_test.py -- `carouselctl top`: under dnsperf load at a known rate it
shows the socket path's queries per second, the most asked names first,
and the pools with members down (a failing check) or drained."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import CAROUSELCTL, Carouseld, Checks, need


def main():
    need("dnsperf")
    t = Checks("top")
    flags = tempfile.mkdtemp(prefix="carousel-flags-")
    flag = os.path.join(flags, "up")  # never created: that member fails
    srv = Carouseld(f"""zones:
  - name: example.test.
    file: zones/example.test.zone
pools:
  - name: web.example.test.
    aliases: [www.example.test.]
    members:
      - {{address: 192.0.2.10}}
      - {{address: 192.0.2.11, monitor: {{type: exec, command: "test -e {flag}",
                                          interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}}}
  - name: mx.example.test.
    members:
      - {{address: 192.0.2.25}}
      - {{address: 192.0.2.26}}
""")
    load = None
    try:
        srv.start()
        srv.ctl_cmd("drain", "mx.example.test.", "192.0.2.26")
        qfile = os.path.join(srv.dir, "queries")
        with open(qfile, "w") as f:  # www 4 in 7, mx 2 in 7, SOA 1 in 7
            f.write("www.example.test A\nmx.example.test A\nwww.example.test A\n"
                    "example.test SOA\nwww.example.test A\nmx.example.test A\n"
                    "www.example.test A\n")
        load = subprocess.Popen(["dnsperf", "-s", srv.addr, "-p", str(srv.port), "-d", qfile,
                                 "-l", "20", "-c", "2", "-q", "50", "-Q", "2800"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        r = subprocess.run([CAROUSELCTL, "-s", srv.ctl, "top", "3"], capture_output=True,
                           text=True, timeout=30)
        t.eq(r.returncode, 0, "carouselctl top 3 exits 0")
        frames = [f for f in r.stdout.split("carousel top ") if f.strip()]
        t.eq(len(frames), 3, "three views, one a second")
        last = frames[-1] if frames else ""
        m = re.search(r"socket (\d+) \(udp (\d+), tcp (\d+)\)", last)
        qps = int(m.group(1)) if m else 0
        t.check(2000 <= qps <= 3300, f"socket qps near the 2800 sent: {qps}")
        names = re.findall(r"^\s+(\d+)\s+(\S+) (\S+)$", last, re.M)
        t.check([n[1:] for n in names[:2]] == [("www.example.test.", "A"),
                                                 ("mx.example.test.", "A")],
                f"the most asked names first: {names}")
        www = int(names[0][0]) if names else 0
        t.check(1000 <= www <= 2300, f"www.example.test. A at about 4/7 of the rate: {www}")
        t.check("192.0.2.11 state down" in last, "the member failing its check is listed")
        t.check("192.0.2.26 state up drained yes" in last, "the drained member is listed")
        t.check("192.0.2.10" not in last and "192.0.2.25" not in last,
                "members up and in rotation are not")
        r = subprocess.run([CAROUSELCTL, "-s", srv.ctl, "top", "zero"], capture_output=True,
                           text=True, timeout=10)
        t.eq(r.returncode, 2, "top with a bad count: usage error")
    finally:
        if load and load.poll() is None:
            load.terminate()
            load.wait(10)
        t.eq(srv.stop(), 0, "carouseld stopped cleanly")
        shutil.rmtree(flags, ignore_errors=True)
    r = subprocess.run([CAROUSELCTL, "-s", srv.ctl, "top", "1"], capture_output=True,
                       text=True, timeout=10)
    t.eq(r.returncode, 2, "no daemon: exit 2")
    t.done()


if __name__ == "__main__":
    main()
