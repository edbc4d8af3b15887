#!/usr/bin/env bash
# The php-nginx example for real: exactly the CMD of ./Dockerfile (read from
# its JSON array, so the two cannot drift apart) as PID 1 of a runc container
# (the runtime Docker uses), with this machine's Debian nginx and php-fpm
# standing in for the image's. No Docker engine needed.
#
#   bash Tests/Examples/php-nginx-runc.sh          # runs `make` first
#   SKIP_BUILD=1 bash Tests/Examples/php-nginx-runc.sh                 # out/ as is
#   DINIT_BIN=... DCROND_BIN=... bash Tests/Examples/php-nginx-runc.sh # other binaries
#
# The container's root filesystem is the image's layout rebuilt from the
# host: /usr and /etc bind-mounted read-only (so /etc/nginx, /etc/php and
# /etc/passwd are Debian's), the Dockerfile's `COPY app/ /app/` as a
# read-only bind mount of ./app, the two binaries over /usr/local/bin, and
# its own /proc, /run, /tmp and /var (tmpfs). /var/cache/app is a bind mount
# of a directory the test seeds and reads. The process gets Docker's default
# capabilities and its own network namespace (loopback only); requests come
# from the host's curl entered into that namespace with nsenter.
#
# Checks: a PHP page answers through nginx -> php-fpm (and the first answer
# is already a 200); the cron job ran at start and deleted only the stale
# file; `runc kill TERM` stops the commands in reverse start order (from
# dinit's log lines); a request in flight when TERM arrives completes with
# 200; no SIGKILL was needed and nothing of the container is left; dinit's
# exit status is the one README.md gives. Prints the start and stop timings.
#
# Needs root, runc, nginx, php8.2-fpm, curl, util-linux (nsenter), procps, python3.
# Ends with "N passed, M failed" and exits nonzero if anything failed.
set -uo pipefail

tests=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$tests/../.." && pwd)
here=$repo/examples/php-nginx
. "$repo/Tests/Shell/checks.sh"

# ---------------------------------------------------------------- prerequisites

if [ "$(id -u)" -ne 0 ]; then
    say "php-nginx-runc.sh: must run as root (runc)"
    failed=1; finish
fi
require php-nginx-runc.sh "runc util-linux procps curl nginx php8.2-fpm" runc nsenter ps curl python3 nginx php-fpm8.2

binaries_under_test php-nginx-runc.sh
for b in "$dinit" "$dcrond"; do
    [ -x "$b" ] || { say "php-nginx-runc.sh: $b not found or not executable"; failed=1; finish; }
done

# ------------------------------------------------------------- the Dockerfile

tmp=$(mktemp -d /tmp/dinit-php-nginx.XXXXXX)
state=$tmp/runc-state            # our own runc root: other containers untouched
cid=dinit-php-nginx-$$
rpid=
curlpid=
cleanup() {
    runc --root "$state" kill "$cid" KILL >/dev/null 2>&1
    runc --root "$state" delete -f "$cid" >/dev/null 2>&1
    [ -n "$rpid" ] && kill "$rpid" >/dev/null 2>&1
    [ -n "$curlpid" ] && kill "$curlpid" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'fail interrupted; finish' INT TERM

# From the Dockerfile: the CMD (one argument per line in cmd.args), the port
# it EXPOSEs, and the one COPY of the example's files (source, destination).
# From the CMD: the name of each command as dinit logs it, in start order,
# and which of them are :wait: steps; the prefix grammar is
# [:key[=value]:]...[-]program, and :name=NAME: replaces the program name.
if ! python3 - "$here/Dockerfile" "$tmp" <<'EOF'
import json, re, sys
path, out = sys.argv[1], sys.argv[2]
text = re.sub(r'\\\n', ' ', open(path).read())
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith('#')]
cmds = [l[4:] for l in lines if l.startswith('CMD ')]
expose = [l.split()[1] for l in lines if l.startswith('EXPOSE ')]
copies = [l.split()[1:] for l in lines if l.startswith('COPY ') and '--from=' not in l]
if len(cmds) != 1 or len(expose) != 1 or copies != [['app/', '/app/']]:
    sys.exit('Dockerfile: expected one CMD, one EXPOSE and one COPY app/ /app/; got %r %r %r'
             % (cmds, expose, copies))
