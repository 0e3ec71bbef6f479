#!/usr/bin/env python3
"""docs_test.py -- the config keys the loader accepts (the schema rows of
control/config.c, and config_fleet.c's key lists), the ones
docs/configuration.md documents and the ones carousel.yaml(5) lists are
the same set; every default a row declares is the one the docs give; the
man pages render without groff warnings."""
import os
import re
import shutil
import subprocess

from harness import SRC, Checks


def code_rows():
    """{key: set of defaults} from the schema: every `{.name = "key", ...
    .def = "default"}` row of config.c, and the strings of config_fleet.c's
    `...keys[] = {...}` lists (keys:, anycast: and the secondary zones'
    keys, read as nodes; no defaults there)."""
    rows = {}
    with open(os.path.join(SRC, "control", "config.c")) as f:
        text = f.read()
    for name, rest in re.findall(r'\.name = "([a-z0-9-]+)"([^{}]*)\}', text):
        d = re.search(r'\.def = "([^"]*)"', rest)
        rows.setdefault(name, set()).update([d.group(1)] if d else [])
    with open(os.path.join(SRC, "control", "config_fleet.c")) as f:
        text = f.read()
    for m in re.finditer(r"keys\[\]\s*=\s*\{(.*?)\};", text, re.S):
        for name in re.findall(r'"([a-z0-9-]+)"', m.group(1)):
            rows.setdefault(name, set())
    return rows


def doc_keys():
    """First-column `keys` of every `| key | ...` table, with the default
    column's cells where the table has one ({key: [cells]})."""
    keys, header = {}, None
    with open(os.path.join(SRC, "docs", "configuration.md")) as f:
        for line in f:
            cells = [c.strip() for c in line.split("|")]
            if line.startswith("| key |"):
                header = cells
                continue
            if not line.startswith("|"):
                header = None
                continue
            if header and not line.startswith("|---"):
                default = cells[header.index("default")] if "default" in header else ""
                # `check.interval` documents the key interval of check:
                for key in re.findall(r"`([a-z0-9.-]+)`", cells[1]):
                    keys.setdefault(key.split(".")[-1], []).append(default)
    return keys


def man_keys():
    """`.TP` then `.B key` entries of carousel.yaml(5), FILES excepted."""
    with open(os.path.join(SRC, "man", "carousel.yaml.5")) as f:
        text = f.read()
    text = text[:text.index(".SH FILES")]
    return set(re.findall(r"^\.TP\n\.B ([a-z0-9-]+)$", text, re.M))


def main():
    t = Checks("docs")
    rows, doc_rows, man = code_rows(), doc_keys(), man_keys()
    code, docs = set(rows), set(doc_rows)
    t.check(len(code) > 60, f"config.c schema rows found ({len(code)} keys)")
    t.eq(sorted(code - docs), [], "every key config.c accepts is in docs/configuration.md")
    t.eq(sorted(docs - code), [], "every key docs/configuration.md names is accepted")
    t.eq(sorted(code - man), [], "every key config.c accepts is in carousel.yaml(5)")
    t.eq(sorted(man - code), [], "every key carousel.yaml(5) names is accepted")
    undocumented = sorted(f"{k}: {d}" for k, defs in rows.items() for d in defs
                          if not any(f"`{d}`" in cell for cell in doc_rows.get(k, [])))
    t.eq(undocumented, [], "every default in the schema is the one configuration.md gives")
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
