import Foundation
import XCTest

/// Signals sent to dinit: shutdown signals and forwarding.
final class SignalTests: XCTestCase {
    /// SIGTERM, SIGINT and SIGQUIT each start an orderly stop, and the child
    /// receives that same signal (an untrapping `sleep` dies of it, so its
    /// status is the signal number).
    func testShutdownSignalsAreForwarded() throws {
        for (signo, name) in [(SIGTERM, "TERM"), (SIGINT, "INT"), (SIGQUIT, "QUIT")] {
            let p = try startDinit(["-d", "0.1", "-k", "5", "--", "sleep", "5", "--", "sleep", "6"])
            XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
            p.signal(signo)
            let r = p.wait(timeout: 10)
            XCTAssertFalse(r.signaled, "\(name): dinit must not die of the signal\n\(r.summary)")
            XCTAssertEqual(r.status, signo, "\(name)\n\(r.summary)")
            XCTAssertLessThan(r.elapsed, 3, "\(name)\n\(r.summary)")
            guard let pids = r.startedPids(count: 2, name) else { continue }
            assertLog(r, endsWith: [
                .stopped(pid: pids[1], program: "sleep", status: signo),
                .stopped(pid: pids[0], program: "sleep", status: signo),
                .exiting(status: signo),
            ], "\(name)\n\(r.summary)")
        }
    }

    /// The same with children that trap the signal: they see it and exit 0,
    /// and dinit exits 0.
    func testShutdownSignalSeenByTrappingChild() throws {
        let dir = try makeTempDir(self)
        for (signo, name) in [(SIGTERM, "TERM"), (SIGINT, "INT"), (SIGQUIT, "QUIT")] {
            let f = "\(dir)/\(name)"
            let p = try startDinit(["-d", "0.1", "--", "sh", "-c", """
                for s in HUP INT QUIT TERM USR1 USR2; do trap "echo $s >> \(f); exit 0" $s; done
                echo ready
                while :; do sleep 0.05; done
                """])
            XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
            p.signal(signo)
            let r = p.wait(timeout: 10)
            XCTAssertEqual(r.status, 0, "\(name)\n\(r.summary)")
            XCTAssertEqual(readFile(f), "\(name)\n", "\(name)\n\(r.summary)")
        }
    }

    /// HUP, USR1, USR2 and WINCH go to every child; nothing stops.
    func testOtherSignalsForwardedToAllChildren() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/got"
        func child(_ n: Int) -> [String] {
            ["sh", "-c", """
             for s in HUP USR1 USR2 WINCH; do trap "echo \(n) $s >> \(f)" $s; done
             trap 'exit 0' TERM
             echo ready
             while :; do sleep 0.05; done
             """]
        }
        let p = try startDinit(["-d", "0.1", "--"] + child(1) + ["--"] + child(2))
        XCTAssertTrue(p.waitForStdout("ready", count: 2), p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        var expected: Set<String> = []
        for (signo, name) in [(SIGHUP, "HUP"), (SIGUSR1, "USR1"), (SIGUSR2, "USR2"), (SIGWINCH, "WINCH")] {
            p.signal(signo)
            expected.formUnion(["1 \(name)", "2 \(name)"])
            XCTAssertTrue(p.waitUntil(timeout: 3) { Set(lines(readFile(f))) == expected },
                          "\(name) not forwarded to both children: \(readFile(f))\n\(p.stderr.text)")
            XCTAssertTrue(p.isRunning, "\(name) must not stop dinit")
        }
        usleep(100_000)
        XCTAssertTrue(p.isRunning)
        XCTAssertFalse(p.stderr.text.contains("Stopped"), p.stderr.text)
        XCTAssertFalse(p.stderr.text.contains("exited"), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(lines(readFile(f)).count, 8, "each child got each signal exactly once: \(readFile(f))")
    }

    /// A forwarded signal that kills a child is that child exiting on its
    /// own: the run ends, with the signal number as status.
    func testForwardedSignalKillingChildEndsRun() throws {
        let p = try startDinit(["-d", "0.1", "--", "sleep", "5"])
        XCTAssertTrue(p.waitForStderr("Started"), p.stderr.text)
        p.signal(SIGUSR1)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertEqual(r.status, 10, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        XCTAssertTrue(r.log.contains(.childExited(pid: pid, program: "sleep", status: 10)), r.summary)
    }

    /// A shutdown signal during the startup delay stops what runs and
    /// starts nothing more.
    func testSignalDuringStartupDelay() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/never"
        let p = try startDinit(["-d", "3", "--", "sleep", "5", "--", "touch", f])
        XCTAssertTrue(p.waitForStderr("Started"), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 2.5, r.summary)
        assertNeverCreated(f, r.summary)
        XCTAssertEqual(r.startedPids.count, 1, r.summary)
    }

    /// A shutdown signal while a `:wait:` command runs: it receives the
    /// signal, nothing further starts.
    func testSignalDuringWaitCommand() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/never"
        let p = try startDinit(["-d", "0.1", "--", "sleep", "5", "--", ":wait:sleep", "5", "--", "touch", f])
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 2.5, r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f), r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        XCTAssertTrue(r.log.contains(.stopped(pid: pids[1], program: "sleep", status: 15)), r.summary)
        XCTAssertTrue(r.log.contains(.stopped(pid: pids[0], program: "sleep", status: 15)), r.summary)
    }

    /// dinit started with signals ignored (as `nohup` or a background job in
    /// a script would) still handles and forwards them.
    func testInheritedIgnoredSignalsStillHandled() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/got"
        let child = "trap 'echo HUP >> \(f)' HUP; trap 'exit 0' INT; echo ready; while :; do sleep 0.05; done"
        let p = try RunningProcess("/bin/sh", ["-c", "trap '' HUP INT; exec \(shQuote(DinitBinary.path)) -d 0.1 -- sh -c \(shQuote(child))"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        p.signal(SIGHUP)
        XCTAssertTrue(p.waitUntil(timeout: 3) { readFile(f) == "HUP\n" }, "HUP not forwarded\n\(p.stderr.text)")
        p.signal(SIGINT)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, "SIGINT ignored by dinit\n\(r.summary)")
        XCTAssertEqual(r.status, 0, r.summary)
    }
}