argv = json.loads(cmds[0])
if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or '\n' in ''.join(argv):
    sys.exit('Dockerfile: CMD is not a JSON array of one-line strings')
commands, cur = [], None
for a in argv[1:]:
    if a == '--':
        cur = []
        commands.append(cur)
    elif cur is not None:
        cur.append(a)
names = []
for c in commands:
    s, keys = c[0], {}
    while s.startswith(':') and ':' in s[1:]:
        end = s.index(':', 1)
        k, _, v = s[1:end].partition('=')
        keys[k] = v
        s = s[end + 1:]
    s = s[1:] if s.startswith('-') else s
    names.append(('wait' if 'wait' in keys else 'daemon', keys.get('name', s)))
open(out + '/cmd.args', 'w').write(''.join(a + '\n' for a in argv))
open(out + '/port', 'w').write(expose[0].split('/')[0])
open(out + '/names', 'w').write(''.join('%s %s\n' % n for n in names))
opts = argv[1:argv.index('--')] if '--' in argv else []
open(out + '/budget', 'w').write(opts[opts.index('-t') + 1] if '-t' in opts[:-1] else '')
EOF
then
    failed=1; finish
fi
mapfile -t cmd < "$tmp/cmd.args"
port=$(cat "$tmp/port")
budget=$(cat "$tmp/budget")
all_names=$(cut -d' ' -f2 "$tmp/names" | tr '\n' ' ')
daemons=$(awk '$1 == "daemon" { print $2 }' "$tmp/names" | tr '\n' ' ')
reverse_daemons=$(awk '$1 == "daemon" { print $2 }' "$tmp/names" | tac | tr '\n' ' ')
say "==== the Dockerfile's CMD, as PID 1 of a runc container"
say "       ${cmd[*]}"
say "       commands: $all_names(daemons: $daemons)"

# ------------------------------------------------------------------ the bundle

rootfs=$tmp/rootfs
bdir=$tmp/bundle
cache=$tmp/cache                 # the container's /var/cache/app
mkdir -p "$rootfs"/{usr,etc,app,proc,dev,sys,run,tmp,var} "$bdir" "$tmp/bin" "$cache"
for l in bin sbin lib lib64 lib32 libx32; do
    # merged /usr (Debian 12): /bin -> usr/bin and so on, as on the host
    if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$rootfs/$l"
    elif [ -d "/$l" ]; then mkdir -p "$rootfs/$l"; fi
done
cp "$dinit" "$tmp/bin/dinit"
cp "$dcrond" "$tmp/bin/dcrond"
# A cache file older than the job's hour and a fresh one: the first run of
# the cleanup job (at start) must delete the one and keep the other.
touch -d '2 hours ago' "$cache/stale.cache"
touch "$cache/fresh.cache"

runc spec --bundle "$bdir" || { failed=1; finish; }
python3 - "$bdir/config.json" "$rootfs" "$here/app" "$tmp/bin" "$cache" "${cmd[@]}" <<'EOF' || { failed=1; finish; }
import json, os, sys
path, rootfs, app, bindir, cache, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
c = json.load(open(path))
c['process']['terminal'] = False
c['process']['args'] = args
# Docker's default capability set (what `docker run` gives the image).
caps = ['CAP_' + n for n in ('CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID '
                             'SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE').split()]
c['process']['capabilities'] = {k: caps for k in ('bounding', 'effective', 'permitted')}
c['root'] = {'path': rootfs, 'readonly': True}
c['hostname'] = 'php-nginx'
ro = ['rbind', 'ro', 'nosuid', 'nodev']
def tmpfs(dest, mode):
    return {'destination': dest, 'type': 'tmpfs', 'source': 'tmpfs',
            'options': ['nosuid', 'nodev', 'mode=' + mode, 'size=32m']}
def bind(dest, src, opts):
    return {'destination': dest, 'type': 'bind', 'source': src, 'options': opts}
