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
"""

import argparse
import csv
import ctypes
import errno
import html
import json
import os
import platform
import resource
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = os.path.realpath(sys.executable)
CLK_TCK = os.sysconf("SC_CLK_TCK")
MYPID = os.getpid()
PR_SET_CHILD_SUBREAPER = 36
APT_PACKAGES = ["tini", "dumb-init", "catatonit", "supervisor", "runit", "s6"]

# ---------------------------------------------------------------- utilities


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


def proc_table():
    """{pid: (ppid, state, comm)} for every process, from /proc/*/stat."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read()
        except OSError:
            continue
        r = s.rfind(b")")
        fields = s[r + 2:].split()
        if len(fields) < 2:
            continue
        out[int(d)] = (int(fields[1]), fields[0].decode(),
                       s[s.find(b"(") + 1:r].decode(errors="replace"))
    return out


def descendants(root, table=None):
    table = proc_table() if table is None else table
    kids = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    seen = {root}
    while todo:
        p = todo.pop()
        for c in kids.get(p, ()):
            if c not in seen:
                seen.add(c)
                out.append(c)
                todo.append(c)
    return out


def read_status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except OSError:
        pass
    return d


def proc_counters(pid):
    """(context switches summed over threads, utime+stime ticks)."""
    ctx = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        ctx += int(line.split()[1])
        except OSError:
            pass
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
        fields = s[s.rfind(b")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return ctx, ticks


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    st = proc_table_state(pid)
    return st is not None and st != "Z"


def proc_table_state(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
        return s[s.rfind(b")") + 2:].split()[0].decode()
    except (OSError, IndexError):
        return None


def is_static(path):
    """'static', 'dynamic' or 'script' (an ELF without PT_INTERP is static)."""
    try:
        with open(path, "rb") as f:
            h = f.read(64)
            if h[:2] == b"#!":
                return "script"
            if h[:4] != b"\x7fELF" or h[4] != 2:
                return "?"
            phoff = int.from_bytes(h[32:40], "little")
            phentsize = int.from_bytes(h[54:56], "little")
            phnum = int.from_bytes(h[56:58], "little")
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
        for i in range(phnum):
            if int.from_bytes(ph[i * phentsize:i * phentsize + 4], "little") == 3:
                return "dynamic"
        return "static"
    except OSError:
        return "?"


def dir_size(path):
    total = 0
    for dp, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dp, f)).st_size
            except OSError:
                pass
    return total


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


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------- the workload

AGENT = r'''
import os, signal, sys
d = sys.argv[1]
ready = os.open(d + "/ready.fifo", os.O_WRONLY)
sigw = os.open(d + "/sig.fifo", os.O_WRONLY)
ack = os.open(d + "/ack.fifo", os.O_WRONLY)
ctl = os.open(d + "/ctl.fifo", os.O_RDWR)

def on_usr1(signum, frame):
    os.write(sigw, b"S")

signal.signal(signal.SIGUSR1, on_usr1)
signal.pthread_sigmask(signal.SIG_SETMASK, [])

def reap(pid):
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            pass

os.write(ready, b"R")
buf = b""
while True:
    chunk = os.read(ctl, 256)
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == b"E":
            # K child exits, one after the other: each grandchild is
            # orphaned and exits, so the reaper (the supervisor) reaps it.
            k = int(cmd[1])
            for i in range(k):
                p = os.fork()
                if p == 0:
                    try:
                        if os.fork() == 0:
                            os._exit(0)
                    finally:
                        os._exit(0)
                reap(p)
            os.write(ack, b"E\n")
        elif cmd[0] == b"S":
            # Orphan storm: M grandchildren block on a FIFO the harness
            # holds open; their parent exits so they are orphaned; when
            # the harness closes the FIFO they all see EOF and exit at once.
            m, path = int(cmd[1]), cmd[2].decode()
            p = os.fork()
            if p == 0:
                made = 0
                try:
                    fd = os.open(path, os.O_RDONLY)
                    for i in range(m):
                        try:
                            q = os.fork()
                        except OSError:
                            break
                        if q == 0:
                            try:
                                os.read(fd, 1)
                            finally:
                                os._exit(0)
                        made += 1
                    os.write(ack, b"A %d\n" % made)
                finally:
                    os._exit(0)
            reap(p)
            os.write(ack, b"D\n")
'''

# A sleeper: ignores USR1 (so forwarded signals do not kill it), dies at
# once on TERM, and says it is running by writing one byte to the FIFO.
SLEEPER = 'trap "" USR1; echo R > "$1"; exec sleep 1000000'


def sleeper_argv(d):
    return ["/bin/sh", "-c", SLEEPER, "sleeper", d + "/ready.fifo"]


def agent_argv(d):
    return [PY, "-S", "-E", d + "/agent.py", d]


# ------------------------------------------------------------ supervisors


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def single_child_script(d, children):
    """The shell script a single-child init runs: starts the children in
    the background and waits (it ignores USR1 itself)."""
    lines = ["#!/bin/sh", "trap '' USR1"]
    lines += [shlex.join(c) + " &" for c in children]
    lines += ["wait", ""]
    write_exec(d + "/workload.sh", "\n".join(lines))
    return ["/bin/sh", d + "/workload.sh"]


def sh_supervisor_script(d, children):
    """The Docker-docs approach: background jobs, `wait`, traps that
    forward TERM/INT (and USR1, so it can take part in the signal test)."""
    lines = ["#!/bin/sh", "pids="]
    lines += ["trap 'kill -%s $pids 2>/dev/null' %s" % (s, s)
              for s in ("TERM", "INT", "USR1")]
    lines += [shlex.join(c) + ' & pids="$pids $!"' for c in children]
    lines += ["while :; do", "  wait", "  [ $? -gt 128 ] || break", "done", ""]
    write_exec(d + "/sup.sh", "\n".join(lines))
    return ["/bin/sh", d + "/sup.sh"]


class Sup:
    def __init__(self, name, bins, build, modes=("pid1",), helpers=(),
                 no_signal=None, note="", binlabel=None):
        self.name = name
        self.bins = bins            # executables whose size we add up
        self.build = build          # (dir, children, mode) -> argv
        self.modes = modes
        self.helpers = set(helpers)  # comm of helper processes (runsv)
        self.no_signal = no_signal  # reason it does not forward signals
        self.note = note
        self.binlabel = binlabel

    def available(self):
        missing = [b for b in self.bins if not os.path.exists(b)]
        return (not missing), missing

    def binary_size(self):
        total = 0
        for b in self.bins:
            if os.path.isdir(b):
                total += dir_size(b)
            else:
                total += os.path.getsize(os.path.realpath(b))
        return total

    def linkage(self):
        if self.binlabel:
            return self.binlabel
        kinds = sorted({is_static(os.path.realpath(b)) for b in self.bins})
        return "+".join(kinds)


def dinit_build(binary):
    def build(d, children, mode):
        argv = [binary, "-d", "0"]
        for c in children:
            argv += ["--"] + c
        return argv
    return build


def tini_build(binary):
    def build(d, children, mode):
        flags = ["-g"] + (["-s"] if mode == "subreaper" else [])
        return [binary] + flags + ["--"] + single_child_script(d, children)
    return build


def dumb_init_build(d, children, mode):
    return ["/usr/bin/dumb-init"] + single_child_script(d, children)


def catatonit_build(d, children, mode):
    return ["/usr/bin/catatonit", "-g", "--"] + single_child_script(d, children)


def supervisord_build(d, children, mode):
    conf = ["[supervisord]", "nodaemon=true", "logfile=%s/supervisord.log" % d,
            "pidfile=%s/supervisord.pid" % d, "childlogdir=%s" % d,
            "loglevel=warn"]
    if os.geteuid() == 0:
        conf.append("user=root")
    for i, c in enumerate(children):
        conf += ["", "[program:c%d]" % i, "command=%s" % shlex.join(c),
                 "startsecs=0", "autorestart=true", "stopsignal=TERM",
                 "stopwaitsecs=5", "stdout_logfile=NONE", "stderr_logfile=NONE"]
    with open(d + "/supervisord.conf", "w") as f:
        f.write("\n".join(conf) + "\n")
    return ["/usr/bin/supervisord", "-n", "-c", d + "/supervisord.conf"]


def service_dirs(d, children):
    sv = d + "/service"
    os.mkdir(sv)
    for i, c in enumerate(children):
        os.mkdir("%s/c%d" % (sv, i))
        write_exec("%s/c%d/run" % (sv, i),
                   "#!/bin/sh\nexec %s\n" % shlex.join(c))
    return sv


def runit_build(d, children, mode):
    return ["/usr/bin/runsvdir", service_dirs(d, children)]


def s6_build(d, children, mode):
    return ["/usr/bin/s6-svscan", service_dirs(d, children)]


def sh_build(d, children, mode):
    return sh_supervisor_script(d, children)


def supervisord_bins():
    pkg = "/usr/lib/python3/dist-packages/supervisor"
    return ["/usr/bin/supervisord", "/usr/bin/python3", pkg]


def all_supervisors(args):
    dinit = os.path.abspath(args.dinit)
    sups = [Sup("dinit", [dinit], dinit_build(dinit),
                modes=("pid1", "subreaper"), note="`dinit -d 0 -- c1 -- c2 ...`")]
    spm = os.path.abspath(args.dinit_swiftpm) if args.dinit_swiftpm else \
        os.path.join(ROOT, ".build-bench/release/dinit")
    sups.append(Sup("dinit-swiftpm", [spm], dinit_build(spm),
                    modes=("pid1", "subreaper"),
                    note="SwiftPM release build (glibc)"))
    for t in ("tini", "tini-static"):
        sups.append(Sup(t, ["/usr/bin/" + t], tini_build("/usr/bin/" + t),
                        modes=("pid1", "subreaper"),
                        note="`%s -g [-s] -- sh workload.sh`" % t))
    sups.append(Sup("dumb-init", ["/usr/bin/dumb-init"], dumb_init_build,
                    note="`dumb-init sh workload.sh` (signals to the group)"))
    sups.append(Sup("catatonit", ["/usr/bin/catatonit"], catatonit_build,
                    modes=("pid1", "subreaper"),
                    note="`catatonit -g -- sh workload.sh`"))
    sups.append(Sup("supervisord", supervisord_bins(), supervisord_build,
                    no_signal="n/a: supervisord does not forward signals "
                    "(supervisorctl signal does)",
                    note="python3 + supervisor package", binlabel="python"))
    sups.append(Sup("runit", ["/usr/bin/runsvdir", "/usr/bin/runsv"],
                    runit_build, helpers=("runsv",),
                    no_signal="n/a: runsvdir does not forward signals "
                    "(sv sends them)",
                    note="runsvdir + one runsv per child"))
    sups.append(Sup("s6", ["/usr/bin/s6-svscan", "/usr/bin/s6-supervise"],
                    s6_build, helpers=("s6-supervise",),
                    no_signal="n/a: s6-svscan does not forward signals "
                    "(s6-svc sends them)",
                    note="s6-svscan + one s6-supervise per child"))
    sups.append(Sup("sh", [os.path.realpath("/bin/sh")], sh_build,
                    note="`sh` script: jobs + `wait` + traps"))
    return sups


NO_SUBREAPER = {
    "dumb-init": "no subreaper mode",
    "supervisord": "no subreaper mode",
    "runit": "no subreaper mode",
    "s6": "no subreaper mode",
    "sh": "no subreaper mode",
}

# ------------------------------------------------------------------ a run


class Run:
    """One supervisor process tree, started fresh, always torn down."""

    def __init__(self, sup, mode, n, probe, tag):
        self.sup, self.mode, self.n, self.probe = sup, mode, n, probe
        self.dir = tempfile.mkdtemp(prefix="dinit-bench-%s-" % tag)
        self.proc = None
        self.root = None
        self.fds = []
        self.ctl_pending = bytearray()

    # -- setup
    def start(self, ready_timeout):
        d = self.dir
        self.ready = mkfifo(d + "/ready.fifo")
        self.fds.append(self.ready)
        children = []
        if self.probe:
            with open(d + "/agent.py", "w") as f:
                f.write(AGENT)
            for name in ("sig", "ack", "ctl"):
                fd = mkfifo("%s/%s.fifo" % (d, name))
                setattr(self, name, fd)
                self.fds.append(fd)
            children.append(agent_argv(d))
        while len(children) < self.n:
            children.append(sleeper_argv(d))
        argv = self.sup.build(d, children, self.mode)
        if self.mode == "pid1":
            argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
        self.logf = open(d + "/supervisor.log", "wb")
        t0 = now_ns()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     cwd=d, start_new_session=True)
        buf, times = read_bytes(self.ready, self.n, ready_timeout)
        if len(buf) < self.n:
            raise RuntimeError("only %d of %d children came up within %.0f s "
                               "(log: %s)" % (len(buf), self.n, ready_timeout,
                                              self.tail_log()))
        self.startup_ns = times[0] - t0
        self.all_up_ns = times[self.n - 1] - t0
        self.root = self.find_root()
        return self

    def tail_log(self):
        try:
            with open(self.dir + "/supervisor.log", "rb") as f:
                return f.read()[-300:].decode(errors="replace").strip()
        except OSError:
            return ""

    def find_root(self):
        if self.mode != "pid1":
            return self.proc.pid
        unshare = os.path.realpath(shutil.which("unshare") or "/usr/bin/unshare")
        for _ in range(500):
            for pid, (ppid, _, _) in proc_table().items():
                if ppid == self.proc.pid:
                    try:
                        if os.path.realpath("/proc/%d/exe" % pid) != unshare:
                            return pid
                    except OSError:
                        pass
            time.sleep(0.01)
        raise RuntimeError("could not find the supervisor under unshare")

    def sup_pids(self):
        pids = [self.root]
        if self.sup.helpers:
            table = proc_table()
            pids += [p for p in descendants(self.root, table)
                     if table[p][2] in self.sup.helpers]
        return pids

    def counters(self, pids):
        ctx = ticks = 0
        for p in pids:
            c = proc_counters(p)
            if c:
                ctx += c[0]
                ticks += c[1]
        return ctx, ticks

    def memory(self):
        rss = anon = 0
        pids = self.sup_pids()
        for p in pids:
            st = read_status(p)
            rss += int(st.get("VmRSS", "0 kB").split()[0])
            anon += int(st.get("RssAnon", "0 kB").split()[0])
        return rss, anon, len(pids)

    def command(self, text):
        os.write(self.ctl, text.encode())

    # -- measurements
    def measure_idle(self, window):
        pids = self.sup_pids()
        c0 = self.counters(pids)
        time.sleep(window)
        c1 = self.counters(pids)
        return c1[0] - c0[0], c1[1] - c0[1]

    def measure_signals(self, k):
        """K x SIGUSR1 to the supervisor, each paced by the probe child's
        acknowledgement. Returns (ctx per signal, [latency ns])."""
        drain(self.sig)
        pids = self.sup_pids()
        c0 = self.counters(pids)
        lats, lost = [], 0
        for i in range(k):
            t0 = now_ns()
            os.kill(self.root, signal.SIGUSR1)
            r, _, _ = select.select([self.sig], [], [], 2.0)
            t1 = now_ns()
            if not r:
                lost += 1
                if not lats or lost > 3:
                    break
                continue
            lats.append(t1 - t0)
            drain(self.sig)
        c1 = self.counters(pids)
        if not lats:
            return None, [], "error: no signal reached the child within 2 s"
        return (c1[0] - c0[0]) / len(lats), lats, (
            "%d lost" % lost if lost else "")

    def measure_exits(self, k):
        pids = self.sup_pids()
        c0 = self.counters(pids)
        self.command("E %d\n" % k)
        line = read_line(self.ack, 30 + k * 0.05, self.ctl_pending)
        if line != "E":
            return None, None, "error: exit workload did not finish"
        # Wait until the supervisor has reaped them all (some reap only on
        # a periodic wake-up), so that those wake-ups are counted too.
        t_ack = time.monotonic()
        left, note = 0, ""
        while True:
            time.sleep(0.02)
            left = sum(1 for pp, st, _ in proc_table().values()
                       if pp == self.root and st == "Z")
            if left == 0 or time.monotonic() - t_ack > 15:
                break
        lag_ms = (time.monotonic() - t_ack) * 1e3
        if left:
            note = "%d exited children still unreaped 15 s later" % left
        c1 = self.counters(pids)
        return (c1[0] - c0[0]) / k, lag_ms, note

    def measure_storm(self, m):
        """Returns (ms until the last storm zombie was reaped, peak zombies
        seen, note)."""
        path = self.dir + "/storm.fifo"
        os.mkfifo(path, 0o600)
        wfd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        pidfds = {}
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            want = min(hard, m + 1024) if hard != resource.RLIM_INFINITY else m + 1024
            if want > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            pre = {p for p, (pp, _, _) in proc_table().items() if pp == self.root}
            self.command("S %d %s\n" % (m, path))
            made = None
            for _ in range(2):
                line = read_line(self.ack, 60 + m * 0.02, self.ctl_pending)
                if line is None:
                    return None, None, "error: storm workload did not report"
                if line.startswith("A "):
                    made = int(line.split()[1])
                elif line == "D":
                    break
            table = proc_table()
            storm = [p for p, (pp, _, _) in table.items()
                     if pp == self.root and p not in pre]
            note = ""
            if made is not None and made < m:
                note = "only %d forks succeeded" % made
            if len(storm) < (made or m) * 0.95:
                note = ("only %d of %d orphans were adopted by the supervisor"
                        % (len(storm), made or m))
            for p in storm:
                try:
                    pidfds[os.pidfd_open(p)] = p
                except OSError:
                    pass
            if not pidfds:
                return None, None, "error: no orphan was adopted"
            poller = select.poll()
            for fd in pidfds:
                poller.register(fd, select.POLLIN)
            waiting = set(pidfds)       # not yet exited
            zombies = set()             # exited, not yet reaped
            total, reaped, peak = len(pidfds), 0, 0
            t0 = now_ns()
            os.close(wfd)
            wfd = None
            end = time.monotonic() + 30 + m * 0.01
            t_done = None
            while time.monotonic() < end:
                for fd, _ in poller.poll(0):
                    poller.unregister(fd)
                    waiting.discard(fd)
                    zombies.add(fd)
                for fd in list(zombies):
                    try:
                        signal.pidfd_send_signal(fd, 0)
                    except ProcessLookupError:
                        zombies.discard(fd)
                        reaped += 1
                    except OSError:
                        pass
                peak = max(peak, len(zombies))
                if reaped >= total:
                    t_done = now_ns()
                    break
                time.sleep(0.0005)
            if t_done is None:
                return None, peak, "error: %d of %d orphans not reaped after %d s" % (
                    total - reaped, total, 30 + m * 0.01)
            return (t_done - t0) / 1e6, peak, note
        finally:
            if wfd is not None:
                os.close(wfd)
            for fd in pidfds:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def shutdown(self, timeout):
        t0 = now_ns()
        os.kill(self.root, signal.SIGTERM)
        t1 = pidfd_wait(self.root, timeout)
        if t1 is None:
            return None
        return (t1 - t0) / 1e6

    # -- teardown: nothing is left behind
    def cleanup(self):
        try:
            if self.root and self.proc and self.proc.poll() is None:
                if self.mode == "pid1":
                    # PID 1 dies -> the kernel kills the whole namespace.
                    try:
                        os.kill(self.root, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            kill_tree(self.proc.pid if self.proc else None)
            if self.proc:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            sweep_strays()
            for fd in self.fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.fds = []
            try:
                self.logf.close()
            except Exception:
                pass
            shutil.rmtree(self.dir, ignore_errors=True)


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


# ------------------------------------------------------------ the benchmark

MEASURES = [
    # key, header, unit, digits
    ("idle_ctx", "idle wake-ups", "ctx switches / window", 0),
    ("idle_ticks", "idle CPU", "ticks / window", 0),
    ("ctx_per_signal", "wake-ups / signal", "ctx switches / SIGUSR1", 2),
    ("ctx_per_exit", "wake-ups / child exit", "ctx switches / reaped exit", 2),
    ("rss_kb", "VmRSS", "kB", 0),
    ("anon_kb", "RssAnon", "kB", 0),
    ("bin_bytes", "binary", "bytes", 0),
    ("storm_ms", "orphan storm reaped", "ms", 1),
    ("storm_peak", "storm peak zombies", "count", 0),
    ("sig_p50_us", "signal latency p50", "us", 1),
    ("sig_p99_us", "signal latency p99", "us", 1),
    ("shutdown_ms", "shutdown", "ms", 2),
    ("startup_ms", "start-up", "ms", 2),
]


def bench_one(sup, mode, n, args):
    """One repeat for one supervisor/mode: runs A and B. Returns a dict of
    measure -> number or 'n/a: ...'/'error: ...' string, plus extras."""
    res = {}
    k, m = args.k, args.m
    res["bin_bytes"] = sup.binary_size()
    budget = 90 + 2 * args.window + k * 0.06 + m * 0.03
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    run = None
    try:
        # ---- run A: sleepers only
        run = Run(sup, mode, n, probe=False, tag=sup.name)
        try:
            run.start(args.ready_timeout)
            res["startup_ms"] = run.startup_ns / 1e6
            res["all_up_ms"] = run.all_up_ns / 1e6
            time.sleep(args.settle)
            rss, anon, nproc = run.memory()
            res["rss_kb"], res["anon_kb"], res["sup_procs"] = rss, anon, nproc
            ctx, ticks = run.measure_idle(args.window)
            res["idle_ctx"], res["idle_ticks"] = ctx, ticks
            sd = run.shutdown(args.stop_timeout)
            res["shutdown_ms"] = sd if sd is not None else \
                "error: still running %.0f s after SIGTERM" % args.stop_timeout
        except (RuntimeError, OSError) as e:
            for key in ("startup_ms", "rss_kb", "anon_kb", "idle_ctx",
                        "idle_ticks", "shutdown_ms"):
                res.setdefault(key, "error: %s" % e)
        finally:
            run.cleanup()
        # ---- run B: probe child + sleepers
        run = Run(sup, mode, n, probe=True, tag=sup.name)
        try:
            run.start(args.ready_timeout)
            time.sleep(min(args.settle, 0.5))
            if sup.no_signal:
                for key in ("ctx_per_signal", "sig_p50_us", "sig_p99_us"):
                    res[key] = sup.no_signal
            else:
                per, lats, note = run.measure_signals(k)
                if per is None:
                    for key in ("ctx_per_signal", "sig_p50_us", "sig_p99_us"):
                        res[key] = note
                else:
                    res["ctx_per_signal"] = per
                    res["sig_p50_us"] = pct(lats, 0.50) / 1e3
                    res["sig_p99_us"] = pct(lats, 0.99) / 1e3
                    if note:
                        res["signal_note"] = note
            per, lag, note = run.measure_exits(k)
            res["ctx_per_exit"] = per if per is not None else note
            if lag is not None:
                res["exit_reap_lag_ms"] = lag
            if note and per is not None:
                res["exit_note"] = note
            elif lag is not None and lag > 500:
                res["exit_note"] = ("exited orphans were reaped in a batch "
                                    "up to %.1f s later (periodic wake-up)"
                                    % (lag / 1e3))
            ms, peak, note = run.measure_storm(m)
            res["storm_ms"] = ms if ms is not None else note
            res["storm_peak"] = peak if peak is not None else note
            if note and ms is not None:
                res["storm_note"] = note
            sd = run.shutdown(args.stop_timeout)
            res["shutdown2_ms"] = sd if sd is not None else "error: timeout"
        except (RuntimeError, OSError) as e:
            for key in ("ctx_per_signal", "sig_p50_us", "sig_p99_us",
                        "ctx_per_exit", "storm_ms", "storm_peak"):
                res.setdefault(key, "error: %s" % e)
        finally:
            run.cleanup()
    except Watchdog as e:
        for key, _, _, _ in MEASURES:
            res.setdefault(key, "error: %s" % e)
        if run:
            run.cleanup()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return res


def baseline_startup(mode, args):
    """Start-up floor: the first child exec'd directly (no supervisor)."""
    d = tempfile.mkdtemp(prefix="dinit-bench-base-")
    fd = None
    proc = None
    try:
        fd = mkfifo(d + "/ready.fifo")
        argv = sleeper_argv(d)
        if mode == "pid1":
            argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
        t0 = now_ns()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
        buf, times = read_bytes(fd, 1, args.ready_timeout)
        return (times[0] - t0) / 1e6 if buf else None
    finally:
        if proc:
            kill_tree(proc.pid)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if fd is not None:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def summarize(values):
    nums = [v for v in values if isinstance(v, (int, float))]
    strs = [v for v in values if isinstance(v, str)]
    if not nums:
        return {"text": strs[0] if strs else "n/a", "median": None}
    return {"median": statistics.median(nums), "min": min(nums),
            "max": max(nums), "n": len(nums),
            "errors": len(strs), "error": strs[0] if strs else ""}


def fmt_num(v, digits):
    if v is None:
        return ""
    if digits == 0:
        return "{:,}".format(int(round(v)))
    return "{:,.{d}f}".format(v, d=digits)


def fmt_cell(s, digits):
    if s.get("median") is None:
        return s["text"]
    out = fmt_num(s["median"], digits)
    if s["n"] > 1:
        out += " [%s–%s]" % (fmt_num(s["min"], digits), fmt_num(s["max"], digits))
    if s.get("errors"):
        out += " (%d failed: %s)" % (s["errors"], s["error"])
    return out


def row_label(row, multi_n):
    label = row["supervisor"]
    if row["mode"] == "subreaper":
        label += " (subreaper)"
    if multi_n:
        label += ", N=%d" % row["n"]
    return label


def machine_description():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            osr = dict(l.strip().split("=", 1) for l in f if "=" in l)
        distro = osr.get("PRETTY_NAME", "?").strip('"')
    except OSError:
        distro = "?"
    return "%s, %d cores (%s), kernel %s, %s" % (
        distro, os.cpu_count() or 0, model, platform.release(), platform.machine())


def write_markdown(path, rows, meta, multi_n):
    lines = ["# dinit benchmark results", ""]
    lines.append("Machine: %s. Load average before: %s, after: %s." % (
        meta["machine"], meta["load_before"], meta["load_after"]))
    lines.append("")
    lines.append("Command: `%s`" % meta["command"])
    lines.append("")
    lines.append("N=%s children, K=%d events, M=%d orphans, window %g s, %d "
                 "repeat(s); cells are the median [min–max] over repeats."
                 % (",".join(map(str, meta["n"])), meta["k"], meta["m"],
                    meta["window"], meta["repeats"]))
    lines.append("")
    head = ["supervisor"] + ["%s (%s)" % (h, u) for _, h, u, _ in MEASURES]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in rows:
        cells = [row_label(row, multi_n)]
        for key, _, _, digits in MEASURES:
            cells.append(fmt_cell(row["summary"][key], digits).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for mode, ms in sorted(meta["baseline"].items()):
        if ms is not None:
            lines.append("- Start-up floor (%s): %.2f ms for the first child "
                         "exec'd directly with no supervisor%s." % (
                             mode, ms, " under `unshare`" if mode == "pid1" else ""))
    for row in rows:
        notes = row.get("notes")
        if notes:
            lines.append("- %s: %s" % (row_label(row, multi_n), "; ".join(notes)))
    if meta.get("skipped"):
        for s in meta["skipped"]:
            lines.append("- %s" % s)
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_csv(path, rows, multi_n):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["supervisor", "mode", "n", "measure", "unit", "median",
                    "min", "max", "repeats", "text", "samples"])
        for row in rows:
            for key, _, unit, _ in MEASURES + EXTRA:
                s = row["summary"].get(key)
                if s is None:
                    continue
                if s.get("median") is None:
                    w.writerow([row["supervisor"], row["mode"], row["n"], key,
                                unit, "", "", "", 0, s["text"], ""])
                else:
                    w.writerow([row["supervisor"], row["mode"], row["n"], key,
                                unit, s["median"], s["min"], s["max"], s["n"],
                                s.get("error", ""),
                                " ".join(str(v) for v in row["raw"][key])])


EXTRA = [("all_up_ms", "all N children up", "ms", 2),
         ("shutdown2_ms", "shutdown with probe child", "ms", 2),
         ("sup_procs", "supervisor processes", "count", 0),
         ("exit_reap_lag_ms", "last exit-test zombie gone after the "
          "workload finished (20 ms steps)", "ms", 0)]


def write_svg(path, rows, multi_n, meta):
    panels = [("idle_ctx", "Idle wake-ups (ctx switches / %g s)" % meta["window"]),
              ("rss_kb", "VmRSS (kB)"),
              ("sig_p50_us", "Signal forwarding latency p50 (µs)"),
              ("shutdown_ms", "Shutdown latency (ms)")]
    label_w, bar_w, row_h, pad = 190, 330, 18, 12
    panel_w = label_w + bar_w + 90
    cols = 2
    panel_h = 30 + row_h * len(rows) + pad
    width = cols * panel_w + pad
    height = 40 + ((len(panels) + cols - 1) // cols) * (panel_h + pad)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (
               pad, html.escape("dinit and peers: N=%s children, medians over %d "
                                "repeat(s)" % (",".join(map(str, meta["n"])),
                                               meta["repeats"])))]
    for i, (key, title) in enumerate(panels):
        x0 = pad + (i % cols) * panel_w
        y0 = 40 + (i // cols) * (panel_h + pad)
        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (
            x0, y0 + 14, html.escape(title)))
        vals = [r["summary"][key].get("median") for r in rows]
        vmax = max([v for v in vals if v is not None] or [1]) or 1
        for j, row in enumerate(rows):
            y = y0 + 24 + j * row_h
            lab = row_label(row, multi_n)
            color = "#d62728" if row["supervisor"].startswith("dinit") else "#4878a8"
            out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (
                x0 + label_w - 6, y + 12, html.escape(lab)))
            v = vals[j]
            if v is None:
                out.append('<text x="%d" y="%d" fill="#888">%s</text>' % (
                    x0 + label_w, y + 12,
                    html.escape(row["summary"][key]["text"][:60])))
                continue
            w = max(1.0, bar_w * v / vmax)
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                       % (x0 + label_w, y + 2, w, row_h - 4, color))
            digits = dict((k, d) for k, _, _, d in MEASURES)[key]
            out.append('<text x="%.1f" y="%d">%s</text>' % (
                x0 + label_w + w + 4, y + 12, html.escape(fmt_num(v, digits))))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def setup_peers(force):
    sups_missing = [b for b in ("/usr/bin/tini", "/usr/bin/tini-static",
                                "/usr/bin/dumb-init", "/usr/bin/catatonit",
                                "/usr/bin/supervisord", "/usr/bin/runsvdir",
                                "/usr/bin/s6-svscan") if not os.path.exists(b)]
    if not sups_missing and not force:
        return True
    if os.geteuid() != 0:
        log("setup: not root, cannot apt-get install %s" % " ".join(APT_PACKAGES))
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("setup: apt-get install -y %s" % " ".join(APT_PACKAGES))
    try:
        r = subprocess.run(["apt-get", "install", "-y"] + APT_PACKAGES, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=900)
        if r.returncode != 0:
            log("setup: install failed, trying apt-get update first")
            subprocess.run(["apt-get", "update"], env=env, timeout=600,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = subprocess.run(["apt-get", "install", "-y"] + APT_PACKAGES,
                               env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=900)
        if r.returncode != 0:
            log("setup: apt-get failed: %s" % r.stderr.decode()[-500:])
            return False
    except subprocess.TimeoutExpired:
        log("setup: apt-get timed out")
        return False
    # Debian may start supervisord / runsvdir services on install; they are
    # not ours to stop, and they do not affect the runs (fresh configs).
    return True


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
    try:
        a.ns = [int(x) for x in a.n.split(",") if x.strip()]
    except ValueError:
        p.error("--n takes integers")
    if not a.ns or min(a.ns) < 1 or max(a.ns) > 200:
        p.error("--n must be between 1 and 200")
    if a.k < 1 or a.m < 1 or a.window <= 0 or a.repeats < 1:
        p.error("--k, --m, --window and --repeats must be positive")
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
