"""The scenarios: one fresh supervisor tree per run (Run), what is measured
in it (start-up, memory, idle wake-ups, signals, child exits, the orphan
storm, shutdown), and one repeat of the standard benchmark (bench_one)."""

import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time

from peers import AGENT, agent_argv, sleeper_argv
from procfs import ctx_switches, descendants, proc_table, rss_kb
from processes import (Watchdog, _alarm, drain, kill_tree, mkfifo, now_ns,
                       pidfd_wait, read_bytes, read_line, sweep_strays)
from report import MEASURES, pct

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
        self.sleeper = sleeper_argv   # d -> argv of one sleeping child

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
            children.append(self.sleeper(d))
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
        return ctx_switches(pids)

    def memory(self):
        pids = self.sup_pids()
        rss, anon = rss_kb(pids)
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

