#!/usr/bin/python3
"""xdp_test.py -- carouseld --dataplane xdp on one end of a veth pair, in
native mode (an XDP_PASS program on the peer, so XDP_TX works on veth) and
in generic mode: dig from the client namespace gets rotated alias answers
from the XDP program (its counters prove it), other names reach carouseld
through the kernel, a pool change shows on the next query, and the program
is detached on SIGTERM."""
import os
import subprocess
import tempfile
import time

from harness import (CAROUSELCTL, CAROUSELD, SRC, Checks, Wire, check_fastpath_health,
                     ctl_stat, health_pool_yaml, need, need_root_netns, sh, skip,
                     stop_process)

need_root_netns()
need("dig")
if "xdp" not in subprocess.run([CAROUSELD, "--version"], capture_output=True, text=True).stdout:
    skip("carouseld was built without XDP (libbpf-dev, clang, bpftool)")
PASS_OBJ = os.environ.get("XDP_PASS_OBJ", os.path.join(SRC, "build", "xdp_pass.bpf.o"))
if not os.path.exists(PASS_OBJ):
    skip(f"{PASS_OBJ} not built")

t = Checks("xdp")


def run_mode(mode):
    w = Wire("x")
    tmp = tempfile.mkdtemp(prefix="carousel-xdp-")
    ctl = os.path.join(tmp, "ctl.sock")
    sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP4}/24", "dev", w.app_if)
    sh("ip", "netns", "exec", w.app, "ip", "addr", "add", f"{w.APP_IP6}/64", "dev", w.app_if,
       "nodad")
    # native XDP_TX on veth needs an XDP program on the peer too
    sh("ip", "netns", "exec", w.cli, "ip", "link", "set", "dev", w.cli_if, "xdp", "obj",
       PASS_OBJ, "sec", "xdp")
    with open(os.path.join(SRC, "configs", "carousel.yaml")) as f:
        text = f.read()
    text = text[text.index("\nzones:") + 1:].replace("file: zones/", f"file: {SRC}/configs/zones/")
    flags = [os.path.join(tmp, "up-a"), os.path.join(tmp, "up-b")]
    for flag in flags:
        open(flag, "w").close()
    text = text.replace("pools:\n", "pools:\n" + health_pool_yaml(*flags), 1)
    cfg = os.path.join(tmp, "carousel.yaml")
    head = f"""server:
  listen: [{w.APP_IP4}@53, "{w.APP_IP6}@53"]
  control-socket: {ctl}
dataplane:
  interface: {w.app_if}
  xdp-mode: {mode}
  address: [{w.APP_IP4}/24, "{w.APP_IP6}/64"]
"""
    with open(cfg, "w") as f:
        f.write(head + text)
    log = open(os.path.join(tmp, "log"), "w+")
    proc = subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg, "--dataplane",
                             "xdp"], stdout=log, stderr=log)

    dig = w.dig

    def stat(name):
        return ctl_stat(ctl, name)

    try:
        if not t.check(w.wait_answering(proc, 50), f"{mode}: carouseld with XDP answers"):
            log.flush()
            print(open(log.name).read())
            return
        link = subprocess.run(["ip", "netns", "exec", w.app, "ip", "-d", "link", "show",
                               w.app_if], capture_output=True, text=True).stdout
        t.check(("xdpgeneric" in link) == (mode == "generic") and "prog/xdp" in link,
                f"{mode}: program attached in {mode} mode")
        before, sock = stat("xdp.answered"), stat("queries.udp")
        answers = [dig(f"@{w.APP_IP4}", "www.example.test", "+short").split() for _ in range(6)]
        # rotation counters are per CPU: the order is per CPU, the set is whole
        t.check(all(sorted(a[1:]) == ["192.0.2.10", "192.0.2.11", "192.0.2.12"] for a in answers)
                and len({a[1] for a in answers}) >= 2,
                f"{mode}: rotated replicas from XDP ({[a[1] for a in answers]})")
        t.eq(stat("xdp.answered") - before, 6, f"{mode}: answered by the XDP program")
        if not t.eq(stat("queries.udp") - sock, 0, f"{mode}: ...not by the socket"):
            out = subprocess.run([CAROUSELCTL, "-s", ctl, "stats"], capture_output=True,
                                 text=True).stdout
            print("\n".join(x for x in out.splitlines() if x.startswith("xdp.")))
        out = dig(f"@{w.APP_IP6}", "shop.example.test", "AAAA", "+short")
        t.check("2001:db8::10" in out, f"{mode}: IPv6 answered")
        miss = stat("xdp.passed.miss")
        out = dig(f"@{w.APP_IP4}", "mail.example.test", "MX", "+short")
        t.check(out.strip() == "10 mx.example.test." and stat("xdp.passed.miss") > miss,
                f"{mode}: a miss reaches carouseld through the kernel")
        out = dig(f"@{w.APP_IP4}", "www.example.test", "+tcp", "+short")
        t.check("192.0.2.1" in out, f"{mode}: TCP through the kernel")
        if mode == "native":
            check_fastpath_health(t, mode, lambda *a: dig(f"@{w.APP_IP4}", *a), stat,
                                  "xdp.answered", flags[1])
        with open(cfg, "w") as f:
            f.write(head + text.replace("{address: 192.0.2.10}", "{address: 192.0.2.110}", 1))
        t.eq(subprocess.run([CAROUSELCTL, "-s", ctl, "reload"]).returncode, 0, f"{mode}: reload")
        before = stat("xdp.answered")
        out = dig(f"@{w.APP_IP4}", "www.example.test", "+short")
        t.check("192.0.2.110" in out and stat("xdp.answered") == before + 1,
                f"{mode}: the pool change is served by XDP on the next query")
        if mode == "generic":
            # kill -9: the program stays attached; a new carouseld replaces it
            proc.kill()
            proc.wait()
            proc = subprocess.Popen(["ip", "netns", "exec", w.app, CAROUSELD, "-c", cfg,
                                     "--dataplane", "xdp"], stdout=log, stderr=log)
            t0 = time.monotonic()
            ok = False
            # the old program answers from its map until the new daemon
            # replaces it: wait for the new daemon itself, then query
            while time.monotonic() - t0 < 10 and not ok:
                st = subprocess.run([CAROUSELCTL, "-s", ctl, "status"], capture_output=True,
                                    text=True).stdout
                ok = "dataplane xdp" in st and "192.0.2.1" in dig(
                    f"@{w.APP_IP4}", "www.example.test", "+short", "+time=1", "+tries=1")
                time.sleep(0 if ok else 0.05)
            link = subprocess.run(["ip", "netns", "exec", w.app, "ip", "-d", "link", "show",
                                   w.app_if], capture_output=True, text=True).stdout
            t.check(ok and link.count("prog/xdp") == 1,
                    f"{mode}: after kill -9 a restart serves again with one program attached "
                    f"({time.monotonic() - t0:.2f} s)")
    finally:
        rc = stop_process(proc, 10)
        t.eq(rc, 0, f"{mode}: clean exit")
        link = subprocess.run(["ip", "netns", "exec", w.app, "ip", "-d", "link", "show",
                               w.app_if], capture_output=True, text=True).stdout
        t.check("prog/xdp" not in link, f"{mode}: detached on SIGTERM")
        w.close()
        log.close()


run_mode("native")
run_mode("generic")
t.done()
