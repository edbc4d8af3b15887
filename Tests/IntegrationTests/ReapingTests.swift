import Foundation
import XCTest

/// Orphans: dinit as PID 1 of a PID namespace, and as child subreaper.
final class ReapingTests: XCTestCase {
    static var unshareAvailable: Bool { PIDNamespace.available }

    func requireUnshare() throws {
        try XCTSkipUnless(Self.unshareAvailable, "unshare --pid --fork --mount-proc does not work here (needs root)")
    }

    /// Zombie count inside the namespace, printed by a :wait: command.
    static let countZombies = "n=0; for f in /proc/[0-9]*/stat; do s=$(cat $f 2>/dev/null) || continue; " +
        "case \"${s##*) }\" in Z*) n=$((n+1));; esac; done; echo zombies=$n"

    /// As PID 1: double-forked orphans are reaped (no zombie remains), no
    /// subreaper line, dinit exits normally.
    func testOrphansReapedAsPID1() throws {
        try requireUnshare()
        let script = "for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 0.1 &); done; sleep 0.8; \(Self.countZombies); " +
            "echo init=$(cat /proc/1/comm); echo sh=$$ ppid=$PPID"
        let r = try runDinitAsPID1(["-d", "0.1", "--", ":wait:sh", "-c", script])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("zombies=0"), "zombies left unreaped\n\(r.summary)")
        // Under an emulator PID 1 is named after it: its name says nothing there.
        if !Emulation.active {
            XCTAssertTrue(r.stdout.contains("init=dinit"), "dinit is PID 1\n\(r.summary)")
        }
        XCTAssertFalse(r.stderr.contains("subreaper"), "no subreaper line as PID 1\n\(r.summary)")
        XCTAssertLessThan(r.elapsed, 4, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        // By PID: the shell dinit says it started has PID 1 as its parent.
        XCTAssertTrue(r.stdout.contains("sh=\(pid) ppid=1\n"), "dinit is PID 1\n\(r.summary)")
        XCTAssertEqual(r.log, [
            .started(pid: pid, program: "sh"),
            .childExited(pid: pid, program: "sh", status: 0),
            .exiting(status: 0),
        ], r.summary)
    }

    /// The same control: a shell as PID 1 instead of dinit does leave
    /// zombies, so the test above can fail.
    func testZombiesRemainWithoutReaper() throws {
        try requireUnshare()
        let script = "for i in 1 2 3; do (sleep 0.1 &); done; sleep 0.6; \(Self.countZombies)"
        // sh -c 'cmd' as PID 1 that never waits for the orphans: run the
        // script in a child shell and keep PID 1 busy in a builtin-free sleep.
        let r = try runProgram(PIDNamespace.unshare, PIDNamespace.unshareArguments +
                               ["/bin/sh", "-c", "sh -c \(shQuote(script)) & exec sleep 1"])
        XCTAssertFalse(r.stdout.contains("zombies=0"), r.summary)
    }

    /// As PID 1: a long-lived orphan (left by a :wait: command) runs under
    /// dinit and is TERMed when the run ends (here: a daemon exits on its own).
    func testPID1LongLivedOrphanTerminated() throws {
        try requireUnshare()
        let r = try runDinitAsPID1([
            "-d", "0.1", "-k", "3", "--", ":wait:sh", "-c", "sleep 100 & exit 0",
            "--", "sh", "-c", "sleep 0.3; ps -eo stat=,comm= > /dev/stderr; exit 0"])
        // The daemon exits 0 on its own: status 1.
        XCTAssertEqual(r.status, 1, r.summary)
        // The orphaned sleep was running under dinit...
        XCTAssertTrue(r.stderr.contains("sleep"), r.summary)
        // ...and was TERMed, not left for the kill timeout.
        XCTAssertLessThan(r.elapsed, 2.5, r.summary)
        XCTAssertFalse(r.stderr.contains("SIGKILL"), r.summary)
    }

    /// Not PID 1: registered as subreaper, and says so.
    func testSubreaperInfoLine() throws {
        let r = try runDinit(["--", ":wait:true"])
        XCTAssertEqual(r.log.first, .subreaper, r.summary)
        XCTAssertEqual(r.stderrLines.filter { $0.contains("subreaper") }.count, 1, r.summary)
    }

