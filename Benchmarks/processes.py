"""Process plumbing of the harness: FIFOs, bounded reads, waiting through
pidfds, the watchdog, and tearing down everything a run started."""

import ctypes
import os
import select
import signal
import sys
import time

from procfs import descendants, proc_table, proc_table_state

MYPID = os.getpid()
PR_SET_CHILD_SUBREAPER = 36


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def now_ns():
    return time.perf_counter_ns()


class Watchdog(Exception):
    pass


def _alarm(signum, frame):
    raise Watchdog("run took too long (watchdog)")


def _terminate(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def set_subreaper():
    """Make the harness a subreaper so that anything a supervisor leaves
    behind is reparented to us and can be killed and reaped."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:  # pragma: no cover
        pass



def mkfifo(path):
    os.mkfifo(path, 0o600)
    # O_RDWR: we are a writer too, so reads block (no EOF) and opening
    # never blocks; children open it O_WRONLY/O_RDONLY and never block.
    return os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)


def read_bytes(fd, count, deadline_s):
    """Read until `count` bytes arrived or the timeout passed.
    Returns (bytes, [arrival time ns of each read])."""
    buf, times = b"", []
    end = time.monotonic() + deadline_s
    while len(buf) < count:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        t = now_ns()
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        buf += chunk
        times.extend([t] * len(chunk))
    return buf, times


def read_line(fd, deadline_s, pending):
    """Read one line from a non-blocking fd; `pending` is a bytearray of
    leftover bytes shared between calls."""
    end = time.monotonic() + deadline_s
    while b"\n" not in pending:
        left = end - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if r:
            try:
                pending += os.read(fd, 4096)
            except BlockingIOError:
                pass
    i = pending.index(b"\n")
    line = bytes(pending[:i])
    del pending[:i + 1]
    return line.decode()


def drain(fd):
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except BlockingIOError:
            return


def pidfd_wait(pid, timeout_s):
    """Wait until `pid` (not necessarily our child) exits; returns the
    monotonic ns at which that was seen, or None on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return now_ns()
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        if p.poll(int(timeout_s * 1000)):
            return now_ns()
        return None
    finally:
        os.close(fd)



def kill_tree(pid):
    """SIGKILL pid and all its descendants, then whatever got reparented to
    us (we are a subreaper), until nothing is left (bounded)."""
    for _ in range(50):
        table = proc_table()
        victims = set()
        if pid is not None and pid in table:
            victims.add(pid)
            victims.update(descendants(pid, table))
        victims.update(descendants(MYPID, table))
        victims.discard(MYPID)
        live = [p for p in victims if table[p][1] != "Z"] if victims else []
        if not live:
            reap_children()
            if not [p for p in descendants(MYPID) if proc_table_state(p) not in (None, "Z")]:
                return
        for p in live:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        reap_children()
        time.sleep(0.05)
    log("warning: processes still alive after cleanup")


def reap_children():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep_strays():
    kill_tree(None)
    reap_children()