c['mounts'] += [
    bind('/usr', '/usr', ro),
    bind('/etc', '/etc', ro),
    bind('/usr/local/bin', bindir, ro),
    bind('/app', app, ro),
    tmpfs('/run', '0755'),
    tmpfs('/tmp', '1777'),
    tmpfs('/var', '0755'),
    bind('/var/cache/app', cache, ['rbind', 'rw']),
]
for l in ('lib32', 'libx32'):
    if os.path.isdir('/' + l) and not os.path.islink('/' + l):
        c['mounts'].append(bind('/' + l, '/' + l, ro))
json.dump(c, open(path, 'w'), indent=2)
EOF

# --------------------------------------------------------------------- helpers

cpid() {
    runc --root "$state" state "$cid" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null
}
# started: the container's init runs; sets $initpid (its host PID).
started() { initpid=$(cpid) && [ -n "$initpid" ] && [ "$initpid" -gt 0 ]; }
# container_ps: "pid comm wchan" of every process in the container's PID
# namespace ($pidns, read at start), seen from the host.
container_ps() {
    ps -e -o pidns=,pid=,comm=,wchan:32= | awk -v ns="$pidns" '$1 == ns { print $2, $3, $4 }'
}
# request PATH OUTFILE: one request from the container's own loopback;
# prints the HTTP status (000 when there was no answer).
request() {
    nsenter -t "$initpid" -n curl -s -o "$2" -w '%{http_code}' --max-time 10 \
        "http://127.0.0.1:$port$1" 2>/dev/null
}
# first_answer: GET / as soon as nginx accepts a connection (tried every
# 2 ms from inside the container's network namespace), so that the first
# answer nginx gives is the one checked; sets $code.
first_answer() {
    code=$(nsenter -t "$initpid" -n python3 - "$port" "$tmp/index.out" <<'EOF'
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
    except OSError:
        time.sleep(0.002)
        continue
    s.sendall(b'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n')
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    open(out, 'wb').write(body)
    print(head.split()[1].decode() if head.startswith(b'HTTP/') else '000')
    sys.exit(0)
print('000')
EOF
)
    [ "$code" != 000 ]
}
has() { grep -qF -- "$2" "$bdir/$1"; }
show() {
    say "       --- stderr:"; sed 's/^/       | /' "$bdir/stderr"
    say "       --- stdout:"; sed 's/^/       | /' "$bdir/stdout"
}
# names_of WORD: the names in dinit's "<WORD> <pid> '<name>'" log lines, in order.
names_of() {
    grep -o "dinit: $1 [0-9]* '[^']*'" "$bdir/stderr" | cut -d"'" -f2 | tr '\n' ' '
}
# sleeping_worker: a worker of php-fpm's master ($fpm_master, host PID) is
# inside the slow page's usleep (its kernel wait channel is a nanosleep),
# i.e. the request is in flight. Reads only the workers' /proc files, so
# that it keeps up with a 1 s request on a loaded machine.
sleeping_worker() {
    local w
    for w in $(cat "/proc/$fpm_master/task/$fpm_master/children" 2>/dev/null); do
        grep -q nanosleep "/proc/$w/wchan" 2>/dev/null && return 0
    done
    return 1
}

# ----------------------------------------------------------------------- start

t0=$(now)
runc --root "$state" run --bundle "$bdir" "$cid" > "$bdir/stdout" 2> "$bdir/stderr" < /dev/null &
rpid=$!
initpid=
wait_for 10 eval 'started || ! kill -0 "$rpid" 2>/dev/null'
if ! started; then
    wait "$rpid"
    fail "container did not start (runc run exited with status $?)"
    rpid=
    show; finish
fi
pidns=$(readlink "/proc/$initpid/ns/pid" | tr -dc 0-9)
code=000
check "the page answers (GET /)" first_answer
t_page=$(now)
start_secs=$(elapsed "$t0" "$t_page")
check "the first answer is a 200, never a 502 (got $code)" test "$code" = 200
check "the page comes from PHP 8.2 through php-fpm" grep -q '^php 8\.2\.' "$tmp/index.out"
check "the page has the greeting that setup wrote into /run/app/config.php" \
    grep -q '^Hello from php-fpm behind nginx, under dinit$' "$tmp/index.out"
