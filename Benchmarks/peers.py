"""The supervisors compared and how each is set up for a run: the workload
children, the command line, service directories or config files, and the
Debian packages they come from."""

import os
import shlex
import subprocess
import sys

from procfs import dir_size, is_static
from processes import log

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = os.path.realpath(sys.executable)
APT_PACKAGES = ["tini", "dumb-init", "catatonit", "supervisor", "runit", "s6"]

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
# once on TERM, and says it is running by writing one byte to the FIFO
# (printf: echo would write two, and all-up would be counted at half).
SLEEPER = 'trap "" USR1; printf R > "$1"; exec sleep 1000000'


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
    # s6-svscan keeps a fixed number of service slots (-c; the default is
    # too few for the scaling run).
    many = ["-c", str(len(children) + 16)] if len(children) > 400 else []
    return ["/usr/bin/s6-svscan"] + many + [service_dirs(d, children)]


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

