import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// Readiness through sd_notify (`:notify:`, `-r`, dinit's own NOTIFY_SOCKET),
// with real processes: a scripted Python daemon, systemd-notify from a shell
// script, dinit under dinit, dcrond, and daemons nobody here wrote (php-fpm
// with nginx, postgres), which skip only when their binary is missing.

private let dcrondPath: String = {
    if let env = ProcessInfo.processInfo.environment["DCROND_BIN"], !env.isEmpty { return env }
    return URL(fileURLWithPath: DinitBinary.path).deletingLastPathComponent().appendingPathComponent("dcrond").path
}()

/// A daemon that runs a script of steps, then sleeps: `sleep:S`, `send:TEXT`
/// (`\n` for newlines) to NOTIFY_SOCKET, `sendfds:PATH;N` (N messages
/// FDSTORE=1, each passing three descriptors of PATH), `env:FILE` (writes NOTIFY_SOCKET or
/// "unset"), `exit:N`, `grandchild:STEPS` (runs the steps, `,`-separated, in a
/// child process of the same process group), `setsid:STEPS` (the same in a
/// new session, so outside the group).
private let daemonScript = #"""
import os, socket, sys, time
addr = os.environ.get('NOTIFY_SOCKET')
def send(text):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(text.replace('\\n', '\n').encode(), '\0' + addr[1:] if addr.startswith('@') else addr)
    s.close()
def run(steps):
    for step in steps:
        key, _, value = step.partition(':')
        if key == 'sleep': time.sleep(float(value))
        elif key == 'send': send(value)
        elif key == 'env':
            with open(value, 'w') as f: f.write(addr or 'unset')
        elif key == 'exit': sys.exit(int(value))
        elif key == 'sendfds':
            path, _, count = value.partition(';')
            fds = [os.open(path, os.O_RDONLY) for _ in range(3)]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            for _ in range(int(count)):
                s.sendmsg([b'FDSTORE=1\nFDNAME=x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(__import__('array').array('i', fds)))],
                          0, '\0' + addr[1:])
            s.close()
        elif key in ('grandchild', 'setsid'):
            if os.fork() == 0:
                if key == 'setsid': os.setsid()
                run(value.split(','))
                time.sleep(1000)
                os._exit(0)
run(sys.argv[1:])
time.sleep(1000)
"""#

/// Listens on a datagram socket (abstract, or a path when the name starts
/// with "/", as systemd's /run/systemd/notify) and appends
/// "pid=<sender> <message>" lines to a file (the sender from SCM_CREDENTIALS).
private let listenerScript = #"""
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1] if sys.argv[1].startswith('/') else '\0' + sys.argv[1])
open(sys.argv[2], 'w').close()
print('listening', flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, 256)
    pid = 0
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', payload[:12])[0]
    with open(sys.argv[2], 'a') as f:
        f.write('pid=%d %s\n' % (pid, data.decode().replace('\n', '|')))
