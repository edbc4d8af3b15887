#!/usr/bin/env python3
"""Benchmark harness: what dinit costs, side by side with the supervisors
people use today (tini, tini-static, dumb-init, catatonit, supervisord,
runit, s6, and a plain `sh` script with background jobs and `wait`).

Standard library only. Run as root (it uses `unshare --pid --fork
--mount-proc` and installs the peers with apt-get). See Benchmarks/README.md.

Every supervisor supervises the same workload, N children that sleep, either
as PID 1 of a fresh PID namespace ("pid1") or, where it can, as child
subreaper outside one ("subreaper"). Two fresh runs per supervisor and repeat:

  run A (N sleepers):  start-up latency, memory, idle wake-ups, shutdown
  run B (one probe child + N-1 sleepers):  wake-ups per forwarded signal and
        signal-forwarding latency, wake-ups per reaped child exit, orphan
        storm, shutdown (second sample)

Every wait is bounded, every run has a watchdog, and every process a run
started is killed and reaped before the next run starts.

`--scaling` runs the scaling benchmark instead (scaling.py): N daemons
under dinit, s6-svscan, runsvdir and supervisord, start-up and stop time,
memory and idle wake-ups against N.

The modules, one concern each: peers.py (the supervisors and how each is
set up), scenarios.py and scaling.py (what is run and measured), procfs.py
(what is read from /proc), processes.py (process plumbing and teardown),
report.py (tables and charts). This file is the command line.
"""

import argparse
import json
import os
import shlex
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import HERE, ROOT, all_supervisors, setup_peers  # noqa: E402
from procfs import loadavg, machine_description  # noqa: E402
from processes import _terminate, log, set_subreaper, sweep_strays  # noqa: E402
from report import (EXTRA, MEASURES, summarize, write_csv,  # noqa: E402
                    write_markdown, write_svg)
