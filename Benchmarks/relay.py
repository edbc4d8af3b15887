#!/usr/bin/env python3
"""Tagged-output relay benchmark (dinit -p), standalone.

One child writes --mb megabytes (default 200) of 80-byte lines
(`yes <79 bytes> | head -c N`); the relay in front of it prefixes every line
with the child's name and writes it to a pipe that this script reads as fast
as it can. Rows, all in one run:

  dinit -p     out/dinit -p -- :wait:sh -c CMD
  honcho       honcho 2.0 (PyPI) start, Procfile `web: CMD`
  sed          sh -c CMD | sed -u "s/^/web | /"   (CMD and sed started by
               this script as the two ends of one pipe, so sed's own CPU
               can be read)
  no relay     out/dinit -- :wait:sh -c CMD       (the child writes straight
               into the pipe: the floor)

Measures: MB/s (bytes of the child's output over the wall time from the
start to the end of the output), CPU seconds of the relay processes per 100 MB
of child output (utime + stime of dinit; of honcho's manager and its
per-process reader; of sed), and the relay's peak RSS (sum over its
processes, sampled every 10 ms). honcho is installed into a private venv
(/tmp/dinit-relay-bench-venv) when missing.

  python3 Benchmarks/relay.py                 # full run (200 MB)
  python3 Benchmarks/relay.py --mb 20         # quick
"""
import argparse, os, signal, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = "/tmp/dinit-relay-bench-venv"
TICK = os.sysconf("SC_CLK_TCK")
LINE = "0123456789" * 7 + "012345678"  # 79 bytes + newline


def honcho_path():
    exe = os.path.join(VENV, "bin", "honcho")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "honcho==2.0.0"], check=True)
    return exe


def proc_stat(pid):
    """(comm, state, utime+stime ticks, VmRSS in kB, ppid) or None. (stat's
    own rss field reads 0 for small processes on recent kernels: the
    per-CPU counters are not folded in; status's VmRSS is.)"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[11]) + int(rest[12]), rss, int(rest[1])


def tree(root):
    """root and its descendants."""
    out, queue = [], [root]
    while queue:
        p = queue.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    queue.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


class Sampler(threading.Thread):
    """Keeps the last CPU reading and the peak summed RSS of the relay
    processes: `is_relay(pid, comm, root)` says which of root's tree count."""

    def __init__(self, root, is_relay):
        super().__init__(daemon=True)
        self.root, self.is_relay = root, is_relay
        self.cpu = {}
        self.peak_rss = 0
        self.stop = False

    def sample(self):
        rss = 0
        for p in tree(self.root):
            st = proc_stat(p)
            if st is None or not self.is_relay(p, st[0], self.root):
                continue
            if st[1] != "Z":
                rss += st[3]
            self.cpu[p] = max(self.cpu.get(p, 0), st[2])
        self.peak_rss = max(self.peak_rss, rss)

    def run(self):
        while not self.stop:
            self.sample()
            time.sleep(0.01)


def drain(fd):
    """Reads fd to its end into one reused buffer: (bytes, lines, first line)."""
    total = lines = 0
    first = b""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        n = os.readv(fd, [view])
        if not n:
            return total, lines, first
        if not first:
            first = bytes(buf[:min(n, 200)]).split(b"\n", 1)[0]
        total += n
        lines += buf.count(b"\n", 0, n)


def zombie_cpu(pid):
    """utime+stime of our own exited (unreaped) child."""
    for _ in range(500):
        st = proc_stat(pid)
        if st and st[1] == "Z":
            return st[2]
        time.sleep(0.01)
    return proc_stat(pid)[2] if proc_stat(pid) else 0


