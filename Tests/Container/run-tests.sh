#!/usr/bin/env bash
# dinit and dcrond as PID 1 of a real container, under runc (the runtime Docker
# itself uses), in a root filesystem laid out like the final stage of
# Dockerfile.alpine: BusyBox (static) for the shell and tools, the two static
# binaries, nothing else (no libc, no Swift runtime). Plus dinit in a chroot
# that holds nothing but the binary and has no /proc.
#
#   bash Tests/Container/run-tests.sh          # runs `make` first
#   SKIP_BUILD=1 bash Tests/Container/run-tests.sh                 # use out/ as is
#   DINIT_BIN=... DCROND_BIN=... bash Tests/Container/run-tests.sh # other binaries
#
# Needs root and Debian's runc, busybox-static and util-linux (unshare);
# python3 for editing config.json. Ends with the line "N passed, M failed" and
# exits nonzero if anything failed. Containers and temporary files are removed
# on any exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/Tests/Shell/checks.sh"

# ---------------------------------------------------------------- prerequisites

if [ "$(id -u)" -ne 0 ]; then
    say "run-tests.sh: must run as root (runc, chroot, unshare)"
    failed=1; finish
fi
busybox=${BUSYBOX:-/bin/busybox}
require run-tests.sh "runc busybox-static util-linux python3" runc unshare chroot python3 "$busybox"

# -------------------------------------------------------------------- binaries

binaries_under_test run-tests.sh

# static FILE: an ELF file without a program interpreter (PT_INTERP), i.e.
# it needs no dynamic loader and no shared library.
static() {
    python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
if d[:4] != b'\x7fELF' or d[4] != 2:
    sys.exit(1)
phoff, = struct.unpack_from('<Q', d, 0x20)
phentsize, phnum = struct.unpack_from('<HH', d, 0x36)
types = [struct.unpack_from('<I', d, phoff + i * phentsize)[0] for i in range(phnum)]
sys.exit(1 if 3 in types else 0)   # PT_INTERP == 3
EOF
}

say "==== binaries"
check "dinit exists: $dinit" test -x "$dinit"
check "dcrond exists: $dcrond" test -x "$dcrond"
[ "$failed" -eq 0 ] || finish
check "dinit is static (no program interpreter)" static "$dinit"
check "dcrond is static (no program interpreter)" static "$dcrond"
check "busybox is static: $busybox" static "$busybox"
[ "$failed" -eq 0 ] || finish

# ---------------------------------------------------------------- scratch area

