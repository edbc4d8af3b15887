#!/usr/bin/env bash
# journald logging (the Journald trait): builds dinit and dcrond with
# `--traits Journald`, runs them against a stand-in journal socket bound at
# /run/systemd/journal/socket inside a private mount namespace, and checks
# the fields received. Also checks that the default build does not link
# libsystemd. Needs root (unshare --mount), libsystemd-dev, python3.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

swift build --traits Journald --scratch-path .build-journald >/tmp/journald-build.log 2>&1 || { cat /tmp/journald-build.log; echo "0 passed, 1 failed"; exit 1; }
swift build --scratch-path .build-journald-off >/tmp/journald-build-off.log 2>&1 || { cat /tmp/journald-build-off.log; echo "0 passed, 1 failed"; exit 1; }
J=.build-journald/debug
OFF=.build-journald-off/debug

check "default build does not link libsystemd" bash -c "! ldd $OFF/dinit | grep -q libsystemd && ! ldd $OFF/dcrond | grep -q libsystemd"
check "trait build links libsystemd" bash -c "ldd $J/dinit | grep -q libsystemd"
check "default build refuses -j with one line, exit 2" bash -c "
    out=\$($OFF/dinit -j -- true 2>&1); rc=\$?
    [ \$rc -eq 2 ] && [ \$(printf '%s\n' \"\$out\" | wc -l) -eq 1 ] && printf '%s' \"\$out\" | grep -q 'journald'"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/inner.sh" <<INNER
set -u
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
python3 Tests/Journald/receiver.py /run/systemd/journal/socket "$work/entries.jsonl" 6 &
for i in \$(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
$J/dinit -j -d 0 -- :wait:sh -c 'exit 0' -- :wait:-sh -c 'exit 3' -- sh -c 'exit 4' 2>"$work/dinit.err"
echo \$? > "$work/dinit.rc"
$J/dcrond -j -i 0.1 'exit 5' 2>"$work/dcrond.err"
echo \$? > "$work/dcrond.rc"
sleep 0.3
kill %1 2>/dev/null
wait
INNER
unshare --mount --propagation private bash "$work/inner.sh"

check "dinit exit status 4 with -j" test "$(cat "$work/dinit.rc" 2>/dev/null)" = 4
check "dinit wrote nothing to stderr (all went to the journal)" test ! -s "$work/dinit.err"
check "dcrond exit status 5 with -j" test "$(cat "$work/dcrond.rc" 2>/dev/null)" = 5
check "dcrond wrote nothing to stderr" test ! -s "$work/dcrond.err"
check "journal entries have the expected fields" python3 - "$work/entries.jsonl" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
def one(e, k): return e[k][0] if k in e and len(e[k]) == 1 else None
dinit = [e for e in entries if one(e, "SYSLOG_IDENTIFIER") == "dinit"]
dcrond = [e for e in entries if one(e, "SYSLOG_IDENTIFIER") == "dcrond"]
errors = []
def expect(cond, what):
    if not cond: errors.append(what)
expect(len(dinit) >= 7, f"dinit entries: {len(dinit)}")
started = [e for e in dinit if one(e, "MESSAGE").startswith("Started ")]
expect(len(started) == 3, "three Started entries")
for e in started:
    expect(one(e, "PRIORITY") == "6", "Started is info (6)")
    expect(one(e, "CHILD_PROGRAM") == "sh", "CHILD_PROGRAM=sh")
    expect(one(e, "MESSAGE") == f"Started {one(e, 'CHILD_PID')} 'sh'", "MESSAGE names the pid")
failed = [e for e in dinit if one(e, "MESSAGE").endswith("exited with status 4")]
expect(len(failed) == 1 and one(failed[0], "PRIORITY") == "3" and one(failed[0], "CHILD_STATUS") == "4",
       "the daemon's own exit is an error (3) with CHILD_STATUS=4")
dash = [e for e in dinit if one(e, "MESSAGE").endswith("exited with status 3")]
expect(len(dash) == 1 and one(dash[0], "PRIORITY") == "6", "a :wait:- failure is info (6)")
exiting = [e for e in dinit if one(e, "MESSAGE") == "Exiting, status 4"]
expect(len(exiting) == 1 and one(exiting[0], "CHILD_STATUS") == "4", "Exiting entry")
expect(not any("CODE_FILE" in e or "CODE_LINE" in e or "CODE_FUNC" in e for e in entries), "no CODE_FILE/LINE/FUNC")
expect(not any(one(e, "MESSAGE").startswith("dinit:") for e in dinit), "MESSAGE has no 'dinit:' prefix")
expect(any(one(e, "MESSAGE") == "Child %s exited with status 5" % one(e, "CHILD_PID") and one(e, "PRIORITY") == "3"
           and one(e, "CHILD_PROGRAM") == "exit 5" for e in dcrond), "dcrond failure entry")
if errors:
    print("\n".join(errors)); print(json.dumps(entries, indent=1)[:3000]); sys.exit(1)
PY

# :name=NAME: is the CHILD_PROGRAM field (and the name in MESSAGE).
cat > "$work/named.sh" <<INNER
set -u
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
python3 Tests/Journald/receiver.py /run/systemd/journal/socket "$work/named.jsonl" 3 &
for i in \$(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
$J/dinit -j -d 0 -- :wait::name=setup.step-1:sh -c 'exit 0' 2>"$work/named.err"
sleep 0.3
kill %1 2>/dev/null
wait
INNER
unshare --mount --propagation private bash "$work/named.sh"
check "journal CHILD_PROGRAM is the :name=NAME:" python3 - "$work/named.jsonl" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
child = [e for e in entries if "CHILD_PID" in e]
ok = len(child) == 2 and all(e["CHILD_PROGRAM"] == ["setup.step-1"] and "'setup.step-1'" in e["MESSAGE"][0]
                             for e in child)
if not ok:
    print(json.dumps(entries, indent=1)[:3000]); sys.exit(1)
PY

# -p with -j: every child line is an entry of its own.
cat > "$work/tagged.sh" <<INNER
set -u
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
python3 Tests/Journald/receiver.py /run/systemd/journal/socket "$work/tagged.jsonl" 3 &
for i in \$(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
$J/dinit -j -p -d 0 -- :wait:sh -c 'echo out-line; echo err-line >&2; printf "no newline"' -- :wait:printf 'x\n' \
    >"$work/tagged.out" 2>"$work/tagged.err"
echo \$? > "$work/tagged.rc"
sleep 0.3
kill %1 2>/dev/null
wait
INNER
unshare --mount --propagation private bash "$work/tagged.sh"

check "-p -j: exit status 0, nothing on stdout or stderr" bash -c "
    test \"\$(cat $work/tagged.rc)\" = 0 && test ! -s $work/tagged.out && test ! -s $work/tagged.err"
check "-p -j: one entry per child line, PRIORITY 6 for stdout and 3 for stderr" python3 - "$work/tagged.jsonl" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
def one(e, k): return e[k][0] if k in e and len(e[k]) == 1 else None
started = {one(e, "CHILD_PROGRAM"): one(e, "CHILD_PID") for e in entries
           if one(e, "SYSLOG_IDENTIFIER") == "dinit" and one(e, "MESSAGE").startswith("Started ")}
lines = [e for e in entries if one(e, "SYSLOG_IDENTIFIER") != "dinit"]
got = [(one(e, "SYSLOG_IDENTIFIER"), one(e, "MESSAGE"), one(e, "PRIORITY"), one(e, "CHILD_PROGRAM"), one(e, "CHILD_PID"))
       for e in lines]
want = {("sh", "out-line", "6", "sh", started.get("sh")), ("sh", "err-line", "3", "sh", started.get("sh")),
        ("sh", "no newline", "6", "sh", started.get("sh")), ("printf", "x", "6", "printf", started.get("printf"))}
errors = []
if len(got) != 4 or set(got) != want: errors.append(f"child entries: {got}, want {want}")
if None in started.values() or len(started) != 2: errors.append(f"Started entries: {started}")
if any("|" in (one(e, "MESSAGE") or "") for e in lines): errors.append("no tag in MESSAGE")
if errors:
    print("\n".join(errors)); print(json.dumps(entries, indent=1)[:3000]); sys.exit(1)
PY

check "without a journal socket -j falls back to stderr" bash -c "
    unshare --mount --propagation private bash -c 'mount -t tmpfs tmpfs /run; $J/dinit -j -d 0 -- :wait:true' 2>&1 | grep -q \"dinit: Exiting, status 0\""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
