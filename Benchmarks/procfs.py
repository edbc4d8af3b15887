"""What the harness reads from /proc: the process table, a process's
status and counters, and a description of the machine."""

import os
import platform

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"



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



def cpu_ns(pid):
    """CPU time (ns) of all threads of `pid`, from /proc/PID/task/*/schedstat;
    None once it is gone."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kb(pids):
    """(VmRSS, RssAnon) in kB summed over `pids`."""
    rss = anon = 0
    for p in pids:
        st = read_status(p)
        rss += int(st.get("VmRSS", "0 kB").split()[0])
        anon += int(st.get("RssAnon", "0 kB").split()[0])
    return rss, anon


def pss_kb(pids):
    """Pss in kB summed over `pids` (/proc/PID/smaps_rollup): shared pages
    are divided among the processes that map them, so the sum is what the
    processes cost together (VmRSS counts a shared libc once per process)."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            pass
    return total


def ctx_switches(pids):
    """(context switches, CPU ticks) summed over `pids`."""
    ctx = ticks = 0
    for p in pids:
        c = proc_counters(p)
        if c:
            ctx += c[0]
            ticks += c[1]
    return ctx, ticks
