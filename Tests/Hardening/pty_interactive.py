#!/usr/bin/env python3
"""Drives dinit through a pseudo-terminal, as `docker run -it` would.

    python3 pty_interactive.py /path/to/dinit

Runs `dinit -d 0.1 -- sleep 100 -- /bin/sh -i` with a pty as its controlling
terminal (pty.fork makes the child a session leader on the pty), then:

1. waits for the shell's prompt; the shell's process group is the terminal's
   foreground group (dinit handed it over with tcsetpgrp);
2. types `echo hello-$((6*7))` and reads `hello-42`;
3. types `sleep 30`, presses Ctrl-C, and sees the prompt again within 2 s
   (the shell's job got SIGINT; dinit did not shut down), then checks that
   the shell still answers;
4. types `exit`: dinit stops `sleep 100` and exits within a few seconds with
   status 15 (the shell exited 0 on its own, `sleep` was stopped with
   SIGTERM: the first nonzero status is 15).

Prints PASS or FAIL (with the terminal transcript) and exits 0 or 1. Every
wait is bounded; an alarm kills everything after 40 s.
Standard library only.
"""
import os
import pty
import re
import select
import signal
import sys
import time

PROMPT = b"PTYPROMPT$ "


class Failure(Exception):
    pass


def descendants(pid):
    out, queue = [], [pid]
    while queue:
        p = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out += kids
            queue += kids
    return out


