#!/usr/bin/env python3
"""packaging_test.py -- `meson install` puts the binaries, example configs,
man pages and systemd units where operators look for them; the units pass
`systemd-analyze verify`; carouseld speaks sd_notify (READY=1 only once it
answers, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import CAROUSELD, Carouseld, Checks, skip


def build_dir():
    return os.path.dirname(CAROUSELD)


def installed(t, dest):
    files = set()
    for root, _, names in os.walk(dest):
        for n in names:
            files.add(os.path.relpath(os.path.join(root, n), dest))
    prefix = next((os.path.dirname(os.path.dirname(f)) for f in files
                   if f.endswith("sbin/carouseld")), None)
    t.check(prefix is not None, f"carouseld installed (under /{prefix})")
    if prefix is None:
        return None
    for f in ("sbin/carouseld", "sbin/carouselctl",
              "share/man/man8/carouseld.8", "share/man/man8/carouselctl.8",
              "share/man/man5/carousel.yaml.5",
              "lib/systemd/system/carouseld.service",
              "lib/systemd/system/carouseld-dpdk.service",
              "lib/systemd/system/carouseld-xdp.service",
              "lib/sysusers.d/carousel.conf",
              "share/doc/carousel/configuration.md"):
        t.check(os.path.join(prefix, f) in files, f"installed {f}")
    etc = [f for f in files if f.endswith("carousel/carousel.yaml")]
    t.check(len(etc) == 1, f"example config installed ({etc})")
    for f in etc:
        r = subprocess.run([CAROUSELD, "--check", os.path.join(dest, f)],
                           capture_output=True, text=True, timeout=30)
        t.eq(r.returncode, 0, f"the installed example config passes --check: {r.stdout}{r.stderr}")
    man = os.path.join(dest, prefix, "share/man/man8/carouseld.8")
    with open(man) as f:
        text = f.read()
    t.check("@" not in text.replace("\\fB@", ""), "man page placeholders are filled in")
    return os.path.join(dest, prefix)


def verify_units(t, dest, root):
    if not shutil.which("systemd-analyze"):
        print("note: systemd-analyze missing, units not verified")
        return
    # the units name their binaries by their installed paths; point them
    # into the staging directory so verify finds the executables
    out = tempfile.mkdtemp(prefix="carousel-units-")
    prefix = "/" + os.path.relpath(root, dest)
    units = []
    for u in ("carouseld.service", "carouseld-dpdk.service", "carouseld-xdp.service"):
        with open(os.path.join(root, "lib/systemd/system", u)) as f:
            text = f.read()
        t.check("Type=notify" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text,
                f"{u}: Type=notify, reload by SIGHUP")
        with open(os.path.join(out, u), "w") as f:
            f.write(text.replace(prefix + "/", root + "/"))
        units.append(os.path.join(out, u))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *units],
                       capture_output=True, text=True, timeout=60)
    t.eq((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify: the units are valid")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=40",
                        units[0]], capture_output=True, text=True, timeout=60)
    exposure = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
    t.eq(r.returncode, 0, f"carouseld.service exposure within 4.0: {exposure}")
    with open(units[0]) as f:
        text = f.read()
    t.check("User=carousel" in text and "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in text,
            "socket mode: its own user, CAP_NET_BIND_SERVICE only")
    shutil.rmtree(out, ignore_errors=True)


def notify(t):
    d = tempfile.mkdtemp(prefix="carousel-notify-")
    path = os.path.join(d, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)

    def wait_for(word, limit=10):
        deadline, seen = time.monotonic() + limit, []
        while time.monotonic() < deadline:
            try:
                msg = sock.recv(4096).decode()
            except socket.timeout:
                continue
            seen.append(msg)
            if word in msg.split("\n"):
                return msg
        print("notifications:", seen)
        return None

    srv = Carouseld()
    os.environ["NOTIFY_SOCKET"] = path
    try:
        srv.proc = subprocess.Popen([CAROUSELD, "-c", srv.config], stdout=srv.log,
                                    stderr=srv.log)
        msg = wait_for("READY=1")
        t.check(msg is not None, f"READY=1 sent at start ({msg!r})")
        try:
            r = srv.query("www.example.test.", "A", timeout=1)
            answered = len(r.answer) > 0
        except Exception:
            answered = False
        t.check(answered, "once READY=1 is sent carouseld answers at once")
        srv.proc.send_signal(signal.SIGHUP)
        msg = wait_for("RELOADING=1")
        t.check(msg is not None and "MONOTONIC_USEC=" in msg, "SIGHUP: RELOADING=1")
        msg = wait_for("READY=1")
        t.check(msg is not None and "reload ok" in msg, f"...then READY=1 ({msg!r})")
        srv.proc.send_signal(signal.SIGTERM)
        t.check(wait_for("STOPPING=1") is not None, "SIGTERM: STOPPING=1")
    finally:
        del os.environ["NOTIFY_SOCKET"]
        t.eq(srv.stop(), 0, "carouseld stopped cleanly")
        sock.close()
        shutil.rmtree(d, ignore_errors=True)


def main():
    t = Checks("packaging")
    if not shutil.which("meson"):
        skip("meson is not installed")
    dest = tempfile.mkdtemp(prefix="carousel-install-")
    try:
        r = subprocess.run(["meson", "install", "-C", build_dir(), "--destdir", dest,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True,
                           timeout=120)
        t.eq(r.returncode, 0, f"meson install --destdir {r.stderr[-500:]}")
        root = installed(t, dest)
        if root:
            verify_units(t, dest, root)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    with open(os.path.join(build_dir(), "meson-info", "intro-dependencies.json")) as f:
        has_systemd = '"libsystemd"' in f.read()
    if has_systemd:
        notify(t)
    else:
        print("note: built without libsystemd: no sd_notify to test")
    t.done()


if __name__ == "__main__":
    main()
