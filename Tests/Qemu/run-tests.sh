#!/usr/bin/env bash
# The aarch64 binaries under qemu-user on an x86_64 machine (or any binaries
# under any user-mode emulator): what a release must do on arm64, run where
# CI runs. The children dinit and dcrond start are the host's own programs
# (sh, sleep): qemu-user hands an execve of a host binary to the kernel.
#
#   bash Tests/Qemu/run-tests.sh             # runs `make ARCH=aarch64` first
#   SKIP_BUILD=1 bash Tests/Qemu/run-tests.sh                   # out/aarch64/ as is
#   DINIT_BIN=... DCROND_BIN=... QEMU=qemu-riscv64 bash Tests/Qemu/run-tests.sh
#
# Needs qemu-user 8.1 or later (Debian 12's 7.2 answers
# prctl(PR_SET_CHILD_SUBREAPER) with EINVAL; bookworm-backports has 10.x),
# util-linux (unshare) and root for the PID 1 case. Ends with the line
# "N passed, M failed" and exits nonzero if anything failed.
#
# What only real arm64 can show: qemu owns the host's signal handling, so
# fault signals sent with kill(2) and the ignored-signal set a child
# inherits are qemu's, not dinit's. Those cases are left out here (see the
# IntegrationTests skipped under DINIT_UNDER_QEMU=1).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/Tests/Shell/checks.sh"

# ------------------------------------------------------------------ binaries

qemu=${QEMU:-qemu-aarch64}
if [ -n "${DINIT_BIN:-}" ] || [ -n "${DCROND_BIN:-}" ]; then
    dinit=${DINIT_BIN:?DINIT_BIN and DCROND_BIN go together}
    dcrond=${DCROND_BIN:?DINIT_BIN and DCROND_BIN go together}
else
    if [ -z "${SKIP_BUILD:-}" ]; then
        say "==== make ARCH=aarch64"
        make -C "$repo" ARCH=aarch64 >/dev/null || { say "run-tests.sh: make failed"; failed=1; finish; }
    fi
    dinit=$repo/out/aarch64/dinit
    dcrond=$repo/out/aarch64/dcrond
fi
for tool in "$qemu" unshare timeout; do
    command -v "$tool" >/dev/null 2>&1 || { say "run-tests.sh: $tool not found"; failed=1; finish; }
done

say "==== binaries ($("$qemu" --version | head -n 1))"
check "dinit exists: $dinit" test -x "$dinit"
check "dcrond exists: $dcrond" test -x "$dcrond"
[ "$failed" -eq 0 ] || finish

