#!/bin/sh
# Smoke test of the benchmark harness: quick mode, dinit alone (out/dinit,
# built by `make` if missing), and a small scaling run (dinit with 1, 10 and
# 100 daemons), then checks that every measure is present and sane. Needs root (unshare --pid). Prints "N passed, M failed" last and
# exits nonzero on any failure. Takes well under a minute.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$(mktemp -d /tmp/bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT INT TERM

if [ ! -x "$ROOT/out/dinit" ]; then
    (cd "$ROOT" && make out/dinit) >/dev/null || { echo "make failed"; echo "0 passed, 1 failed"; exit 1; }
fi

timeout 120 python3 "$HERE/bench.py" --quick --only dinit --dinit "$ROOT/out/dinit" \
    --out "$OUT" >"$OUT/stdout.txt" 2>"$OUT/stderr.txt"
rc=$?
# The scaling run, small: dinit with 1, 10 and 100 daemons.
mkdir -p "$OUT/scaling"
timeout 120 python3 "$HERE/bench.py" --scaling --quick --scale-n 1,10,100 --only dinit \
    --dinit "$ROOT/out/dinit" --out "$OUT/scaling" >"$OUT/scaling/stdout.txt" 2>"$OUT/scaling/stderr.txt"
src=$?

python3 - "$OUT" "$rc" "$src" <<'EOF'
import csv, json, os, sys
import xml.etree.ElementTree as ET

out, rc, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail))

check("bench.py exit status 0", rc == 0, "(rc=%d)" % rc)
if rc != 0:
    try:
        print(open(os.path.join(out, "stderr.txt")).read()[-2000:])
    except OSError:
        pass
for f in ("results.md", "results.csv", "results.svg", "results.json"):
    check("%s written" % f, os.path.isfile(os.path.join(out, f)))

try:
    ET.parse(os.path.join(out, "results.svg"))
    check("SVG is well-formed XML", True)
except Exception as e:
    check("SVG is well-formed XML", False, str(e))

rows = {}
try:
    with open(os.path.join(out, "results.csv")) as f:
        for r in csv.DictReader(f):
            rows[(r["supervisor"], r["mode"], r["measure"])] = r
except OSError:
    pass

# measure: (lowest allowed, highest allowed)
sane = {
    "idle_ctx": (0, 5),          # dinit sleeps in epoll_wait: ~0 per window
    "idle_ticks": (0, 2),
    "ctx_per_signal": (0.5, 20),
    "ctx_per_exit": (0.05, 20),
    "rss_kb": (1, 10 * 1024),     # > 0 and < 10 MB
    "anon_kb": (1, 10 * 1024),
    "bin_bytes": (1, 10 * 1024 * 1024),
    "storm_ms": (0.001, 60000),
    "storm_peak": (0, 100000),
    "sig_p50_us": (0.001, 1e6),
    "sig_p99_us": (0.001, 1e7),
    "shutdown_ms": (0.001, 10000),
    "startup_ms": (0.001, 10000),
}
for mode in ("pid1", "subreaper"):
    for measure, (lo, hi) in sane.items():
        name = "dinit %s %s" % (mode, measure)
        r = rows.get(("dinit", mode, measure))
        if r is None:
            check(name + " present", False, "(missing)")
            continue
        try:
            v = float(r["median"])
        except ValueError:
            check(name + " is a number", False, "(%r)" % r["text"])
            continue
        check(name + " in [%g, %g]" % (lo, hi), lo <= v <= hi, "(got %g)" % v)
    r = rows.get(("dinit", mode, "sig_p99_us"))
    r50 = rows.get(("dinit", mode, "sig_p50_us"))
    try:
        check("dinit %s p99 >= p50" % mode,
              float(r["median"]) >= float(r50["median"]))
    except (TypeError, ValueError):
        check("dinit %s p99 >= p50" % mode, False)

try:
    md = open(os.path.join(out, "results.md")).read()
    check("markdown table has both dinit rows",
          "| dinit |" in md and "| dinit (subreaper) |" in md)
except OSError:
    check("markdown table has both dinit rows", False)

# the scaling run
sout = os.path.join(out, "scaling")
check("bench.py --scaling exit status 0", src == 0, "(rc=%d)" % src)
if src != 0:
    try:
        print(open(os.path.join(sout, "stderr.txt")).read()[-2000:])
    except OSError:
        pass
for f in ("scaling.md", "scaling.csv", "scaling.svg", "scaling.json"):
    check("%s written" % f, os.path.isfile(os.path.join(sout, f)))
try:
    svg = ET.parse(os.path.join(sout, "scaling.svg"))
    lines = [e for e in svg.iter() if e.tag.endswith("polyline")]
    check("scaling SVG is well-formed, one line per panel", len(lines) == 2, "(%d lines)" % len(lines))
except Exception as e:
    check("scaling SVG is well-formed", False, str(e))
srows = {}
try:
    with open(os.path.join(sout, "scaling.csv")) as f:
        for r in csv.DictReader(f):
            srows[(r["n"], r["measure"])] = r
except OSError:
    pass
ssane = {
    "startup_ms": (0.01, 60000),
    "startup_per_child_ms": (0.001, 1000),
    "stop_ms": (0.01, 60000),
    "stop_per_child_ms": (0.001, 1000),
    "rss_kb": (1, 10 * 1024),
    "pss_kb": (1, 10 * 1024),
    "sup_procs": (1, 1),
    "idle_ctx_10s": (0, 50),
}
for n in ("1", "10", "100"):
    for measure, (lo, hi) in ssane.items():
        name = "scaling dinit N=%s %s" % (n, measure)
        r = srows.get((n, measure))
        try:
            v = float(r["median"])
        except (TypeError, ValueError):
            check(name + " is a number", False, "(%r)" % (r and r["text"]))
            continue
        check(name + " in [%g, %g]" % (lo, hi), lo <= v <= hi, "(got %g)" % v)
try:
    md = open(os.path.join(sout, "scaling.md")).read()
    check("scaling table has dinit at N=100 and the RSS growth line",
          "| dinit | 100 |" in md and "RSS growth per 1,000 daemons" in md)
except OSError:
    check("scaling table written", False)

# nothing left behind
left = []
for d in os.listdir("/proc"):
    if d.isdigit() and int(d) not in (os.getpid(), os.getppid()):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if b"dinit-bench-" in f.read():
                    left.append(d)
        except OSError:
            pass
check("no benchmark process left behind", not left, str(left))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