def run_case(name, argv, is_relay, direct_cpu=True, env=None, feeder=None):
    out_r, out_w = os.pipe()
    started = time.monotonic()
    stdin = feeder.stdout if feeder else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdin=stdin, stdout=out_w, stderr=subprocess.DEVNULL, env=env, pass_fds=())
    os.close(out_w)
    if feeder:
        feeder.stdout.close()
    s = Sampler(p.pid, is_relay)
    s.start()
    total, lines, first = drain(out_r)
    elapsed = time.monotonic() - started
    os.close(out_r)
    s.stop = True
    s.join()
    if direct_cpu:
        s.cpu[p.pid] = zombie_cpu(p.pid)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    p.wait()
    if feeder:
        feeder.wait()
    return dict(name=name, bytes=total, lines=lines, first=first.decode(errors="replace"),
                seconds=elapsed, cpu=sum(s.cpu.values()) / TICK, rss_kb=s.peak_rss)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=200, help="megabytes the child writes (default 200)")
    ap.add_argument("--dinit", default=os.path.join(ROOT, "out", "dinit"))
    ap.add_argument("--skip-honcho", action="store_true")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each row, interleaved; the median run (by wall time) is shown")
    ap.add_argument("--honcho-repeats", type=int, default=1,
                    help="runs of honcho (about 1 MB/s: 200 MB take minutes)")
    args = ap.parse_args()
    size = args.mb * 1_000_000 // 80 * 80
    cmd = f"yes {LINE} | head -c {size}"
    dinit = args.dinit
    if not os.path.exists(dinit):
        sys.exit(f"{dinit} missing: run make")
    own = lambda pid, c, root: pid == root
    cases = [("dinit -p", lambda: run_case("dinit -p", [dinit, "-p", "--", ":wait:sh", "-c", cmd], own))]
    if not args.skip_honcho:
        honcho = honcho_path()
        work = tempfile.mkdtemp(prefix="relay-bench-")
        procfile = os.path.join(work, "Procfile")
        with open(procfile, "w") as f:
            f.write(f"web: {cmd}\n")
        # honcho's manager, and the reader it forks per process (a python3
        # whose parent is the manager); not the shell and the generator.
        def honcho_relay(pid, c, root):
            st = proc_stat(pid)
            return pid == root or (st is not None and st[4] == root and c.startswith(("honcho", "python")))
        cases.append(("honcho 2.0", lambda: run_case("honcho 2.0", [honcho, "-d", work, "-f", procfile, "start"],
                                                       honcho_relay)))

    def sed_case():
        feeder = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return run_case("sh -c 'cmd | sed -u'", ["sed", "-u", "s/^/web | /"], own, feeder=feeder)
    cases.append(("sh -c 'cmd | sed -u'", sed_case))
    cases.append(("no relay (dinit without -p)",
                  lambda: run_case("no relay (dinit without -p)", [dinit, "--", ":wait:sh", "-c", cmd], own)))
    runs = {name: [] for name, _ in cases}
    for k in range(args.repeats):
        for name, case in cases:
            if name == "honcho 2.0" and k >= args.honcho_repeats:
                continue
            runs[name].append(case())
    results = [sorted(runs[name], key=lambda r: r["seconds"])[len(runs[name]) // 2] for name, _ in cases]
    for r in results:
        r["range"] = (min(x["seconds"] for x in runs[r["name"]]), max(x["seconds"] for x in runs[r["name"]]))

    mb = size / 1e6
    print(f"child output: {mb:.0f} MB in {size // 80:,} lines of 80 bytes; "
          f"{os.cpu_count()} CPUs; kernel {os.uname().release}")
    print()
    print(f"median of {args.repeats} runs per row, honcho {min(args.honcho_repeats, args.repeats)} "
          "(wall-time range in brackets)")
    print()
    print("| relay | MB/s | wall (s) | relay CPU s / 100 MB | relay peak RSS (kB) | lines out | first line |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        first = r["first"][:24].replace("|", "\\|")
        print(f"| {r['name']} | {mb / r['seconds']:,.0f} | {r['seconds']:.2f} [{r['range'][0]:.2f}-{r['range'][1]:.2f}] | "
              f"{r['cpu'] / mb * 100:.2f} | "
              f"{r['rss_kb']:,} | {r['lines']:,} | `{first}` |")
    by = {r["name"]: r for r in results}
    p = by["dinit -p"]["seconds"]
    print()
    if "honcho 2.0" in by:
        print(f"dinit -p vs honcho: {by['honcho 2.0']['seconds'] / p:.1f}x the throughput (goal >= 10x)")
    print(f"dinit -p vs no relay: {p / by['no relay (dinit without -p)']['seconds']:.2f}x the time (goal <= 2x)")
    bad = [name for name in runs for r in runs[name] if r["lines"] < size // 80]
    if bad:
        sys.exit(f"lines missing in: {', '.join(bad)}")


if __name__ == "__main__":
    main()