tmp=$(mktemp -d /tmp/dinit-qemu.XXXXXX)
bgpids=()
cleanup() {
    local pid
    for pid in "${bgpids[@]}"; do kill -KILL "$pid" >/dev/null 2>&1; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'fail interrupted; finish' INT TERM

# q PROGRAM ARGS...: PROGRAM under the emulator, with a watchdog. stdout and
# stderr go to $tmp/out and $tmp/err; sets $rc.
q() {
    timeout -k 5 60 "$qemu" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
    rc=$?
}
# bg PROGRAM ARGS...: the same in the background; sets $bpid (the emulator's
# PID is the emulated program's PID).
bg() {
    "$qemu" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null &
    bpid=$!
    bgpids+=("$bpid")
}
# wait_for SECONDS COMMAND...: poll every 0.05 s until the command succeeds.
has() { grep -qF -- "$2" "$1"; }
# pids FILE: the file with the PIDs in dinit's log lines replaced by P.
pids() { sed -E 's/(Started|Child|child) [0-9]+/\1 P/' "$1"; }
show() {
    say "       --- stdout:"; sed 's/^/       | /' "$tmp/out"
    say "       --- stderr:"; sed 's/^/       | /' "$tmp/err"
}

# ---------------------------------------------------------------------- tests

say "==== -V, --help, bad input"
f0=$failed
q "$dinit" -V
check "dinit -V exits 0 (got $rc)" test "$rc" -eq 0
check "dinit -V prints 'dinit <version>'" grep -qE '^dinit [0-9]+\.[0-9]+' "$tmp/out"
q "$dcrond" -V
check "dcrond -V prints 'dcrond <version>'" grep -qE '^dcrond [0-9]+\.[0-9]+' "$tmp/out"
q "$dinit" --help
check "dinit --help exits 0 (got $rc)" test "$rc" -eq 0
check "dinit --help: the usage line" eval 'grep -q "^Usage: dinit " "$tmp/out" && grep -q -- "-- command -- command" "$tmp/out"'
every_option() {
    local o
    for o in -q -g -j -d -k -h -V; do grep -q -- "^  $o" "$tmp/out" || return 1; done
}
check "dinit --help: every option" every_option
q "$dcrond" --help
check "dcrond --help: the usage line" grep -q '^Usage: dcrond .* -i interval' "$tmp/out"
q "$dinit" -d x -- true
check "dinit -d x: exit 2 (got $rc), one line" eval '[ "$rc" -eq 2 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ]'
[ "$failed" -eq "$f0" ] || show

say "==== the seed transcript: dinit -d 0.1 -- sleep 5 -- sleep 1"
f0=$failed
q "$dinit" -d 0.1 -- sleep 5 -- sleep 1
check "exit status 15 (got $rc)" test "$rc" -eq 15
cat > "$tmp/expected" <<'EOF'
dinit: Not PID 1, registered as child subreaper
dinit: Started P 'sleep'
dinit: Started P 'sleep'
dinit: Child P 'sleep' exited with status 0
dinit: Stopped child P 'sleep', exited with status 15
dinit: Exiting, status 15
EOF
check "the six lines of the seed document" eval 'pids "$tmp/err" | cmp -s - "$tmp/expected"'
p1=$(sed -n "2s/.*Started \([0-9]*\).*/\1/p" "$tmp/err")
p2=$(sed -n "3s/.*Started \([0-9]*\).*/\1/p" "$tmp/err")
check "the second sleep exited, the first was stopped" \
    eval 'has "$tmp/err" "Child $p2 " && has "$tmp/err" "Stopped child $p1 "'
[ "$failed" -eq "$f0" ] || { show; diff <(pids "$tmp/err") "$tmp/expected"; }

say "==== SIGUSR1 to dinit reaches the child"
f0=$failed
log=$tmp/usr1.log
: > "$log"
bg "$dinit" -d 0 -- sh -c "trap 'echo usr1 >> $log; exit 0' USR1; echo ready >> $log; while :; do sleep 0.1; done"
check "child ready" wait_for 10 has "$log" ready
kill -USR1 "$bpid"
check "the child's USR1 trap ran" wait_for 10 has "$log" usr1
wait "$bpid"; rc=$?
check "the child exited 0 from its trap" has "$tmp/err" "'sh' exited with status 0"
# A daemon that ends on its own ends the run with status 1 (README, Exit status).
check "dinit exits 1: its daemon ended on its own (got $rc)" test "$rc" -eq 1
[ "$failed" -eq "$f0" ] || show

# The orphan check, run by dinit as its last :wait: command: 20 sleeps
# orphaned by the first command (they live 5 s: under load the loop itself
# takes seconds) must be children of dinit ($PPID) while they
# live, and gone (reaped, not zombies) afterwards. It reads dinit's own
# children list, not all of /proc: fast whatever else runs on the machine.
orphan_maker='i=0; while [ $i -lt 20 ]; do (sleep 5 &); i=$((i+1)); done'
# shellcheck disable=SC2016
orphan_check='count() {
    n=0
    for c in $(cat /proc/$PPID/task/*/children); do
      s=$(cat /proc/$c/stat 2>/dev/null) || continue
      case "$s" in $1) n=$((n+1)) ;; esac
    done
    echo $n
  }
  echo "adopted $(count "*(sleep) *")"
  sleep 6
  echo "left $(count "*(sleep) *") zombies $(count "*) Z *")"'

say "==== orphans reaped as PID 1 (unshare --pid --fork --mount-proc)"
f0=$failed
timeout -k 5 60 unshare --pid --fork --mount-proc --kill-child "$qemu" "$dinit" -d 0 \
    -- :wait:sh -c "$orphan_maker" -- :wait:sh -c "$orphan_check" > "$tmp/out" 2> "$tmp/err" < /dev/null
rc=$?
check "exit status 0 (got $rc)" test "$rc" -eq 0
check "dinit is PID 1: no subreaper line" eval '! has "$tmp/err" subreaper'
check "the orphaned sleeps were adopted by PID 1 ($(grep -o 'adopted [0-9]*' "$tmp/out"))" \
    eval '[ "$(sed -n "s/^adopted //p" "$tmp/out")" -ge 15 ]'
check "all reaped, no zombie ($(cat "$tmp/out" | tail -n 1))" grep -q '^left 0 zombies 0$' "$tmp/out"
[ "$failed" -eq "$f0" ] || show

say "==== orphans reaped as subreaper (not PID 1)"
f0=$failed
q "$dinit" -d 0 -- :wait:sh -c "$orphan_maker" -- :wait:sh -c "$orphan_check"
check "exit status 0 (got $rc)" test "$rc" -eq 0
check "log: registered as child subreaper" has "$tmp/err" "dinit: Not PID 1, registered as child subreaper"
check "the orphaned sleeps were adopted by dinit ($(grep -o 'adopted [0-9]*' "$tmp/out"))" \
    eval '[ "$(sed -n "s/^adopted //p" "$tmp/out")" -ge 15 ]'
check "all reaped, no zombie ($(cat "$tmp/out" | tail -n 1))" grep -q '^left 0 zombies 0$' "$tmp/out"
[ "$failed" -eq "$f0" ] || show

say "==== -g: the stop signal reaches a shell's own child"
f0=$failed
log=$tmp/g.log
: > "$log"
# The grandchild (a subshell) logs the TERM it gets; without -g only the
# outer shell would get it.
bg "$dinit" -g -d 0 -k 3 -- sh -c "(trap 'echo grandchild TERM >> $log; exit 0' TERM; echo ready >> $log; while :; do sleep 0.1; done) & wait"
check "grandchild ready" wait_for 10 has "$log" ready
kill -TERM "$bpid"
wait "$bpid"; rc=$?
check "the grandchild got TERM" wait_for 5 has "$log" "grandchild TERM"
check "no SIGKILL needed" eval '! has "$tmp/err" SIGKILL'
check "dinit exited with the child's status 15 (got $rc)" test "$rc" -eq 15
[ "$failed" -eq "$f0" ] || show

say "==== exec failure: 127 for a missing program, 126 for one not executable"
f0=$failed
q "$dinit" -d 0 -- :wait:/nonexistent/program
check "exit status 127 (got $rc)" test "$rc" -eq 127
check "log: Cannot execute ... No such file or directory" \
    has "$tmp/err" "dinit: Cannot execute '/nonexistent/program': No such file or directory"
q "$dinit" -d 0 -- :wait:/etc/passwd
check "exit status 126 (got $rc)" test "$rc" -eq 126
[ "$failed" -eq "$f0" ] || show

say "==== dcrond: the first run at once, a clean stop on TERM"
f0=$failed
log=$tmp/cron.log
: > "$log"
bg "$dcrond" -i 3600 "echo ran >> $log"
check "first run within 5 s" wait_for 5 has "$log" ran
check "log: dcrond: Started" wait_for 5 has "$tmp/err" "dcrond: Started"
check "log: the run exited with status 0" wait_for 5 has "$tmp/err" "exited with status 0"
kill -TERM "$bpid"
wait "$bpid"; rc=$?
check "TERM between runs: exit 0 (got $rc)" test "$rc" -eq 0
check "log: Exiting, status 0" has "$tmp/err" "dcrond: Exiting, status 0"
check "ran exactly once" test "$(grep -c ran "$log")" -eq 1
[ "$failed" -eq "$f0" ] || show

finish
