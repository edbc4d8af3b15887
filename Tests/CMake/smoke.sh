#!/bin/sh
# Smoke tests for the CMake-built binaries: smoke.sh CASE BINARY.
# Exits 0 when the case passes; says why when it does not.
set -u
case_=$1
bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL $case_: $*"; echo "--- stdout:"; cat "$tmp/out" 2>/dev/null; echo "--- stderr:"; cat "$tmp/err" 2>/dev/null; exit 1; }
expect_status() { [ "$1" -eq "$2" ] || fail "exit status $1, expected $2"; }
expect_line() { grep -q -- "$2" "$tmp/$1" || fail "no line matching '$2' on std$1"; }

case $case_ in
dinit-usage)            # no command: usage on stderr, exit 2
    "$bin" > "$tmp/out" 2> "$tmp/err"
    expect_status $? 2
    expect_line err '^Usage: dinit'
    ;;
dinit-help)             # -h: usage on stdout, exit 0
    "$bin" -h > "$tmp/out" 2> "$tmp/err"
    expect_status $? 0
    expect_line out '^Usage: dinit'
    ;;
dinit-version)
    "$bin" -V > "$tmp/out" 2> "$tmp/err"
    expect_status $? 0
    expect_line out '^dinit [0-9]'
    ;;
dinit-wait-true)        # one successful :wait: command: exit 0
    "$bin" -d 0 -- :wait:true > "$tmp/out" 2> "$tmp/err"
    expect_status $? 0
    expect_line err "^dinit: Child [0-9]* 'true' exited with status 0"
    expect_line err '^dinit: Exiting, status 0$'
    ;;
dinit-term-shutdown)    # SIGTERM to dinit: the child is stopped with it, exit 15
    "$bin" -- sleep 30 > "$tmp/out" 2> "$tmp/err" &
    pid=$!
    i=0
    until grep -q "Started" "$tmp/err" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { kill -9 $pid; fail "sleep not started after 10 s"; }
        sleep 0.1
    done
    kill -TERM $pid
    wait $pid
    expect_status $? 15
    expect_line err "^dinit: Stopped child [0-9]* 'sleep', exited with status 15"
    expect_line err '^dinit: Exiting, status 15$'
    ;;
dcrond-usage)           # no arguments: usage on stderr, exit 2
    "$bin" > "$tmp/out" 2> "$tmp/err"
    expect_status $? 2
    expect_line err '^Usage: dcrond'
    ;;
dcrond-run-fails)       # a failing run ends dcrond with the run's status
    "$bin" -i 60 "echo ran; exit 4" > "$tmp/out" 2> "$tmp/err"
    expect_status $? 4
    expect_line out '^ran$'
    expect_line err '^dcrond: Exiting, status 4$'
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "ok $case_"