tmp=$(mktemp -d /tmp/dinit-runc.XXXXXX)
state=$tmp/runc-state            # our own runc root: other containers untouched
rootfs=$tmp/rootfs
ids=()
bgpids=()
cleanup() {
    local id pid
    for id in "${ids[@]}"; do
        runc --root "$state" kill "$id" KILL >/dev/null 2>&1
        runc --root "$state" delete -f "$id" >/dev/null 2>&1
    done
    for pid in "${bgpids[@]}"; do
        kill "$pid" >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
interrupted() {
    failed=$((failed + 1))
    say "  FAIL interrupted"
    say ""
    say "$passed passed, $failed failed"
    exit 130
}
trap interrupted INT TERM

# The root filesystem of Dockerfile.alpine's final stage, minus Alpine: the
# static BusyBox as /bin/busybox with its applets as symlinks, the two
# binaries, empty mount points. Read-only in the containers (as with
# `docker run --read-only`); /tmp is a tmpfs and /shared a per-container bind
# mount the tests read.
mkdir -p "$rootfs"/{bin,proc,dev,sys,tmp,shared,usr/local/bin}
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh sleep echo cat ps kill ls true false tr wc grep tail head \
              mkdir rm date env printf test; do
    ln -s busybox "$rootfs/bin/$applet"
done
cp "$dinit" "$rootfs/usr/local/bin/dinit"
cp "$dcrond" "$rootfs/usr/local/bin/dcrond"

# A supervised test daemon: child.sh NAME STATUS. Logs its start (with its
# parent PID) and, on SIGTERM, its stop, then exits with STATUS.
cat > "$tmp/child.sh" <<'EOF'
#!/bin/sh
name=$1
code=$2
trap 'kill $p 2>/dev/null; echo "stop $name" >> /shared/log; exit $code' TERM
echo "start $name ppid=$PPID" >> /shared/log
sleep 1000 &
p=$!
wait $p
EOF

run_id=$$
# bundle NAME ARGS...: a bundle directory for container NAME whose process is
# ARGS; prints nothing, sets $bdir and $cid.
bundle() {
    local name=$1; shift
    cid=dinit-test-$run_id-$name
    bdir=$tmp/bundles/$name
    mkdir -p "$bdir/shared"
    cp "$tmp/child.sh" "$bdir/shared/child.sh"
    : > "$bdir/shared/log"
    runc spec --bundle "$bdir" || return 1
    python3 - "$bdir/config.json" "$rootfs" "$bdir/shared" "$@" <<'EOF'
import json, sys
path, rootfs, shared, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
c = json.load(open(path))
c['process']['terminal'] = False
c['process']['args'] = args
c['root'] = {'path': rootfs, 'readonly': True}
c['hostname'] = 'dinit-test'
c['mounts'] += [
    {'destination': '/tmp', 'type': 'tmpfs', 'source': 'tmpfs',
     'options': ['nosuid', 'nodev', 'mode=1777', 'size=16m']},
    {'destination': '/shared', 'type': 'bind', 'source': shared,
     'options': ['rbind', 'rw']},
]
json.dump(c, open(path, 'w'), indent=2)
EOF
    ids+=("$cid")
}

# start_bg: `runc run` (foreground mode, as `docker run` without -d) in the
# background; its exit status is the container's. Sets $rpid.
start_bg() {
    runc --root "$state" run --bundle "$bdir" "$cid" \
        > "$bdir/stdout" 2> "$bdir/stderr" < /dev/null &
    rpid=$!
    bgpids+=("$rpid")
}
# run_fg: `runc run` to completion; sets $rc and $secs.
run_fg() {
    local t0 t1
    t0=$(now)
    timeout -k 5 30 runc --root "$state" run --bundle "$bdir" "$cid" \
        > "$bdir/stdout" 2> "$bdir/stderr" < /dev/null
    rc=$?
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
}
# wait_for SECONDS COMMAND...: poll until the command succeeds.
running() { runc --root "$state" state "$cid" 2>/dev/null | grep -q '"status": "running"'; }
log_lines() { [ "$(grep -c "$1" "$bdir/shared/log" 2>/dev/null)" -ge "$2" ]; }
# stop_container: `runc kill ID TERM` (what `docker stop` does first), wait
# for `runc run` to return; sets $rc and $secs (TERM to exit).
stop_container() {
    local t0 t1
    t0=$(now)
    runc --root "$state" kill "$cid" TERM
    # A watchdog, so that a hang fails the test instead of the run.
    if ! wait_for 20 eval '! kill -0 "$rpid" 2>/dev/null'; then
        say "       container still running 20 s after TERM: SIGKILL"
        runc --root "$state" kill "$cid" KILL
    fi
    wait "$rpid"
    rc=$?
    t1=$(now)
    secs=$(elapsed "$t0" "$t1")
}
gone() { ! runc --root "$state" state "$cid" >/dev/null 2>&1; }
has() { grep -qF -- "$2" "$bdir/$1"; }
show() {
    say "       --- $cid stderr:"; sed 's/^/       | /' "$bdir/stderr"
    say "       --- /shared/log:"; sed 's/^/       | /' "$bdir/shared/log"
}

# ---------------------------------------------------------------------- tests

say "==== (0) the seed example in a container: dinit -- sleep 5 -- sleep 3"
bundle seed /usr/local/bin/dinit -- sleep 5 -- sleep 3
run_fg
check "exit status 15 (got $rc), after ${secs}s" test "$rc" -eq 15
check "log: Exiting, status 15" has stderr "dinit: Exiting, status 15"
check "log: second sleep exited on its own, first stopped" \
    grep -q "exited with status 0" "$bdir/stderr"
check "took about 4 s (1 s startup delay + sleep 3)" le "$secs" 7
[ "$failed" -eq 0 ] || show

say "==== (a) dinit is PID 1 and starts the commands in order"
bundle order /usr/local/bin/dinit -d 0.3 -k 3 \
    -- :wait:/bin/sh -c 'echo "ppid=$PPID" > /shared/pid1; tr "\0" " " < /proc/1/cmdline >> /shared/pid1' \
    -- /bin/sh /shared/child.sh a 0 \
    -- /bin/sh /shared/child.sh b 7 \
    -- /bin/sh /shared/child.sh c 0
f0=$failed
start_bg
check "container running" wait_for 5 running
check "three daemons started" wait_for 5 log_lines '^start' 3
check "the :wait: command's parent is PID 1" grep -q '^ppid=1$' "$bdir/shared/pid1"
check "PID 1 is /usr/local/bin/dinit" grep -q '^/usr/local/bin/dinit -d 0.3' "$bdir/shared/pid1"
comm=$(runc --root "$state" exec "$cid" cat /proc/1/comm 2>&1)
check "runc exec: /proc/1/comm is dinit (got '$comm')" test "$comm" = dinit
check "started in order a, b, c, each a child of PID 1" \
    test "$(grep '^start' "$bdir/shared/log" | tr '\n' ' ')" = "start a ppid=1 start b ppid=1 start c ppid=1 "
[ "$failed" -eq "$f0" ] || show

say "==== (b) runc kill TERM: reverse-order stop, dinit's status is the container's"
stop_container
term_secs=$secs
check "stopped in order c, b, a" \
    test "$(grep '^stop' "$bdir/shared/log" | tr '\n' ' ')" = "stop c stop b stop a "
check "container exit status 7, the first nonzero child status (got $rc)" test "$rc" -eq 7
check "log: Exiting, status 7" has stderr "dinit: Exiting, status 7"
check "log: three 'Stopped child' lines" test "$(grep -c 'Stopped child' "$bdir/stderr")" -eq 3
check "TERM to container exit in ${term_secs}s (< 2 s, no escalation)" le "$term_secs" 2
check "no SIGKILL needed" test "$(grep -c SIGKILL "$bdir/stderr")" -eq 0
check "container gone (runc state fails)" gone
[ "$failed" -eq "$f0" ] || show

say "==== (c) orphans inside the container are adopted and reaped by dinit"
# 50 double forks that outlive their parent by a second, then 200 that exit
# at once: both sets are reparented to PID 1. The daemon itself is a tail,
# so every sleep with parent PID 1 is an adopted orphan.
bundle orphans /usr/local/bin/dinit -d 0 -k 2 \
    -- /bin/sh -c 'i=0; while [ $i -lt 50 ]; do (sleep 1.5 &); i=$((i+1)); done
                   echo spawned >> /shared/log
                   i=0; while [ $i -lt 200 ]; do (true &); i=$((i+1)); done
                   echo burst >> /shared/log
                   exec tail -f /dev/null'
f0=$failed
start_bg
check "orphans created" wait_for 5 log_lines '^spawned' 1
# procs: "pid state ppid comm" for every process in the container.
procs() {
    runc --root "$state" exec "$cid" /bin/sh -c 'cat /proc/[0-9]*/stat 2>/dev/null' |
        python3 -c '
import sys
for line in sys.stdin:
    head, _, rest = line.rpartition(")")
    pid, comm = head.split(" (", 1)
    f = rest.split()
    print(pid, f[0], f[1], comm)'
}
adopted=$(procs | awk '$3 == 1 && $4 == "sleep"' | wc -l)
check "orphaned sleeps adopted by PID 1 (dinit): $adopted of 50" test "$adopted" -ge 40
check "burst of 200 short-lived orphans done" wait_for 10 log_lines '^burst' 1
sleep 2
snapshot=$(procs)
zombies=$(printf '%s\n' "$snapshot" | awk '$2 == "Z"' | wc -l)
left=$(printf '%s\n' "$snapshot" | awk '$3 == 1 && $4 == "sleep"' | wc -l)
check "no zombie in the container ($zombies)" test "$zombies" -eq 0
check "the orphaned sleeps have exited and were reaped ($left left)" test "$left" -eq 0
check "only dinit, the daemon and our exec remain ($(printf '%s\n' "$snapshot" | wc -l) processes)" \
    test "$(printf '%s\n' "$snapshot" | wc -l)" -le 4
stop_container
check "exit status 15 (daemon killed by TERM; got $rc) in ${secs}s" test "$rc" -eq 15
[ "$failed" -eq "$f0" ] || { show; printf '%s\n' "$snapshot"; }

say "==== (d) a child that ignores TERM is SIGKILLed after -k 1"
bundle stubborn /usr/local/bin/dinit -d 0 -k 1 \
    -- /bin/sh -c 'trap "" TERM; echo ready >> /shared/log; exec sleep 1000'
f0=$failed
start_bg
check "child ready" wait_for 5 log_lines '^ready' 1
stop_container
check "log: still running after 1 s, sending SIGKILL" has stderr "still running after 1 s, sending SIGKILL"
check "container exit status 9, death by SIGKILL (got $rc)" test "$rc" -eq 9
check "log: Exiting, status 9" has stderr "dinit: Exiting, status 9"
check "container ended ${secs}s after TERM (1 s <= t < 3 s)" \
    eval 'le 1 "$secs" && le "$secs" 3'
[ "$failed" -eq "$f0" ] || show

say "==== (e) dcrond under dinit in the container"
# The README's form (no -- before the command line) and the \-- form for a
# command line that starts with - (failures only logged).
bundle cron /usr/local/bin/dinit -d 0 \
    -- /usr/local/bin/dcrond -i 0.3 'echo "tick $(date +%s)" >> /shared/log' \
    -- /usr/local/bin/dcrond -i 0.3 '\--' '-echo dash >> /shared/log; exit 3'
f0=$failed
start_bg
check "at least 4 ticks within 5 s" wait_for 5 log_lines '^tick' 4
check "dash command line keeps running after failures" wait_for 5 log_lines '^dash' 3
stop_container
check "log: dcrond: Started" has stderr "dcrond: Started"
check "log: failed dash run logged with status 3" has stderr "exited with status 3"
check "log: both dcronds stopped cleanly, status 0" \
    test "$(grep -c "Stopped child .* exited with status 0" "$bdir/stderr")" -eq 2
check "container exit status 0 (got $rc) in ${secs}s" test "$rc" -eq 0
check "no run left behind" gone
say "       $(grep -c '^tick' "$bdir/shared/log") ticks, $(grep -c '^dash' "$bdir/shared/log") dash runs"
[ "$failed" -eq "$f0" ] || show

say "==== (f) the static binary in a chroot with nothing but itself, no /proc"
bare=$tmp/bare
mkdir -p "$bare"
cp "$dinit" "$bare/dinit"
check "the chroot holds only /dinit" test "$(ls -A "$bare")" = dinit
f0=$failed
t0=$(now)
out=$(timeout -k 5 30 unshare --pid --fork --kill-child chroot "$bare" /dinit -d 0 -- :wait:/dinit -V 2>&1)
rc=$?
t1=$(now)
check "as PID 1: /dinit -- :wait:/dinit -V exits 0 (got $rc) in $(elapsed "$t0" "$t1")s" test "$rc" -eq 0
check "as PID 1: the child printed the version" grep -q '^dinit [0-9]' <<<"$out"
check "as PID 1: Exiting, status 0" grep -q 'dinit: Exiting, status 0' <<<"$out"
out2=$(timeout -k 5 30 chroot "$bare" /dinit -d 0 -- :wait:/dinit -V 2>&1)
rc=$?
check "as subreaper (not PID 1): exits 0 (got $rc)" test "$rc" -eq 0
check "as subreaper: says so" grep -q 'registered as child subreaper' <<<"$out2"
[ "$failed" -eq "$f0" ] || say "$out" "$out2"

# The same with a shell and dcrond, still no /proc, no libc: a :wait: shell,
# a failing dcrond run with `-`, and an orphan that dinit (PID 1) must kill
# before exiting (its sweep uses kill(-1), not /proc).
small=$tmp/small
mkdir -p "$small/bin"
cp "$dinit" "$small/dinit"
cp "$dcrond" "$small/dcrond"
cp "$busybox" "$small/bin/busybox"
ln -s busybox "$small/bin/sh"
ln -s busybox "$small/bin/sleep"
f0=$failed
t0=$(now)
out=$(timeout -k 5 30 unshare --pid --fork --kill-child chroot "$small" /dinit -d 0 -k 1 \
    -- :wait:/bin/sh -c 'echo "sh ppid=$PPID"; (/bin/sleep 100 &)' \
    -- :wait:-/dcrond -i 1 'echo cron ran; exit 3' 2>&1)
rc=$?
t1=$(now)
secs=$(elapsed "$t0" "$t1")
check "with busybox: exits 0 (got $rc) in ${secs}s" test "$rc" -eq 0
check "with busybox: the shell is a child of PID 1" grep -q '^sh ppid=1$' <<<"$out"
check "with busybox: dcrond ran its command line" grep -q '^cron ran$' <<<"$out"
check "with busybox: the orphaned sleep was killed at exit, within 3 s" le "$secs" 3
check "the chroot has no /proc" test ! -e "$small/proc"
[ "$failed" -eq "$f0" ] || say "$out"

say "==== (g) the Dockerfiles' example CMD, as written, in the container"
# dockerfile_cmd FILE: the JSON array of the file's CMD, one argument a line.
dockerfile_cmd() {
    python3 - "$1" <<'EOF'
import json, re, sys
text = re.sub(r'\\\n', ' ', open(sys.argv[1]).read())
cmds = [l.strip()[3:] for l in text.splitlines() if l.startswith('CMD ')]
for arg in json.loads(cmds[-1]):
    print(arg)
EOF
}
for flavour in alpine debian; do
    mapfile -t cmd < <(dockerfile_cmd "$repo/Dockerfile.$flavour")
    bundle "cmd-$flavour" "${cmd[@]}"
    f0=$failed
    start_bg
    check "$flavour: :wait: setup ran" wait_for 5 has stdout "setup done"
    check "$flavour: dcrond's first run" wait_for 5 has stdout "hourly cleanup"
    stop_container
    check "$flavour: exit status 15 (tail stopped by TERM; got $rc) in ${secs}s" test "$rc" -eq 15
    check "$flavour: dcrond stopped before tail" \
        test "$(grep -o "Stopped child [0-9]* '[^']*'" "$bdir/stderr" | cut -d"'" -f2 | tr '\n' ' ')" \
        = "/usr/local/bin/dcrond tail "
    [ "$failed" -eq "$f0" ] || { show; cat "$bdir/stdout"; }
done

finish