    /// As subreaper: a grandchild orphaned by a double fork is adopted by
    /// dinit (its parent becomes dinit) and reaped once it exits.
    func testOrphanAdoptedAndReapedAsSubreaper() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/orphan"
        let script = "(sleep 0.4 & echo $! > \(f)); sleep 0.15; " +
            "o=$(cat \(f)); echo ppid=$(cut -d' ' -f4 /proc/$o/stat); " +
            "sleep 0.6; if [ -e /proc/$o ]; then echo state=$(cut -d' ' -f3 /proc/$o/stat); else echo gone; fi"
        let p = try startDinit(["-d", "0.1", "--", ":wait:sh", "-c", script, "--", "sleep", "5"])
        XCTAssertTrue(p.waitForStderr("'sleep'"), p.stderr.text)
        let r0pid = p.pid
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertTrue(r.stdout.contains("ppid=\(r0pid)"), "orphan not adopted by dinit (pid \(r0pid))\n\(r.summary)")
        XCTAssertTrue(r.stdout.contains("gone"), "orphan not reaped (a zombie remains)\n\(r.summary)")
    }

    /// Nothing is left behind: a long-lived orphan of a daemon is TERMed
    /// before dinit exits.
    func testLongLivedOrphanOfDaemonTerminated() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/orphan"
        let r = try runDinit(["-d", "0.1", "-k", "3", "--", "sleep", "5",
                              "--", "-sh", "-c", "sleep 100 & echo $! > \(f); sleep 0.2; exit 0"])
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 2.5, "the orphan should die of SIGTERM, not wait for -k\n\(r.summary)")
        assertOrphanGone(recordedIn: f, r)
    }

    /// The same for an orphan left by a `:wait:` command, in a run made only
    /// of `:wait:` commands.
    func testLongLivedOrphanOfWaitCommandTerminated() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/orphan"
        let r = try runDinit(["-k", "3", "--", ":wait:sh", "-c", "sleep 100 & echo $! > \(f); exit 0"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertLessThan(r.elapsed, 2.5, r.summary)
        assertOrphanGone(recordedIn: f, r)
        XCTAssertEqual(r.log.last, .exiting(status: 0), r.summary)
    }

    /// An orphan that ignores SIGTERM is SIGKILLed after the kill timeout.
    func testOrphanIgnoringTermIsKilled() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/orphan"
        let r = try runDinit(["-k", "0.5", "--", ":wait:sh", "-c", "trap '' TERM; sleep 100 & echo $! > \(f); exit 0"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertGreaterThan(r.elapsed, 0.4, "SIGKILL only after the kill timeout\n\(r.summary)")
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        XCTAssertTrue(r.stderr.contains("SIGKILL"), r.summary)
        assertOrphanGone(recordedIn: f, r)
    }

    /// After a signal-requested stop, nothing of the run is left: dinit's
    /// whole tree (children, grandchildren) is gone.
    func testNothingLeftBehindAfterStop() throws {
        let p = try startDinit(["-d", "0.1", "-k", "2", "--",
                                "sh", "-c", "sleep 100 & sleep 100 & (sleep 100 &); exec sleep 100",
                                "--", "sh", "-c", "(sleep 100 &); exec sleep 100"])
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        XCTAssertTrue(p.waitUntil(timeout: 3) { descendants(of: p.pid).count >= 6 }, "\(descendants(of: p.pid))")
        usleep(200_000)
        let tree = descendants(of: p.pid)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 5, r.summary)
        XCTAssertEqual(survivors(tree, within: 1), [], "processes left behind\n\(r.summary)")
    }
}

/// The orphan whose pid a test's shell wrote into `file` (`echo $! > file`)
/// is gone soon after dinit's run `r` ended (a zombie handed to init is
/// reaped quickly: it gets 2 s); a survivor fails the test and is SIGKILLed.
func assertOrphanGone(recordedIn file: String, _ r: RunResult, file sourceFile: StaticString = #filePath,
                      line: UInt = #line) {
    guard let orphan = pidRecorded(in: file) else {
        return XCTFail("no orphan pid recorded\n\(r.summary)", file: sourceFile, line: line)
    }
    assertGone(orphan, within: 2, "orphan \(orphan) survived dinit\n\(r.summary)", file: sourceFile, line: line)
}

/// dinit as PID 1 receiving signals from outside its namespace (what
/// `docker stop` does).
final class PID1SignalTests: XCTestCase {
    func testSIGTERMToPID1StopsInReverseOrder() throws {
        try XCTSkipUnless(ReapingTests.unshareAvailable, "unshare not usable")
        let p = try startDinitAsPID1(["-d", "0.1", "--", "sleep", "5", "--", "sleep", "6"])
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        // unshare's child is dinit (found by PID: see launchedDinit).
        guard let dinit = launchedDinit(by: p.pid) else { return XCTFail("no dinit under unshare: \(descendants(of: p.pid))") }
        kill(dinit, SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.timedOut, "SIGTERM to dinit as PID 1 was lost\n\(r.summary)")
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 4, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        assertLog(r, endsWith: [
            .stopped(pid: pids[1], program: "sleep", status: 15),
            .stopped(pid: pids[0], program: "sleep", status: 15),
            .exiting(status: 15),
        ])
    }

    /// SIGHUP to PID 1 is forwarded, not fatal (the default action would be
    /// ignored for PID 1; dinit must pass it on).
    func testSIGHUPToPID1Forwarded() throws {
        try XCTSkipUnless(ReapingTests.unshareAvailable, "unshare not usable")
        let dir = try makeTempDir(self)
        let f = "\(dir)/got"
        let p = try startDinitAsPID1([
            "-d", "0.1", "--", "sh", "-c", "trap 'echo HUP >> \(f)' HUP; trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"])
        XCTAssertTrue(p.waitForStdout("ready"), p.stderr.text)
        guard let dinit = launchedDinit(by: p.pid) else { return XCTFail("no dinit under unshare") }
        kill(dinit, SIGHUP)
        XCTAssertTrue(p.waitUntil(timeout: 3) { readFile(f) == "HUP\n" }, p.stderr.text)
        XCTAssertTrue(p.isRunning)
        kill(dinit, SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 0, r.summary)
    }
}