from scenarios import baseline_startup, bench_one  # noqa: E402
import scaling  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", default="3",
                   help="children per supervisor; comma list allowed (1,3,10)")
    p.add_argument("--k", type=int, default=1000,
                   help="signals and child exits per event test (1000)")
    p.add_argument("--m", "--orphans", dest="m", type=int, default=10000,
                   help="orphans in the storm (10000)")
    p.add_argument("--window", type=float, default=10.0,
                   help="idle window in seconds (10)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="",
                   help="comma list of supervisors (dinit,dinit-swiftpm,tini,"
                   "tini-static,dumb-init,catatonit,supervisord,runit,s6,sh)")
    p.add_argument("--modes", default="pid1,subreaper",
                   help="pid1 and/or subreaper (default both)")
    p.add_argument("--quick", action="store_true",
                   help="K=100, M=500, 2 s window, 1 repeat")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--setup", action="store_true",
                   help="apt-get install the peers (done anyway when missing)")
    p.add_argument("--no-setup", action="store_true",
                   help="never run apt-get; missing peers become n/a rows")
    p.add_argument("--dinit", default=os.path.join(ROOT, "out/dinit"),
                   help="the dinit binary (default out/dinit, built by make)")
    p.add_argument("--dinit-swiftpm", default="",
                   help="SwiftPM dinit (default .build-bench/release/dinit if "
                   "present)")
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds after start-up before measuring")
    p.add_argument("--ready-timeout", type=float, default=20.0)
    p.add_argument("--stop-timeout", type=float, default=20.0)
    p.add_argument("--scaling", action="store_true",
                   help="the scaling run instead (scaling.py): dinit, s6, "
                   "runit, supervisord as PID 1 with --scale-n daemons")
    p.add_argument("--scale-n", default=None,
                   help="daemons per scaling run (1,10,100,1000; --quick: 1,10)")
    p.add_argument("--scale-dinit-n", default=None,
                   help="extra sizes for dinit alone (16000; --quick: none)")
    a = p.parse_args(argv)
    if a.quick:
        if "--k" not in argv:
            a.k = 100
        if "--m" not in argv and "--orphans" not in argv:
            a.m = 500
        if "--window" not in argv:
            a.window = 2.0
        if "--repeats" not in argv:
            a.repeats = 1
        if "--settle" not in argv:
            a.settle = 0.3
        if a.scaling and "--window" not in argv:
            a.window = 1.0
    try:
        a.ns = [int(x) for x in a.n.split(",") if x.strip()]
    except ValueError:
        p.error("--n takes integers")
    if not a.ns or min(a.ns) < 1 or max(a.ns) > 200:
        p.error("--n must be between 1 and 200")
    if a.k < 1 or a.m < 1 or a.window <= 0 or a.repeats < 1:
        p.error("--k, --m, --window and --repeats must be positive")
    try:
        a.scale_ns = [int(x) for x in (a.scale_n or ("1,10" if a.quick else "1,10,100,1000")).split(",") if x.strip()]
        dn = a.scale_dinit_n if a.scale_dinit_n is not None else ("" if a.quick else "16000")
        a.scale_dinit_ns = [int(x) for x in dn.split(",") if x.strip()]
    except ValueError:
        p.error("--scale-n and --scale-dinit-n take integers")
    if min(a.scale_ns + a.scale_dinit_ns or [1]) < 1 or not a.scale_ns:
        p.error("--scale-n: positive integers")
    a.modes = [m for m in a.modes.split(",") if m]
    if set(a.modes) - {"pid1", "subreaper"}:
        p.error("--modes: pid1, subreaper")
    return a


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("bench.py must run as root (unshare --pid, apt-get)")
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    set_subreaper()
    sups = all_supervisors(args)
    only = [s for s in args.only.split(",") if s]
    if only:
        unknown = set(only) - {s.name for s in sups}
        if unknown:
            log("unknown supervisor(s): %s" % ", ".join(sorted(unknown)))
            return 2
        sups = [s for s in sups if s.name in only]
    if args.scaling:
        sups = [s for s in sups if s.name in scaling.SUPERVISORS]
    peers = [s for s in sups if not s.name.startswith("dinit")]
    if (args.setup or peers) and not args.no_setup:
        setup_peers(args.setup)
    os.makedirs(args.out, exist_ok=True)
    meta = {"machine": machine_description(), "load_before": loadavg(),
            "command": "python3 Benchmarks/bench.py " + " ".join(
                shlex.quote(a) for a in argv),
            "n": args.ns, "k": args.k, "m": args.m, "window": args.window,
            "repeats": args.repeats, "baseline": {}, "skipped": []}
    log("machine: %s; load %s" % (meta["machine"], meta["load_before"]))
    if args.scaling:
        meta.update(scale_n=args.scale_ns, scale_dinit_n=args.scale_dinit_ns)
        avail = []
        for s in sups:
            ok, missing = s.available()
            if ok:
                avail.append(s)
            else:
                meta["skipped"].append("%s: not installed (%s)" % (s.name, ", ".join(missing)))
        try:
            return scaling.run_scaling(avail, args, meta)
        except KeyboardInterrupt:
            log("interrupted; cleaning up")
            return 130
        finally:
            sweep_strays()
    plan = []
    for s in sups:
        ok, missing = s.available()
        if not ok:
            msg = "%s: not installed (%s)" % (s.name, ", ".join(missing))
            if s.name == "dinit-swiftpm" and not only:
                msg += "; build it with `swift build -c release --scratch-path .build-bench`"
            meta["skipped"].append(msg)
            log("skip " + msg)
            continue
        for mode in args.modes:
            if mode == "subreaper" and mode not in s.modes:
                continue
            for n in args.ns:
                plan.append((s, mode, n))
    noreap = sorted({s.name for s in sups if "subreaper" not in s.modes})
    if "subreaper" in args.modes and noreap:
        meta["skipped"].append("no subreaper row (they do not register as "
                               "child subreaper): " + ", ".join(noreap))
    rows = []
    try:
        for mode in args.modes:
            if any(p[1] == mode for p in plan):
                meta["baseline"][mode] = statistics.median(
                    [v for v in (baseline_startup(mode, args) for _ in range(3))
                     if v is not None] or [0.0])
        for rep in range(args.repeats):
            for i, (s, mode, n) in enumerate(plan):
                if rep == 0:
                    rows.append({"supervisor": s.name, "mode": mode, "n": n,
                                 "raw": {}, "notes": [], "load": []})
                row = rows[i]
                t = time.monotonic()
                log("[%d/%d] %s %s N=%d (load %s)" % (
                    rep + 1, args.repeats, s.name, mode, n, loadavg()))
                res = bench_one(s, mode, n, args)
                row["load"].append(loadavg())
                for key, v in res.items():
                    if key.endswith("_note"):
                        if v not in row["notes"]:
                            row["notes"].append(v)
                        continue
                    row["raw"].setdefault(key, []).append(v)
                log("    %.1f s: %s" % (time.monotonic() - t, ", ".join(
                    "%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
                    for k, v in res.items())))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        sweep_strays()
        return 130
    finally:
        sweep_strays()
    for row in rows:
        row["summary"] = {key: summarize(row["raw"].get(key, ["n/a"]))
                          for key, _, _, _ in MEASURES + EXTRA}
        for s in sups:
            if s.name == row["supervisor"] and s.note:
                row["notes"].insert(0, s.note + ", " + s.linkage())
    meta["load_after"] = loadavg()
    multi_n = len(args.ns) > 1
    write_markdown(os.path.join(args.out, "results.md"), rows, meta, multi_n)
    write_csv(os.path.join(args.out, "results.csv"), rows, multi_n)
    write_svg(os.path.join(args.out, "results.svg"), rows, multi_n, meta)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": [{k: v for k, v in r.items()}
                                          for r in rows]}, f, indent=1)
    with open(os.path.join(args.out, "results.md")) as f:
        print(f.read())
    log("wrote %s/results.{md,csv,svg,json}" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