check "log: setup ran to completion first" has stdout "setup: done"
check "dinit is PID 1 (comm of the container's init: $(cat "/proc/$initpid/comm"))" \
    test "$(cat "/proc/$initpid/comm")" = dinit

check "cron: the stale cache file is deleted by the job's first run" \
    wait_for 10 test ! -e "$cache/stale.cache"
check "cron: the fresh cache file is kept" test -e "$cache/fresh.cache"
check "cron: the job printed what it deleted" wait_for 5 has stdout "/var/cache/app/stale.cache"
check "cron: the run exited 0" wait_for 5 grep -q "dcrond: Child [0-9]* exited with status 0" "$bdir/stderr"
check "log: started in order: $all_names" test "$(names_of Started)" = "$all_names"
check "GET / again: 200" test "$(request / "$tmp/index2.out")" = 200

procs_before=$(container_ps | wc -l)
comms=$(container_ps | awk '{ print $2 }' | sort | uniq -c | awk '{ printf "%s x%s, ", $2, $1 }')
say "       running: $procs_before processes: ${comms%, }"
check "php-fpm and nginx masters and workers are running (>= 6 processes)" test "$procs_before" -ge 6
[ "$failed" -eq 0 ] || show

# ------------------------------------------------------------------------ stop

say "==== runc kill TERM with a request in flight"
fpm_master=$(ps -o pid=,comm= --ppid "$initpid" | awk '$2 ~ /^php-fpm/ { print $1 }')
: > "$tmp/slow.out"; : > "$tmp/slow.code"
t_req=$(now)
{
    nsenter -t "$initpid" -n curl -s -o "$tmp/slow.out" -w '%{http_code}' --max-time 15 \
        "http://127.0.0.1:$port/slow.php" > "$tmp/slow.code" 2>/dev/null
    now > "$tmp/slow.done"
} &
curlpid=$!
check "the slow request is in php-fpm (a worker sleeps in usleep)" wait_for 5 sleeping_worker
t_term=$(now)
runc --root "$state" kill "$cid" TERM
if ! wait_for 20 eval '! kill -0 "$rpid" 2>/dev/null'; then
    say "       container still running 20 s after TERM: SIGKILL"
    runc --root "$state" kill "$cid" KILL
fi
wait "$rpid"
rc=$?
t_end=$(now)
rpid=
wait "$curlpid"
curlpid=
t_curl=$(cat "$tmp/slow.done" 2>/dev/null || now)
stop_secs=$(elapsed "$t_term" "$t_end")
req_secs=$(elapsed "$t_req" "$t_curl")

check "the in-flight request completed with 200 (got $(cat "$tmp/slow.code"))" \
    test "$(cat "$tmp/slow.code")" = 200
check "... with the whole answer ('$(cat "$tmp/slow.out")')" grep -q '^slept 1 s$' "$tmp/slow.out"
check "... after TERM: sent $(elapsed "$t_req" "$t_term") s into the request, answered at ${req_secs} s" \
    le "$t_term" "$t_curl"
check "log: stopped in reverse start order: $reverse_daemons" test "$(names_of 'Stopped child')" = "$reverse_daemons"
check "log: every daemon stopped with status 0" \
    test "$(grep -c "dinit: Stopped child .* exited with status 0$" "$bdir/stderr")" -eq "$(wc -w <<<"$daemons")"
check "log: no SIGKILL was needed" eval '! grep -q SIGKILL "$bdir/stderr"'
check "exit status 0, as README.md says (got $rc)" test "$rc" -eq 0
check "log: dinit: Exiting, status 0" has stderr "dinit: Exiting, status 0"
check "the container is gone (runc state fails)" eval '! runc --root "$state" state "$cid" >/dev/null 2>&1'
check "nothing of the container is left running" test -z "$(container_ps)"
if [ -n "$budget" ]; then
    check "the stop took less than the stop budget, -t $budget (${stop_secs} s)" le "$stop_secs" "$budget"
fi
[ "$failed" -eq 0 ] || show

say ""
say "timings: start until the page answers ${start_secs} s; stop (TERM until dinit exited) ${stop_secs} s"
finish