"""#

final class NotifyTests: XCTestCase {
    var dir = ""
    var daemon = ""

    override func setUpWithError() throws {
        dir = try makeTempDir(self)
        daemon = dir + "/daemon.py"
        try daemonScript.write(toFile: daemon, atomically: true, encoding: .utf8)
        try listenerScript.write(toFile: dir + "/listen.py", atomically: true, encoding: .utf8)
    }

    /// argv for the scripted daemon as a `:notify:` command.
    func d(_ steps: String...) -> [String] { [":notify:python3", daemon] + steps }

    func readyLines(_ r: RunResult) -> [String] { r.dinitLines.filter { $0.hasSuffix(" is ready") } }

    /// Starts a listener on @name; returns it and the file it writes.
    func listen(_ name: String) throws -> (RunningProcess, String) {
        let file = dir + "/\(name.replacingOccurrences(of: "/", with: "_")).log"
        let p = try RunningProcess("/usr/bin/env", ["python3", dir + "/listen.py", name, file])
        addTeardownBlock { killTree(p.pid); _ = p.wait(timeout: 5) }
        XCTAssertTrue(p.waitForStdout("listening", timeout: 20), "listener did not start")
        return (p, file)
    }

    func testBadCommandLines() throws {
        let marker = dir + "/started"
        for args in [["--", ":wait::notify:touch", marker], ["--", "true", "--", ":notify::wait:-touch", marker],
                     ["-r", "soon", "--", "touch", marker], ["-r"]] {
            let r = try runDinit(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.summary)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(args): \(r.summary)")
            XCTAssertTrue(r.stderr.hasPrefix("dinit: "), r.summary)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        let help = try runDinit(["--help"])
        XCTAssertTrue(help.stdout.contains(":notify:"), help.stdout)
        XCTAssertTrue(help.stdout.contains("-r ready_timeout"), help.stdout)
    }

    func testReadyStartsTheNextCommandLongBeforeTheDelay() throws {
        // -d 30: only READY=1 can explain a start of the next within seconds.
        let r = try runDinit(["-d", "30", "--"] + d("sleep:0.3", "send:STATUS=warming up", "send:READY=1")
                             + ["--", "sh", "-c", "exit 0"], timeout: 20)
        XCTAssertLessThan(r.elapsed, 10, r.summary)
        let lines = r.dinitLines
        let started = r.startedPids
        XCTAssertEqual(started.count, 2, r.summary)
        XCTAssertTrue(lines.contains("dinit: Child \(started[0]) 'python3' status: warming up"), r.summary)
        let ready = lines.firstIndex(of: "dinit: Child \(started[0]) 'python3' is ready")
        let second = lines.firstIndex { $0.hasPrefix("dinit: Started \(started[1]) 'sh'") }
        XCTAssertNotNil(ready, r.summary)
        XCTAssertNotNil(second, r.summary)
        if let ready, let second { XCTAssertLessThan(ready, second, r.summary) }
        // The sh exited on its own: the usual shutdown, python stopped by SIGTERM.
        XCTAssertEqual(r.status, 15, r.summary)
    }

    func testReadyFromAGrandchildInTheChildsGroup() throws {
        let r = try runDinit(["-d", "30", "--"] + d("grandchild:sleep:0.2,send:READY=1")
                             + ["--", "sh", "-c", "exit 0"], timeout: 20)
        XCTAssertLessThan(r.elapsed, 10, r.summary)
        XCTAssertEqual(readyLines(r).count, 1, r.summary)
        XCTAssertEqual(r.startedPids.count, 2, r.summary)
    }

    func testSystemdNotifyFromAShellScriptDaemon() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-notify") else {
            throw XCTSkip("systemd-notify is not installed (Debian package systemd)")
        }
        // systemd-notify is a short-lived grandchild; it waits (BARRIER=1)
        // until dinit has read its message, so its group can be checked.
        for _ in 0..<3 {
            let r = try runDinit(["-d", "30", "--", ":notify:sh", "-c",
                                  "sleep 0.1; systemd-notify --ready --status='shell daemon up'; exec sleep 100",
                                  "--", "sh", "-c", "exit 0"], timeout: 20)
            XCTAssertLessThan(r.elapsed, 10, r.summary)
            XCTAssertEqual(readyLines(r).count, 1, r.summary)
            XCTAssertTrue(r.dinitLines.contains { $0.hasSuffix("'sh' status: shell daemon up") }, r.summary)
        }
    }

    func testPassedDescriptorsAreClosedAtOnce() throws {
        let marker = dir + "/marker"
        FileManager.default.createFile(atPath: marker, contents: Data())
        let listing = dir + "/listing"
        let p = try startDinit(["-d", "0", "--"] + d("sendfds:\(marker);40", "send:READY=1")
                               + ["--", "sh", "-c", "ls -l /proc/$$/fd/ > \(listing); exec sleep 100"])
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(listing).contains("\n") }, p.stderr.text)
        XCTAssertTrue(p.stderr.text.contains("is ready"), p.stderr.text)
        let held = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p.pid)/fd")) ?? []).filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p.pid)/fd/\($0)")) == marker
        }
        XCTAssertEqual(held, [], "dinit kept passed descriptors")
        XCTAssertFalse(readFile(listing).contains("marker"), readFile(listing))
        p.signal(SIGTERM)
        _ = p.wait(timeout: 20)
    }

    func testUnrelatedSendersAreIgnoredSilently() throws {
        let envFile = dir + "/env"
        // The :notify: child itself sends nothing; a process it starts in a
        // session (and group) of its own sends READY=1 many times.
        let p = try startDinit(["-r", "3", "--"] + d("env:" + envFile,
                                 "setsid:sleep:0.2,send:READY=1,send:READY=1,send:STATUS=forged")
                               + ["--", "sh", "-c", "echo SHOULD-NOT-START"])
        XCTAssertTrue(p.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: envFile) && !readFile(envFile).isEmpty })
        let address = readFile(envFile)
        XCTAssertTrue(address.hasPrefix("@"), address)
        // And the test runner, a process dinit never started, floods it.
        let sender = try RunningProcess("/usr/bin/env", ["python3", "-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            for i in range(2000):
                try: s.sendto(b'READY=1\\nSTATUS=forged', '\\0' + sys.argv[1][1:])
                except BlockingIOError: pass
                except OSError: pass
            """, address])
        _ = sender.wait(timeout: 20)
        let r = p.wait(timeout: 20)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertTrue(readyLines(r).isEmpty, r.summary)
        XCTAssertFalse(r.stdout.contains("SHOULD-NOT-START"), r.summary)
        XCTAssertFalse(r.stderr.contains("forged"), r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasSuffix("'python3' did not send READY=1 in time (ready timeout 3 s)") },
                      r.summary)
        // No line per dropped message: started, timeout, stopped, exiting,
        // and the subreaper line.
        XCTAssertLessThanOrEqual(r.dinitLines.count, 6, r.summary)
        XCTAssertGreaterThanOrEqual(r.elapsed, 2.9, r.summary)
    }

    func testReadyTimeout() throws {
        let r = try runDinit(["-r", "0.5", "--"] + d() + ["--", "sh", "-c", "echo SHOULD-NOT-START"],
                             timeout: 20)
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertFalse(r.stdout.contains("SHOULD-NOT-START"), r.summary)
        XCTAssertEqual(r.startedPids.count, 1, r.summary)
        XCTAssertTrue(r.dinitLines.contains("dinit: Child \(r.startedPids[0]) 'python3' did not send READY=1 in time (ready timeout 0.5 s)"),
                      r.summary)
        XCTAssertGreaterThanOrEqual(r.elapsed, 0.5, r.summary)
        XCTAssertLessThan(r.elapsed, 10, r.summary)
    }

    func testExtendTimeoutMovesTheDeadline() throws {
        // -r 5 alone would time out at 5 s (see testReadyTimeout); the
        // extension to now + 10 s lets READY=1 at about 5.6 s count.
        let r = try runDinit(["-r", "5", "--"] + d("sleep:0.1", "send:EXTEND_TIMEOUT_USEC=10000000",
                                                  "sleep:5.5", "send:READY=1")
                             + ["--", "sh", "-c", "exit 0"], timeout: 30)
        XCTAssertEqual(readyLines(r).count, 1, r.summary)
        XCTAssertEqual(r.startedPids.count, 2, r.summary)
        XCTAssertGreaterThanOrEqual(r.elapsed, 5.5, r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
        // And an extension that runs out is a timeout too.
        let short = try runDinit(["-r", "5", "--"] + d("send:EXTEND_TIMEOUT_USEC=300000") +
                                 ["--", "true"], timeout: 20)
        XCTAssertEqual(short.status, 1, short.summary)
        XCTAssertLessThan(short.elapsed, 4.5, short.summary)
    }

    func testExitBeforeReady() throws {
        let r = try runDinit(["-d", "0", "--", "sleep", "100", "--"] + d("sleep:0.2", "exit:3")
                             + ["--", "sh", "-c", "echo SHOULD-NOT-START"], timeout: 20)
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertFalse(r.stdout.contains("SHOULD-NOT-START"), r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasSuffix("'python3' exited with status 3 before it was ready") }, r.summary)
    }

    func testNotifySocketOnlyForNotifyChildren() throws {
        let (a, b, c) = (dir + "/a", dir + "/b", dir + "/c")
        let p = try RunningProcess(DinitBinary.path, [
            "-d", "0", "--", ":wait:sh", "-c", "echo ${NOTIFY_SOCKET-unset} > \(a)",
            "--"] + d("env:" + b, "send:READY=1") + [
            "--", "sh", "-c", "echo ${NOTIFY_SOCKET-unset} > \(c); exit 0"],
            environment: ["NOTIFY_SOCKET": "@dinit-test-inherited-\(getpid())"])
        let r = p.wait(timeout: 20)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(readFile(a), "unset\n", r.summary)
        XCTAssertEqual(readFile(c), "unset\n", r.summary)
        let own = readFile(b)
        XCTAssertTrue(own.hasPrefix("@"), own)
        XCTAssertFalse(own.contains("inherited"), own)
        // The inherited socket does not exist: dinit just cannot tell it.
        XCTAssertEqual(readyLines(r).count, 1, r.summary)
    }

    func testDinitTellsItsOwnManagerReadyAndStopping() throws {
        let name = "dinit-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let (_, file) = try listen(name)
        let p = try RunningProcess(DinitBinary.path, ["-d", "0", "--"] + d("sleep:1", "send:READY=1")
                                   + ["--", "sleep", "100"], environment: ["NOTIFY_SOCKET": "@" + name])
        // Start-up is complete only when the :notify: command is ready.
        usleep(500_000)
        XCTAssertFalse(readFile(file).contains("READY=1"), readFile(file))
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(file).contains("READY=1") }, readFile(file))
        XCTAssertTrue(p.stderr.text.contains("is ready"), p.stderr.text)
        p.signal(SIGTERM)
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(file).contains("STOPPING=1") }, readFile(file))
        let r = p.wait(timeout: 20)
        // Both daemons die of the SIGTERM: status 15, as the README's table says.
        XCTAssertEqual(r.status, 15, r.summary)
        let got = lines(readFile(file))
        XCTAssertEqual(got, ["pid=\(p.pid) READY=1|STATUS=Running|", "pid=\(p.pid) STOPPING=1|STATUS=Stopping|"])
    }

    func testOwnManagerAtAPathAsUnderSystemd() throws {
        let path = dir + "/notify"
        let (_, file) = try listen(path)
        let p = try RunningProcess(DinitBinary.path, ["--", ":wait:true"], environment: ["NOTIFY_SOCKET": path])
        let done = p.wait(timeout: 20)
        XCTAssertEqual(done.status, 0, done.summary)
        // A run of only :wait: commands: ready, then stopping at once.
        XCTAssertTrue(p.waitUntil(timeout: 10) { lines(readFile(file)).count == 2 }, readFile(file))
        XCTAssertEqual(lines(readFile(file)), ["pid=\(p.pid) READY=1|STATUS=Running|", "pid=\(p.pid) STOPPING=1|STATUS=Stopping|"])
    }

    func testDinitUnderDinit() throws {
        // The inner dinit is ready when both of its :notify: commands are;
        // then the outer one starts its next command. -d 30 everywhere.
        let r = try runDinit(["-d", "30", "--", ":notify:" + DinitBinary.path, "-d", "30", "\\--",
                              ":notify:python3", daemon, "sleep:0.2", "send:READY=1", "\\--",
                              ":notify:python3", daemon, "sleep:0.2", "send:READY=1",
                              "--", "sh", "-c", "exit 0"], timeout: 30)
        XCTAssertLessThan(r.elapsed, 15, r.summary)
        let outerReady = r.stderrLines.filter { $0.hasPrefix("dinit: Child \(r.startedPids[0]) ") && $0.hasSuffix(" is ready") }
        XCTAssertEqual(outerReady.count, 1, r.summary)
        // The inner dinit's children reported to the inner one (three lines
        // "is ready": two inner, one outer).
        XCTAssertEqual(readyLines(r).count, 3, r.summary)
        XCTAssertTrue(r.stderrLines.contains { $0.hasSuffix("'sh' exited with status 0") }, r.summary)
    }

    func testDcrondTellsItsManagerReadyAndStopping() throws {
        let name = "dcrond-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let (_, file) = try listen(name)
        let envFile = dir + "/cron-env"
        let p = try RunningProcess(dcrondPath, ["-i", "100", "echo ${NOTIFY_SOCKET-unset} > \(envFile); sleep 100"],
                                   environment: ["NOTIFY_SOCKET": "@" + name])
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(file).contains("READY=1") }, readFile(file))
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(envFile) == "unset\n" }, readFile(envFile))
        p.signal(SIGTERM)
        XCTAssertTrue(p.waitUntil(timeout: 20) { readFile(file).contains("STOPPING=1") }, readFile(file))
        let r = p.wait(timeout: 20)
        XCTAssertEqual(r.status, 0, r.summary)
    }
}
