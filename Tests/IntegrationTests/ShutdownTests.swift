import Foundation
import XCTest

/// Orderly shutdown: reverse order, one at a time, SIGKILL escalation, and a
/// second shutdown signal.
final class ShutdownTests: XCTestCase {
    /// A child that, on SIGTERM, appends "start N", pauses, appends "end N"
    /// and exits 0.
    static func slowStopper(_ n: Int, _ file: String) -> [String] {
        ["sh", "-c", """
         trap 'echo start \(n) >> \(file); sleep 0.3; echo end \(n) >> \(file); exit 0' TERM
         echo ready \(n) >> \(file).ready
         while :; do sleep 0.05; done
         """]
    }

    func testReverseOrderOneAtATime() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/order"
        var args = ["-d", "0.1", "-k", "5"]
        for n in 1...3 { args += ["--"] + Self.slowStopper(n, f) }
        let p = try startDinit(args)
        XCTAssertTrue(p.waitUntil(timeout: 5) { lines(readFile(f + ".ready")).count == 3 }, p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        let stopTime = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.status, 0, "every child exited 0 on a requested stop\n\(r.summary)")
        XCTAssertEqual(lines(readFile(f)), ["start 3", "end 3", "start 2", "end 2", "start 1", "end 1"],
                       "children must be stopped one at a time in reverse order\n\(r.summary)")
        // Three sequential 0.3 s stops.
        XCTAssertGreaterThan(stopTime, 0.85, r.summary)
        XCTAssertLessThan(stopTime, 4, r.summary)
        guard let pids = r.startedPids(count: 3) else { return }
        assertLog(r, endsWith: [
            .stopped(pid: pids[2], program: "sh", status: 0),
            .stopped(pid: pids[1], program: "sh", status: 0),
            .stopped(pid: pids[0], program: "sh", status: 0),
            .exiting(status: 0),
        ])
    }

    /// The reverse-order stop also happens when a daemon ends the run.
    func testReverseOrderWhenDaemonExits() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/order"
        var args = ["-d", "0.1"]
        for n in 1...3 { args += ["--"] + Self.slowStopper(n, f) }
        args += ["--", "sh", "-c", "sleep 0.3; exit 0"]
        let r = try runDinit(args)
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertEqual(lines(readFile(f)), ["start 3", "end 3", "start 2", "end 2", "start 1", "end 1"], r.summary)
    }

    /// A child ignoring SIGTERM is SIGKILLed after `-k`; status 9.
    func testKillEscalation() throws {
        let p = try startDinit(["-d", "0.1", "-k", "0.5", "--",
                                "sh", "-c", "trap '' TERM; echo ready; exec sleep 100"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started"), p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        let stopTime = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertGreaterThan(stopTime, 0.4, "SIGKILL came before the kill timeout\n\(r.summary)")
        XCTAssertLessThan(stopTime, 3, r.summary)
        XCTAssertLessThan(r.elapsed, 3.5, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        XCTAssertTrue(r.stderrLines.contains { $0.hasPrefix("dinit: Child \(pid) 'sh'") && $0.contains("SIGKILL") },
                      "an escalation line\n\(r.summary)")
        assertLog(r, endsWith: [
            .stopped(pid: pid, program: "sh", status: 9),
            .exiting(status: 9),
        ])
        XCTAssertFalse(processExists(pid))
    }

    /// Escalation happens per child: the next child is signalled only after
    /// the previous one was killed.
    func testKillEscalationThenNextChild() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/order"
        let p = try startDinit(["-d", "0.1", "-k", "0.4", "--",
                                "sh", "-c", "trap 'echo first >> \(f); exit 0' TERM; echo ready; while :; do sleep 0.05; done",
                                "--", "sh", "-c", "trap '' TERM; echo ready; exec sleep 100"])
        XCTAssertTrue(p.waitForStdout("ready", count: 2), p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        // The first child must not see TERM while the second is in its grace period.
        usleep(250_000)
        XCTAssertEqual(readFile(f), "", "first child signalled before the second was gone")
        let r = p.wait(timeout: 10)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3, r.summary)
        XCTAssertEqual(readFile(f), "first\n", r.summary)
        XCTAssertEqual(r.status, 9, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        assertLog(r, endsWith: [
            .stopped(pid: pids[1], program: "sh", status: 9),
            .stopped(pid: pids[0], program: "sh", status: 0),
            .exiting(status: 9),
        ])
    }

    /// A second SIGTERM during a slow stop SIGKILLs everything at once.
    func testSecondSignalKillsEverything() throws {
        var args = ["-d", "0.1", "-k", "10"]
        for _ in 1...3 { args += ["--", "sh", "-c", "trap '' TERM INT; echo ready; exec sleep 100"] }
        let p = try startDinit(args)
        XCTAssertTrue(p.waitForStdout("ready", count: 3), p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 3), p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "dinit must wait for the kill timeout")
        p.signal(SIGTERM)
        let r = p.wait(timeout: 15)
        let stopTime = Date().timeIntervalSince(t0)
        XCTAssertLessThan(stopTime, 3, "the second signal must not wait for -k 10\n\(r.summary)")
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertTrue(r.stderr.contains("Second shutdown signal"), r.summary)
        let pids = r.startedPids
        XCTAssertEqual(pids.count, 3, r.summary)
        for pid in pids {
            XCTAssertTrue(r.log.contains(.stopped(pid: pid, program: "sh", status: 9)), "\(pid)\n\(r.summary)")
            XCTAssertFalse(processExists(pid))
        }
        XCTAssertEqual(r.log.last, .exiting(status: 9), r.summary)
    }

    /// SIGINT as the second signal works the same.
    func testSecondSignalMayBeDifferent() throws {
        let p = try startDinit(["-d", "0.1", "-k", "10", "--", "sh", "-c", "trap '' TERM INT; echo ready; exec sleep 100"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        usleep(200_000)
        p.signal(SIGINT)
        let r = p.wait(timeout: 15)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3, r.summary)
        XCTAssertEqual(r.status, 9, r.summary)
    }
}

/// Edge values of the kill timeout.
final class KillTimeoutEdgeTests: XCTestCase {
    /// `-k 0`: SIGKILL right after the stop signal; the killed child is
    /// still waited for and reported with status 9 (a SIGKILLed process
    /// always ends).
    func testKillTimeoutZero() throws {
        let p = try startDinit(["-d", "0.1", "-k", "0", "--", "sh", "-c", "trap '' TERM; echo ready; exec sleep 100"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        XCTAssertEqual(r.status, 9, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        XCTAssertTrue(r.log.contains(.stopped(pid: pid, program: "sh", status: 9)), r.summary)
        XCTAssertFalse(r.stderr.contains("giving up"), "a SIGKILLed child was abandoned\n\(r.summary)")
        XCTAssertFalse(r.stderr.contains("still running after SIGKILL"), r.summary)
    }

    /// The same when a daemon exiting on its own starts the stop.
    func testKillTimeoutZeroAfterDaemonExit() throws {
        let r = try runDinit(["-d", "0.1", "-k", "0", "--", "sh", "-c", "trap '' TERM; exec sleep 100",
                              "--", "sh", "-c", "sleep 0.3; exit 0"])
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertFalse(r.stderr.contains("giving up"), "a SIGKILLed child was abandoned\n\(r.summary)")
    }
}

/// Shutdown corner cases.
final class ShutdownCornerTests: XCTestCase {
    /// While dinit waits for adopted orphans that ignore SIGTERM, a second
    /// shutdown signal SIGKILLs them at once instead of waiting out `-k`.
    func testSecondSignalDuringOrphanCollection() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/orphan"
        let p = try startDinit(["-k", "10", "--", ":wait:sh", "-c", "trap '' TERM; sleep 100 & echo $! > \(f); exit 0"])
        XCTAssertTrue(p.waitForStderr("exited with status 0"), p.stderr.text)
        usleep(200_000)
        XCTAssertTrue(p.isRunning, "dinit waits for the orphan\n\(p.stderr.text)")
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 15)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stderr.contains("SIGKILL"), r.summary)
        if let orphan = pidRecorded(in: f) {
            assertGone(orphan, within: 2, "orphan survived")
        } else {
            XCTFail("no orphan pid")
        }
    }

    /// A child that exits on its own while another is being stopped is
    /// reported as such, and the stop goes on normally.
    func testChildExitingDuringStop() throws {
        let p = try startDinit(["-d", "0.1", "--", "sh", "-c", "sleep 0.8",
                                "--", "sh", "-c", "trap 'sleep 1; exit 0' TERM; echo ready; while :; do sleep 0.05; done"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertLessThan(r.elapsed, 4, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        assertLog(r, endsWith: [
            .childExited(pid: pids[0], program: "sh", status: 0),
            .stopped(pid: pids[1], program: "sh", status: 0),
            .exiting(status: 0),
        ])
    }

    /// Many commands: 200 daemons start with -d 0 and all are stopped.
    func testManyDaemons() throws {
        var args = ["-qq", "-d", "0", "-k", "3"]
        for _ in 1...200 { args += ["--", "sleep", "30"] }
        let p = try startDinit(args)
        XCTAssertTrue(p.waitUntil(timeout: 10) { descendants(of: p.pid).count == 200 }, "\(descendants(of: p.pid).count)")
        let children = descendants(of: p.pid)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 20)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 15, r.summary)
        XCTAssertEqual(children.filter { processExists($0) }, [])
    }
}
