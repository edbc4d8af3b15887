#!/usr/bin/env python3
"""Orphan bursts for dinit's hardening tests (stdlib only).

usage: orphan_burst.py SIZE [SIZE...]

Runs as a dinit daemon. For each SIZE, in order, it waits for a SIGUSR1
(forwarded by dinit), then makes SIZE orphans that all exit at once:

  * up to 20 middle processes (small shells) fork SIZE children in total;
    each child blocks reading a pipe and then exits;
  * the middles exit, so every child is orphaned and reparented to the
    nearest subreaper (dinit) or to PID 1 of the namespace (dinit);
  * this process closes the pipe's write end: all SIZE orphans exit at once.

After each burst it prints "burst SIZE done" on stdout. When all bursts
are done it prints "all done" and sleeps until a signal ends it (TERM from
dinit's orderly stop: exit 0).

The children are shell subshells that do nothing but read(2) and exit.
"""
import os
import signal
import subprocess
import sys


def burst(size):
    r, w = os.pipe()
    os.set_inheritable(r, True)
    middles = max(1, min(20, size // 500))
    share = [size // middles + (1 if i < size % middles else 0) for i in range(middles)]
    # Each middle is a small shell (dash forks far faster than Python, and
    # its job table stays short with 1,000 jobs per shell); each child is a
    # subshell blocked in `read` on the pipe.
    script = 'i=0; while [ $i -lt %d ]; do read x <&%d & i=$((i+1)); done; exit 0'
    mids = [subprocess.Popen(["/bin/sh", "-c", script % (n, r)], pass_fds=(r,),
                             stdin=subprocess.DEVNULL) for n in share]
    os.close(r)
    failed = sum(1 for m in mids if m.wait() != 0)
    # Every child is an orphan now, blocked on the pipe: release them all.
    os.close(w)
    return failed


def main():
    sizes = [int(a) for a in sys.argv[1:]]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    for size in sizes:
        signal.sigwait({signal.SIGUSR1})
        failed = burst(size)
        print("burst %d done%s" % (size, " (%d middles failed)" % failed if failed else ""), flush=True)
    print("all done", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