def kill_tree(pid):
    for p in [pid] + descendants(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


class Session:
    def __init__(self, dinit):
        env = dict(os.environ)
        env["PS1"] = PROMPT.decode()
        env["TERM"] = "dumb"
        env.pop("ENV", None)
        argv = [dinit, "-d", "0.1", "--", "sleep", "100", "--", "/bin/sh", "-i"]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(dinit, argv, env)
            finally:
                os._exit(127)
        self.buf = bytearray()
        self.eof = False
        self.status = None  # raw wait status once reaped

    def pump(self, timeout):
        """Reads what is available within `timeout` seconds."""
        if self.eof:
            time.sleep(min(timeout, 0.05))
            return
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if r:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the slave side is closed
                data = b""
            if data:
                self.buf += data
            else:
                self.eof = True

    def expect(self, pattern, start, timeout, what):
        """Waits until `pattern` (bytes) occurs in the output after offset
        `start`; returns the offset just past it."""
        end = time.monotonic() + timeout
        while True:
            i = self.buf.find(pattern, start)
            if i >= 0:
                return i + len(pattern)
            left = end - time.monotonic()
            if left <= 0 or (self.eof and self.buf.find(pattern, start) < 0):
                raise Failure(f"{what}: {pattern!r} not seen within {timeout} s")
            self.pump(min(left, 0.1))

    def send(self, data):
        os.write(self.fd, data)

    def alive(self):
        if self.status is not None:
            return False
        pid, st = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.status = st
        return False

    def wait_exit(self, timeout):
        end = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > end:
                raise Failure(f"dinit did not exit within {timeout} s")
            self.pump(0.05)
        # Collect what is left on the terminal (bounded).
        drain_end = time.monotonic() + 1
        while not self.eof and time.monotonic() < drain_end:
            self.pump(0.05)
        return self.status

    def transcript(self):
        return self.buf.decode("utf-8", "replace")


def run(dinit):
    s = Session(dinit)
    try:
        # 1. Prompt, and the shell owns the terminal.
        pos = s.expect(PROMPT, 0, 5, "first prompt")
        text = s.transcript()
        started = re.findall(r"dinit: Started (\d+) '([^']*)'", text)
        if [name for _, name in started] != ["sleep", "/bin/sh"]:
            raise Failure(f"expected dinit to start sleep and /bin/sh, log: {started}")
        sleep_pid, sh_pid = int(started[0][0]), int(started[1][0])
        fg = os.tcgetpgrp(s.fd)
        if fg != sh_pid:
            raise Failure(f"terminal foreground group is {fg}, not the shell's ({sh_pid})")
        print(f"ok: prompt; terminal foreground group is the shell's ({sh_pid})")

        # 2. A command and its output.
        mark = len(s.buf)
        s.send(b"echo hello-$((6*7))\n")
        pos = s.expect(b"hello-42", mark, 3, "echo output")
        pos = s.expect(PROMPT, pos, 3, "prompt after echo")
        print("ok: echo hello-$((6*7)) printed hello-42")

        # 3. Ctrl-C interrupts the shell's foreground job, not dinit.
        mark = len(s.buf)
        s.send(b"sleep 30\n")
        end = time.monotonic() + 3
        while os.tcgetpgrp(s.fd) == sh_pid:
            if time.monotonic() > end:
                raise Failure("the shell never put `sleep 30` in the foreground")
            s.pump(0.02)
        job_pgrp = os.tcgetpgrp(s.fd)
        time.sleep(0.2)
        s.pump(0)
        mark = len(s.buf)
        t0 = time.monotonic()
        s.send(b"\x03")
        s.expect(PROMPT, mark, 2, "prompt after Ctrl-C")
        took = time.monotonic() - t0
        if not s.alive():
            raise Failure("dinit exited after Ctrl-C")
        after = s.buf[mark:].decode("utf-8", "replace")
        if "dinit: Stopped" in after or "dinit: Exiting" in after:
            raise Failure("dinit started a shutdown on Ctrl-C")
        try:
            os.kill(sleep_pid, 0)
        except OSError:
            raise Failure("the daemon `sleep 100` is gone after Ctrl-C")
        if os.path.exists(f"/proc/{job_pgrp}"):
            with open(f"/proc/{job_pgrp}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    raise Failure("`sleep 30` still runs after Ctrl-C")
        print(f"ok: Ctrl-C interrupted `sleep 30` (group {job_pgrp}), prompt back in {took:.2f} s, dinit still running")
        mark = len(s.buf)
        s.send(b"echo still-$((2+3))\n")
        pos = s.expect(b"still-5", mark, 3, "shell answers after Ctrl-C")
        s.expect(PROMPT, pos, 3, "prompt after still-5")
        if os.tcgetpgrp(s.fd) != sh_pid:
            raise Failure("the shell is not the foreground group after Ctrl-C")
        print("ok: the shell still answers")

        # 4. exit ends the run.
        mark = len(s.buf)
        t0 = time.monotonic()
        s.send(b"exit\n")
        st = s.wait_exit(5)
        took = time.monotonic() - t0
        tail = s.buf[mark:].decode("utf-8", "replace")
        if not os.WIFEXITED(st):
            raise Failure(f"dinit did not exit normally: wait status {st:#x}")
        code = os.WEXITSTATUS(st)
        if code != 15:
            raise Failure(f"dinit exit status {code}, expected 15 (sleep stopped with SIGTERM)")
        for needed in [f"dinit: Child {sh_pid} '/bin/sh' exited with status 0",
                       f"dinit: Stopped child {sleep_pid} 'sleep', exited with status 15",
                       "dinit: Exiting, status 15"]:
            if needed not in tail:
                raise Failure(f"missing log line after exit: {needed!r}")
        for p in (sleep_pid, sh_pid):
            try:
                os.kill(p, 0)
                raise Failure(f"process {p} still exists after dinit exited")
            except ProcessLookupError:
                pass
        print(f"ok: exit ended the run in {took:.2f} s with status 15")
        return True
    except Failure as e:
        print(f"FAIL: {e}")
        print("--- terminal transcript ---")
        print(s.transcript())
        print("---")
        return False
    finally:
        if s.status is None:
            kill_tree(s.pid)
            try:
                os.waitpid(s.pid, 0)
            except OSError:
                pass
        try:
            os.close(s.fd)
        except OSError:
            pass


def main():
    dinit = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DINIT_BIN", "")
    if not dinit or not os.access(dinit, os.X_OK):
        print(f"FAIL: no dinit binary ({dinit!r})")
        return 1

    def on_alarm(signo, frame):
        raise Failure("overall time limit (40 s) exceeded")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(40)
    try:
        ok = run(dinit)
    except Failure as e:
        print(f"FAIL: {e}")
        ok = False
    signal.alarm(0)
    print("PASS" if ok else "FAIL")
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
