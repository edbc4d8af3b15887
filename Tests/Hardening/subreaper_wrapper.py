#!/usr/bin/env python3
"""Runs a program under a process that is itself a child subreaper (stdlib only).

usage: subreaper_wrapper.py PROGRAM [ARGS...]

For dinit's hardening tests: dinit running under another subreaper (a
container runtime's shim, systemd --user, another init). The wrapper calls
prctl(PR_SET_CHILD_SUBREAPER) through ctypes, starts PROGRAM as its child and
reaps every child it gets: PROGRAM, and any orphan reparented to it (there
should be none while PROGRAM, a subreaper itself, runs, and none after it
has exited, since dinit leaves nothing behind).

When PROGRAM has exited it waits up to 2 s for whatever else is still its
child, SIGKILLs what remains, and prints on stderr

    wrapper: program status S, adopted orphans reaped A, leftovers killed L

then exits with PROGRAM's status (exit code, or 128 + signal number).
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    pid = os.getpid()
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return found


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("wrapper: prctl failed: %s" % os.strerror(ctypes.get_errno()), file=sys.stderr)
        return 3
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)
    status = None
    adopted = 0
    while status is None:
        p, st = os.waitpid(-1, 0)
        if p == pid:
            code = os.waitstatus_to_exitcode(st)
            status = code if code >= 0 else 128 - code
        else:
            adopted += 1
    deadline = time.monotonic() + 2
    killed = 0
    while True:
        try:
            p, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if p > 0:
            adopted += 1
            continue
        if time.monotonic() > deadline:
            for c in children():
                try:
                    os.kill(c, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            deadline = float("inf")
        time.sleep(0.01)
    print("wrapper: program status %d, adopted orphans reaped %d, leftovers killed %d"
          % (status, adopted, killed), file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
