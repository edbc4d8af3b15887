# The harness of the shell suites (Tests/Container, Tests/Examples,
# Tests/Qemu), sourced by each: counters, one line per check, and the
# closing line "N passed, M failed" with the exit status to match.

passed=0
failed=0

say() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); say "  ok   $1"; }
fail() { failed=$((failed + 1)); say "  FAIL $1"; }
# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    say ""
    say "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
# le A B: A <= B, as decimals.
le() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$1" "$2"; }
# wait_for SECONDS COMMAND...: poll until the command succeeds (1 if it
# never did within SECONDS, decimals allowed).
wait_for() {
    local limit=$1; shift
    local end
    end=$(python3 -c "import time,sys; print(time.time() + float(sys.argv[1]))" "$limit")
    until "$@"; do
        le "$end" "$(now)" && return 1
        sleep 0.05
    done
}

# require SCRIPT HINT TOOL...: stop with a failure when a tool is missing.
require() {
    local script=$1 hint=$2; shift 2
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            say "$script: $tool not found (apt-get install -y $hint)"
            failed=1; finish
        fi
    done
}

# binaries_under_test SCRIPT: sets dinit and dcrond to $DINIT_BIN and
# $DCROND_BIN (given together), else to $repo/out/, built by `make` first
# unless SKIP_BUILD is set.
binaries_under_test() {
    if [ -n "${DINIT_BIN:-}" ] || [ -n "${DCROND_BIN:-}" ]; then
        dinit=${DINIT_BIN:?DINIT_BIN and DCROND_BIN go together}
        dcrond=${DCROND_BIN:?DINIT_BIN and DCROND_BIN go together}
        return
    fi
    if [ -z "${SKIP_BUILD:-}" ]; then
        say "==== make"
        if ! make -C "$repo" >/dev/null; then
            say "$1: make failed"
            failed=1; finish
        fi
    fi
    dinit=$repo/out/dinit
    dcrond=$repo/out/dcrond
}
