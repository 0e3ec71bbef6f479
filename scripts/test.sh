#!/bin/sh
# test.sh -- install what is missing, build twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and run the whole test
# suite in both, then run every libFuzzer target for a short, bounded time.
# Ends with one line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1

run_suite() { # build-dir, meson options...
	dir=$1
	shift
	if [ ! -d "$dir" ]; then
		meson setup "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || return 1
	meson test -C "$dir" --print-errorlogs --num-processes 2
	return 0
}

status=0
run_suite build || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug ||
	status=1

# libFuzzer targets (clang), each for FUZZ_SECONDS on its checked-in corpus
CC=clang run_suite build-fuzz -Dfuzz=true -Ddpdk=disabled -Dxdp=disabled \
	-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz_seconds="${FUZZ_SECONDS:-20}" ||
	status=1

/usr/bin/python3 - build build-asan build-fuzz <<'PY'
import json, os, sys
p = f = s = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        f += 1
        print(f"{d}: no test log (build failed)")
        continue
    for line in open(log):
        if not line.strip():
            continue
        try:
            r = json.loads(line)["result"]
        except (ValueError, KeyError):
            f += 1
            print(f"{d}: a line of the test log does not parse: {line[:80]!r}")
            continue
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
print(f"{p} passed, {f} failed, {s} skipped")
sys.exit(1 if f else 0)
PY
[ $? -eq 0 ] && [ $status -eq 0 ]
