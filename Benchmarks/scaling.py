"""The scaling run: how a supervisor's cost grows with the number of
daemons it supervises.

For each supervisor (dinit, s6-svscan, runsvdir, supervisord) and each N
(`--scale-n`, default 1,10,100,1000; `--scale-dinit-n`, default 16000, for
dinit alone) one fresh run, the supervisor as PID 1 of a new PID namespace,
N daemons that exit at once on TERM (the standard sleeper: `sh -c 'printf R
> ready.fifo; exec sleep ...'`, dinit with `-d 0 -k 5`):

  start-up   from spawning the supervisor (through unshare) until all N
             daemons are running (the N-th byte on the ready FIFO)
  stop       from SIGTERM to PID 1 until the namespace is empty (PID 1's
             pidfd: as PID 1 it is gone only once everything else is)
  RSS        VmRSS of all supervisor processes together (runsv and
             s6-supervise included), after start-up; also their Pss (shared
             pages divided among the processes mapping them)
  wake-ups   their context switches over the idle window, per 10 s

Output: scaling.md (table), scaling.csv, scaling.svg (log-log, time per
daemon against N), scaling.json, in --out.
"""

import json
import os
import resource
import signal
import time

from processes import Watchdog, _alarm, log
from procfs import loadavg, pss_kb
from report import summarize, write_csv, write_scaling_markdown, write_scaling_svg
from scenarios import Run

SUPERVISORS = ("dinit", "dinit-swiftpm", "s6", "runit", "supervisord")

# The sleeper without its USR1 trap (nothing is forwarded here), short.
SHORT_SLEEPER = 'printf R > "$1"; exec sleep 1000000'

MEASURES = [
    # key, header, unit, digits
    ("startup_ms", "start-up", "ms", 1),
    ("startup_per_child_ms", "start-up / daemon", "ms", 3),
    ("stop_ms", "stop", "ms", 1),
    ("stop_per_child_ms", "stop / daemon", "ms", 3),
    ("rss_kb", "RSS", "kB", 0),
    ("pss_kb", "PSS", "kB", 0),
    ("sup_procs", "supervisor processes", "count", 0),
    ("idle_ctx_10s", "idle wake-ups", "per 10 s", 1),
]


def scale_one(sup, n, args):
    """One run of `sup` with n daemons: a dict of measure -> number or
    'error: ...'."""
    res = {}
    ready_timeout = 30 + n * 0.02 if sup.name != "supervisord" else 60 + n * 0.2
    stop_timeout = 30 + n * 0.02 if sup.name != "supervisord" else 60 + n * 0.1
    budget = ready_timeout + stop_timeout + args.settle + args.window + 60
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    run = Run(sup, "pid1", n, probe=False, tag="scale-" + sup.name)
    if sup.name.startswith("dinit"):
        # 16,000 daemons on one command line: the short form of the
        # sleeper (the FIFO relative to the run's directory, dinit's and
        # its children's working directory), and room for the arguments
        # (the kernel allows a quarter of RLIMIT_STACK).
        run.sleeper = lambda d: ["/bin/sh", "-c", SHORT_SLEEPER, "s", "ready.fifo"]
    stack = resource.getrlimit(resource.RLIMIT_STACK)
    want = 256 << 20
    if stack[0] != resource.RLIM_INFINITY and stack[0] < want and \
            (stack[1] == resource.RLIM_INFINITY or stack[1] >= want):
        resource.setrlimit(resource.RLIMIT_STACK, (want, stack[1]))
    try:
        run.start(ready_timeout)
        res["startup_ms"] = run.all_up_ns / 1e6
        res["startup_per_child_ms"] = res["startup_ms"] / n
        time.sleep(args.settle)
        rss, _, nproc = run.memory()
        res["rss_kb"], res["sup_procs"] = rss, nproc
        res["pss_kb"] = pss_kb(run.sup_pids())
        ctx, _ = run.measure_idle(args.window)
        res["idle_ctx_10s"] = ctx * 10.0 / args.window
        sd = run.shutdown(stop_timeout)
        if sd is None:
            res["stop_ms"] = "error: still running %.0f s after SIGTERM" % stop_timeout
        else:
            res["stop_ms"] = sd
            res["stop_per_child_ms"] = sd / n
    except (RuntimeError, OSError, Watchdog) as e:
        for key, _, _, _ in MEASURES:
            res.setdefault(key, "error: %s" % e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        run.cleanup()
        resource.setrlimit(resource.RLIMIT_STACK, stack)
    return res


def plan(sups, args):
    """(supervisor, n) pairs in run order: every supervisor at each N, side
    by side, then the dinit-only sizes."""
    chosen = [s for s in sups if s.name in SUPERVISORS]
    out = [(s, n) for n in args.scale_ns for s in chosen]
    out += [(s, n) for n in args.scale_dinit_ns for s in chosen
            if s.name.startswith("dinit") and n not in args.scale_ns]
    return out


def growth_per_1000(rows, name, key="rss_kb"):
    """RSS growth of `name` per 1,000 daemons in kB: the least-squares slope
    of RSS against N over its rows (N <= 1000, so that every supervisor is
    measured over the same sizes), and over all of dinit's sizes."""
    def slope(points):
        if len(points) < 2:
            return None
        mx = sum(x for x, _ in points) / len(points)
        my = sum(y for _, y in points) / len(points)
        den = sum((x - mx) ** 2 for x, _ in points)
        return None if den == 0 else 1000 * sum((x - mx) * (y - my) for x, y in points) / den
    pts = [(r["n"], r["summary"][key]["median"]) for r in rows
           if r["supervisor"] == name and r["summary"][key].get("median") is not None]
    return slope([p for p in pts if p[0] <= 1000]), slope(pts)


def run_scaling(sups, args, meta):
    rows = []
    todo = plan(sups, args)
    if not todo:
        log("scaling: none of %s selected" % ", ".join(SUPERVISORS))
        return 2
    for rep in range(args.repeats):
        for i, (s, n) in enumerate(todo):
            if rep == 0:
                rows.append({"supervisor": s.name, "mode": "pid1", "n": n,
                             "raw": {}, "notes": [], "load": []})
            row = rows[i]
            t = time.monotonic()
            log("[%d/%d] scaling %s N=%d (load %s)" % (rep + 1, args.repeats, s.name, n, loadavg()))
            res = scale_one(s, n, args)
            row["load"].append(loadavg())
            for key, v in res.items():
                row["raw"].setdefault(key, []).append(v)
            log("    %.1f s: %s" % (time.monotonic() - t, ", ".join(
                "%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
                for k, v in res.items())))
    for row in rows:
        row["summary"] = {key: summarize(row["raw"].get(key, ["n/a"]))
                          for key, _, _, _ in MEASURES}
    meta["load_after"] = loadavg()
    names = [s.name for s in sups if s.name in SUPERVISORS]
    meta["rss_growth_kb_per_1000"] = {name: growth_per_1000(rows, name) for name in names}
    meta["pss_growth_kb_per_1000"] = {name: growth_per_1000(rows, name, "pss_kb") for name in names}
    out = args.out
    write_scaling_markdown(os.path.join(out, "scaling.md"), rows, meta, MEASURES)
    write_csv(os.path.join(out, "scaling.csv"), rows, measures=MEASURES)
    write_scaling_svg(os.path.join(out, "scaling.svg"), rows, meta)
    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    with open(os.path.join(out, "scaling.md")) as f:
        print(f.read())
    log("wrote %s/scaling.{md,csv,svg,json}" % out)
    return 0
