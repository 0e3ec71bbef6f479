#!/usr/bin/env python3
"""docs_test.py -- the config keys the loader accepts (control/config.c),
the ones docs/configuration.md documents and the ones carousel.yaml(5)
lists are the same set; the man pages render without groff warnings."""
import os
import re
import shutil
import subprocess

from harness import SRC, Checks


def code_keys():
    """Every string of a `...keys[] = {...}` table in config.c (and
    config_fleet.c, which config.c calls for keys:, anycast: and the
    secondary zones' keys)."""
    text = ""
    for name in ("config.c", "config_fleet.c"):
        with open(os.path.join(SRC, "control", name)) as f:
            text += f.read()
    keys = set()
    for m in re.finditer(r"keys\[\]\s*=\s*\{(.*?)\};", text, re.S):
        keys.update(re.findall(r'"([a-z0-9-]+)"', m.group(1)))
    return keys


def doc_keys():
    """First-column `keys` of every `| key | ...` table."""
    keys, in_table = set(), False
    with open(os.path.join(SRC, "docs", "configuration.md")) as f:
        for line in f:
            if line.startswith("| key |"):
                in_table = True
                continue
            if not line.startswith("|"):
                in_table = False
                continue
            if in_table and not line.startswith("|---"):
                keys.update(re.findall(r"`([a-z0-9-]+)`", line.split("|")[1]))
    return keys


def man_keys():
    """`.TP` then `.B key` entries of carousel.yaml(5), FILES excepted."""
    with open(os.path.join(SRC, "man", "carousel.yaml.5")) as f:
        text = f.read()
    text = text[:text.index(".SH FILES")]
    return set(re.findall(r"^\.TP\n\.B ([a-z0-9-]+)$", text, re.M))


def main():
    t = Checks("docs")
    code, docs, man = code_keys(), doc_keys(), man_keys()
    t.check(len(code) > 60, f"config.c key tables found ({len(code)} keys)")
    t.eq(sorted(code - docs), [], "every key config.c accepts is in docs/configuration.md")
    t.eq(sorted(docs - code), [], "every key docs/configuration.md names is accepted")
    t.eq(sorted(code - man), [], "every key config.c accepts is in carousel.yaml(5)")
    t.eq(sorted(man - code), [], "every key carousel.yaml(5) names is accepted")
    if shutil.which("groff"):
        for page in ("carousel.yaml.5", "carouseld.8", "carouselctl.8"):
            r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                                os.path.join(SRC, "man", page)],
                               capture_output=True, text=True, timeout=30)
            t.eq((r.returncode, r.stderr), (0, ""), f"{page} renders without warnings")
    else:
        print("note: groff is not installed; man pages not rendered")
    t.done()


if __name__ == "__main__":
    main()
