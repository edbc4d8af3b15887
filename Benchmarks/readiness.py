#!/usr/bin/env python3
"""Start-up with readiness: three daemons that each become ready 100 ms after
they start, under dinit with `:notify:` (they send READY=1), with the default
`-d 1`, and with `-d 0`.

Prints, per mode: the time from launching dinit until the last daemon is
ready (median, min, max over the runs), and how often a daemon was started
before its predecessor was ready (out of 2 pairs per run). A daemon's start
is when dinit's "Started" line for it arrives (read from dinit's stderr as
it is written); its readiness is when it says so itself (a monotonic clock
reading it logs 100 ms after its own start, just before sending READY=1).

    python3 Benchmarks/readiness.py [--runs N] [--dinit PATH]

PATH defaults to $DINIT_BIN, else out/dinit (build it with `make`).
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DAEMON = r'''
import os, socket, sys, time
start = time.monotonic()
name, log = sys.argv[1], sys.argv[2]
with open(log, 'a') as f: f.write('%s start %.6f\n' % (name, start))
time.sleep(max(0.0, start + 0.1 - time.monotonic()))
ready = time.monotonic()
with open(log, 'a') as f: f.write('%s ready %.6f\n' % (name, ready))
addr = os.environ.get('NOTIFY_SOCKET')
if addr:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b'READY=1', '\0' + addr[1:] if addr.startswith('@') else addr)
signal = __import__('signal')
while True: signal.pause()
'''

MODES = [
    (":notify:", [], ":notify:"),
    ("-d 1 (default)", [], ""),
    ("-d 0", ["-d", "0"], ""),
]


def one_run(dinit, daemon, options, prefix, workdir):
    log = os.path.join(workdir, "events.log")
    if os.path.exists(log):
        os.unlink(log)
    argv = [dinit] + options
    for i in range(3):
        argv += ["--", prefix + sys.executable, "-S", "-E", daemon, "d%d" % i, log]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = []

    def read_log():
        for line in p.stderr:
            if line.startswith(b"dinit: Started "):
                started.append(time.monotonic())
    reader = threading.Thread(target=read_log)
    reader.start()
    events = {}
    deadline = t0 + 30
    while time.monotonic() < deadline:
        try:
            with open(log) as f:
                for line in f:
                    name, kind, t = line.split()
                    events[(name, kind)] = float(t)
        except FileNotFoundError:
            pass
        if all(("d%d" % i, "ready") in events for i in range(3)):
            break
        time.sleep(0.002)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    reader.join()
    last_ready = max(events[("d%d" % i, "ready")] for i in range(3)) - t0
    early = sum(1 for i in range(1, 3) if started[i] < events[("d%d" % (i - 1), "ready")])
    return last_ready, early


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--dinit", default=os.environ.get("DINIT_BIN") or "out/dinit")
    args = ap.parse_args()
    if not os.access(args.dinit, os.X_OK):
        sys.exit("no dinit at %s (run make, or pass --dinit)" % args.dinit)
    with tempfile.TemporaryDirectory(prefix="dinit-readiness-") as workdir:
        daemon = os.path.join(workdir, "daemon.py")
        with open(daemon, "w") as f:
            f.write(DAEMON)
        print("three daemons, each ready 100 ms after it starts; %d runs per mode; %s" % (args.runs, args.dinit))
        print("| mode | last daemon ready after (median, min-max) | started before its predecessor was ready |")
        print("| --- | --- | --- |")
        for label, options, prefix in MODES:
            times, early = [], 0
            for _ in range(args.runs):
                t, e = one_run(args.dinit, daemon, options, prefix, workdir)
                times.append(t)
                early += e
            print("| `%s` | %.3f s (%.3f-%.3f) | %d of %d |" % (
                label, statistics.median(times), min(times), max(times), early, 2 * args.runs))


if __name__ == "__main__":
    main()
