import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// Black-box tests of the dcrond binary (and dcrond under dinit) with real
// commands and wall-clock timestamps, through TestSupport's helpers.

// The names this file's tests used before the helpers moved to TestSupport,
// kept for tests written against them on other branches; new tests use the
// TestSupport names (startDcrond, runDcrond, waitFor, lines, readFile, ...).
private typealias DcrondProcess = RunningProcess
private typealias DcrondResult = RunResult
private var dcrondBinary: String { DcrondBinary.path }
private var dcrondDinitBinary: String { DinitBinary.path }
private extension RunningProcess {
    var out: OutputBuffer { stdout }
    var err: OutputBuffer { stderr }
}
private func dcrondStart(_ args: [String], stdin: Data? = nil) throws -> RunningProcess {
    try startDcrond(args, stdin: stdin)
}
private func dcrondRun(_ args: [String], timeout: TimeInterval = 10,
                       file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    try runDcrond(args, timeout: timeout, file: file, line: line)
}
@discardableResult
private func dcrondPoll(timeout: TimeInterval, _ condition: () -> Bool) -> Bool { waitFor(timeout: timeout, condition) }
private func dcrondLines(_ s: String) -> [String] { lines(s) }
private func dcrondRead(_ path: String) -> String { readFile(path) }
private func dcrondDescendants(of pid: Int32) -> [Int32] { descendants(of: pid) }
private func dcrondIsAlive(_ pid: Int32) -> Bool { isLive(pid) }
private func dcrondGroupMembers(_ pgid: Int32) -> [(pid: Int32, state: String)] {
    processes(inGroup: pgid).map { ($0.pid, String($0.state)) }
}
private func dcrondTempDir(_ test: XCTestCase) throws -> String { try makeTempDir(test) }

/// Timestamps written by `date +%s.%N`, one a line.
private func dcrondTimestamps(_ path: String) -> [Double] {
    lines(readFile(path)).compactMap(Double.init)
}

/// Live (not zombie) members of a process group. The test machine's PID 1
/// does not reap orphans, and dcrond is no subreaper (under dinit, dinit
/// reaps them), so killed grandchildren may stay behind as zombies: dead, but
/// still listed.
private func dcrondLiveGroupMembers(_ pgid: Int32) -> [Int32] {
    processes(inGroup: pgid).filter { $0.state != "Z" && $0.state != "X" }.map(\.pid)
}

/// Pids in "dcrond: Started <pid> '...'" lines.
private func dcrondStartedPids(_ stderr: String) -> [Int32] {
    lines(stderr).compactMap { line -> Int32? in
        guard line.hasPrefix("dcrond: Started ") else { return nil }
        return Int32(line.dropFirst("dcrond: Started ".count).prefix { $0.isNumber })
    }
}

final class DcrondIntegrationTests: XCTestCase {

    /// A missing binary is a failure, not a skip: CI must not pass silently.
    private struct MissingBinary: Error, CustomStringConvertible {
        var path: String
        var description: String { "no executable at \(path) (set DCROND_BIN / DINIT_BIN or build it)" }
    }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: DcrondBinary.path) else { throw MissingBinary(path: DcrondBinary.path) }
    }

    // MARK: Schedule

    /// A run of 0.3 s and an interval of 0.3 s: starts are ~0.6 s apart, not
    /// 0.3 (the interval counts from the end of a run).
    func testIntervalCountsFromEndOfRun() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/starts"
        let p = try startDcrond(["-i", "0.3", "date +%s.%N >> \(f); sleep 0.3"])
        let got4 = waitFor(timeout: 8) { dcrondTimestamps(f).count >= 4 }
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertTrue(got4, "four runs expected\n\(r.summary)")
        XCTAssertEqual(r.status, 0, r.summary)
        let t = dcrondTimestamps(f)
        for k in 1..<min(t.count, 4) {
            let gap = t[k] - t[k - 1]
            XCTAssertGreaterThan(gap, 0.58, "run \(k) started \(gap) s after the previous start: \(t)")
            XCTAssertLessThan(gap, 1.6, "run \(k) started \(gap) s after the previous start: \(t)")
        }
        // Info lines for every run: Started, Child ... exited with status 0.
        let lines = r.stderrLines
        XCTAssertTrue(lines.first?.hasPrefix("dcrond: Started ") ?? false, r.summary)
        XCTAssertTrue(lines.first?.hasSuffix(" 'date +%s.%N >> \(f); sleep 0.3'") ?? false, r.summary)
        XCTAssertGreaterThanOrEqual(lines.filter { $0.hasSuffix(" exited with status 0") }.count, 3, r.summary)
        XCTAssertEqual(lines.last, "dcrond: Exiting, status 0", r.summary)
    }

    func testFirstRunAtOnceByDefault() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/starts"
        let t0 = Date().timeIntervalSince1970
        let p = try startDcrond(["-i", "30", "date +%s.%N >> \(f)"])
        XCTAssertTrue(waitFor(timeout: 5) { dcrondTimestamps(f).count >= 1 }, p.stderr.text)
        let first = dcrondTimestamps(f).first ?? 0
        XCTAssertLessThan(first - t0, 1.0, "no delay by default")
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(dcrondTimestamps(f).count, 1, "the second run is 30 s away\n\(r.summary)")
    }

    func testDelayBeforeFirstRun() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/starts"
        let t0 = Date().timeIntervalSince1970
        let p = try startDcrond(["-d", "0.8", "-i", "0.2", "date +%s.%N >> \(f)"])
        usleep(400_000)
        XCTAssertEqual(dcrondTimestamps(f).count, 0, "nothing may run during the delay")
        XCTAssertTrue(p.isRunning)
        XCTAssertTrue(waitFor(timeout: 5) { dcrondTimestamps(f).count >= 2 }, p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 0, r.summary)
        let t = dcrondTimestamps(f)
        guard t.count >= 2 else { return XCTFail(r.summary) }
        XCTAssertGreaterThan(t[0] - t0, 0.75, "first run after the 0.8 s delay")
        XCTAssertLessThan(t[0] - t0, 3.0)
        XCTAssertGreaterThan(t[1] - t[0], 0.18, "then the interval")
        XCTAssertLessThan(t[1] - t[0], 1.5)
    }

    // MARK: Failure

    func testFailingRunEndsDcrondWithItsStatus() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/count"
        // Two successful runs, then the third exits 7.
        let cmd = "echo run >> \(f); [ $(wc -l < \(f)) -lt 3 ] || exit 7"
        let r = try runDcrond(["-i", "0.1", cmd])
        XCTAssertEqual(r.status, 7, r.summary)
        XCTAssertFalse(r.signaled)
        XCTAssertEqual(lines(readFile(f)).count, 3, "no run after the failure\n\(r.summary)")
        let pids = dcrondStartedPids(r.stderr)
        XCTAssertEqual(pids.count, 3, r.summary)
        XCTAssertEqual(Array(r.stderrLines.suffix(2)),
                       ["dcrond: Child \(pids.last ?? -1) exited with status 7", "dcrond: Exiting, status 7"], r.summary)
    }

    func testRunKilledBySignalEndsDcrondWithSignalNumber() throws {
        let r = try runDcrond(["-i", "0.1", "kill -USR1 $$"])
        XCTAssertEqual(r.status, 10, r.summary)
        XCTAssertTrue(r.stderr.contains(" exited with status 10\n"), r.summary)
        XCTAssertTrue(r.stderr.hasSuffix("dcrond: Exiting, status 10\n"), r.summary)
    }

    func testDashCommandlineKeepsGoing() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/ticks"
        let p = try startDcrond(["-i", "0.1", "--", "-echo tick >> \(f); false"])
        let ok = waitFor(timeout: 8) { lines(readFile(f)).count >= 4 }
        XCTAssertTrue(p.isRunning, "failures must not end dcrond\n\(p.stderr.text)")
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertTrue(ok, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertGreaterThanOrEqual(r.stderrLines.filter { $0.hasSuffix(" exited with status 1") }.count, 3, r.summary)
        // The dash is stripped: sh runs "echo tick ...", not "-echo".
        XCTAssertTrue(r.stderr.contains(" 'echo tick >> \(f); false'\n"), r.summary)
        XCTAssertFalse(r.stderr.contains("not found"), r.summary)
    }

    // MARK: Signals

    func testSIGTERMBetweenRunsExitsZeroQuickly() throws {
        let p = try startDcrond(["-i", "30", "true"])
        XCTAssertTrue(waitFor(timeout: 5) { p.stderr.text.contains("exited with status 0") }, p.stderr.text)
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait()
        let took = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertLessThan(took, 1.0, "exit at once between runs\n\(r.summary)")
        XCTAssertEqual(r.stderrLines.last, "dcrond: Exiting, status 0", r.summary)
    }

    func testSIGINTDuringDelayExitsZero() throws {
        let dir = try makeTempDir(self)
        let p = try startDcrond(["-d", "30", "-i", "1", "touch \(dir)/ran"])
        usleep(300_000)
        p.signal(SIGINT)
        let r = p.wait(timeout: 5)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/ran"), r.summary)
        XCTAssertEqual(r.stderrLines, ["dcrond: Exiting, status 0"], r.summary)
    }

    /// SIGTERM while a run with background children is in progress: the
    /// whole process group gets it, dcrond exits 0, nothing of the group
    /// is left running.
    func testSIGTERMDuringRunStopsWholeGroup() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/pids"
        let cmd = "sleep 30 & echo $! >> \(f); sleep 30 & echo $! >> \(f); echo $$ >> \(f); wait"
        let p = try startDcrond(["-i", "30", cmd])
        // The run may write its pids before dcrond's Started line reaches
        // our reader: wait for both.
        XCTAssertTrue(waitFor(timeout: 5) { lines(readFile(f)).count >= 3 && !dcrondStartedPids(p.stderr.text).isEmpty },
                      p.stderr.text)
        let recorded = lines(readFile(f)).compactMap { Int32($0) }
        let started = dcrondStartedPids(p.stderr.text)
        XCTAssertEqual(started.count, 1, p.stderr.text)
        let pgid = started.first ?? -1
        XCTAssertEqual(recorded.last, pgid, "the run is the shell itself")
        let before = dcrondLiveGroupMembers(pgid)
        XCTAssertEqual(Set(before), Set(recorded), "the run leads its own group of three")
        XCTAssertNotEqual(getpgid(p.pid), pgid, "dcrond is not in the run's group")

        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3.0, "everything exits on TERM, no SIGKILL needed\n\(r.summary)")
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(Array(r.stderrLines.suffix(2)),
                       ["dcrond: Child \(pgid) exited with status 15", "dcrond: Exiting, status 0"], r.summary)
        XCTAssertTrue(waitFor(timeout: 3) { dcrondLiveGroupMembers(pgid).isEmpty },
                      "left in group \(pgid): \(processes(inGroup: pgid))")
        for pid in recorded { XCTAssertFalse(isLive(pid), "pid \(pid) survived") }
    }

    /// A run that ignores SIGTERM (and so do its children) is SIGKILLed,
    /// group and all, after -k.
    func testRunIgnoringTERMIsKilledAfterKillTimeout() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/pids"
        let cmd = "trap '' TERM; sleep 30 & echo $! >> \(f); echo $$ >> \(f); wait"
        let p = try startDcrond(["-k", "0.5", "-i", "30", cmd])
        XCTAssertTrue(waitFor(timeout: 5) { lines(readFile(f)).count >= 2 }, p.stderr.text)
        let recorded = lines(readFile(f)).compactMap { Int32($0) }
        let pgid = recorded.last ?? -1
        let t0 = Date()
        p.signal(SIGTERM)
        usleep(250_000)
        XCTAssertTrue(p.isRunning, "dcrond waits for the kill timeout")
        XCTAssertTrue(recorded.allSatisfy(isLive), "the run ignores TERM")
        let r = p.wait()
        let took = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertGreaterThan(took, 0.45, r.summary)
        XCTAssertLessThan(took, 3.0, r.summary)
        XCTAssertEqual(Array(r.stderrLines.suffix(3)), [
            "dcrond: Child \(pgid) still running after 0.5 s, sending SIGKILL to its process group",
            "dcrond: Child \(pgid) exited with status 9",
            "dcrond: Exiting, status 0",
        ], r.summary)
        XCTAssertTrue(waitFor(timeout: 3) { dcrondLiveGroupMembers(pgid).isEmpty },
                      "left in group \(pgid): \(processes(inGroup: pgid))")
    }

    func testSecondTERMKillsAtOnce() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/ready"
        let p = try startDcrond(["-k", "30", "-i", "30", "trap '' TERM; echo $$ > \(f); sleep 30"])
        XCTAssertTrue(waitFor(timeout: 5) { !readFile(f).isEmpty }, p.stderr.text)
        p.signal(SIGTERM)
        usleep(200_000)
        XCTAssertTrue(p.isRunning)
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2.0, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stderr.contains("exited with status 9\n"), r.summary)
    }

    /// A signal other than TERM/INT/QUIT reaches the run's group without
    /// stopping anything; between runs it is dropped and dcrond lives on.
    func testOtherSignalForwardedDuringRunOnly() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/log"
        let cmd = "trap 'echo hup >> \(f); exit 0' HUP; echo ready >> \(f); while :; do sleep 0.05; done"
        let p = try startDcrond(["-i", "30", cmd])
        XCTAssertTrue(waitFor(timeout: 5) { readFile(f).contains("ready") }, p.stderr.text)
        p.signal(SIGHUP)
        XCTAssertTrue(waitFor(timeout: 5) { p.stderr.text.contains("exited with status 0") },
                      "the run got HUP and exited 0\n\(p.stderr.text)")
        XCTAssertEqual(lines(readFile(f)), ["ready", "hup"])
        p.signal(SIGHUP)
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "HUP between runs must not end dcrond")
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 0, r.summary)
    }

    // MARK: Quiet levels

    private static let chatty = "echo out-line; echo err-line >&2; exit 3"

    func testDefaultLogsInfoLines() throws {
        let r = try runDcrond(["-i", "1", Self.chatty])
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "out-line\n", r.summary)
        let pid = dcrondStartedPids(r.stderr).first ?? -1
        // The run's own stderr line may come before or after "Started".
        XCTAssertEqual(r.stderrLines.filter { $0.hasPrefix("dcrond: ") }, [
            "dcrond: Started \(pid) '\(Self.chatty)'",
            "dcrond: Child \(pid) exited with status 3",
            "dcrond: Exiting, status 3",
        ], r.summary)
        XCTAssertEqual(r.stderrLines.filter { !$0.hasPrefix("dcrond: ") }, ["err-line"], r.summary)
    }

    func testQuiet1ErrorsOnly() throws {
        let r = try runDcrond(["-q", "-i", "1", Self.chatty])
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "out-line\n", r.summary)
        let l = r.stderrLines
        XCTAssertEqual(l.count, 2, r.summary)
        XCTAssertEqual(l.first, "err-line", r.summary)
        XCTAssertTrue(l.last?.hasPrefix("dcrond: Child ") ?? false, r.summary)
        XCTAssertTrue(l.last?.hasSuffix(" exited with status 3") ?? false, r.summary)

        // A successful run says nothing at all with -q.
        let dir = try makeTempDir(self)
        let p = try startDcrond(["-q", "-i", "30", "touch \(dir)/ran"])
        XCTAssertTrue(waitFor(timeout: 5) { FileManager.default.fileExists(atPath: "\(dir)/ran") })
        usleep(100_000)
        p.signal(SIGTERM)
        let s = p.wait()
        XCTAssertEqual(s.status, 0, s.summary)
        XCTAssertEqual(s.stderr, "", s.summary)
    }

    func testQuiet2NoDcrondOutput() throws {
        let r = try runDcrond(["-qq", "-i", "1", Self.chatty])
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "out-line\n", r.summary)
        XCTAssertEqual(r.stderr, "err-line\n", r.summary)
    }

    func testQuiet3SilencesCommand() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/fds"
        let cmd = "fds=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2); echo \"$fds\" > \(f); cat > \(dir)/in; " + Self.chatty
        let p = try startDcrond(["-qqq", "-i", "1", cmd], stdin: Data("from-stdin\n".utf8))
        let r = p.wait()
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "", r.summary)
        XCTAssertEqual(r.stderr, "", r.summary)
        XCTAssertEqual(lines(readFile(f)), ["/dev/null", "/dev/null", "/dev/null"])
        XCTAssertEqual(readFile("\(dir)/in"), "", "stdin is /dev/null too")
    }

    func testWithoutQuietCommandInheritsStdin() throws {
        let dir = try makeTempDir(self)
        let p = try startDcrond(["-qq", "-i", "1", "cat > \(dir)/in; exit 4"], stdin: Data("from-stdin\n".utf8))
        let r = p.wait()
        XCTAssertEqual(r.status, 4, r.summary)
        XCTAssertEqual(readFile("\(dir)/in"), "from-stdin\n")
    }

    // MARK: Bad input

    func testBadInputExits2WithOneLineAndRunsNothing() throws {
        let dir = try makeTempDir(self)
        let marker = "\(dir)/ran"
        let cmd = "touch \(marker)"
        let cases: [[String]] = [
            [cmd],
            ["-i", "0", cmd],
            ["-i", "0.0", cmd],
            ["-i", "-1", cmd],
            ["-i", "abc", cmd],
            ["-i", "nan", cmd],
            ["-i", "inf", cmd],
            ["-i", "", cmd],
            ["-i", "1", "-d", "-1", cmd],
            ["-i", "1", "-d", "nan", cmd],
            ["-i", "1", "-k", "inf", cmd],
            ["-x", "-i", "1", cmd],
            ["-i", "1"],
            ["-i", "1", "--"],
            ["-i", "1", "touch", marker],
            ["-i", "1", "--", cmd, "extra"],
            ["-i", "1", "-"],
            ["-qqqq", "-i", "1", cmd],
            ["-i"],
        ]
        for args in cases {
            let r = try runDcrond(args, timeout: 5)
            XCTAssertEqual(r.status, 2, "\(args)\n\(r.summary)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(args)\n\(r.summary)")
            XCTAssertTrue(r.stderr.hasPrefix("dcrond: "), "\(args)\n\(r.summary)")
            XCTAssertFalse(r.stderr.contains("Usage"), "\(args)\n\(r.summary)")
            XCTAssertEqual(r.stdout, "", "\(args)\n\(r.summary)")
        }
        assertNeverCreated(marker, "nothing may run on bad input")
    }

    func testBadInputMessagesNameTheProblem() throws {
        XCTAssertEqual(try runDcrond(["true"]).stderr,
                       "dcrond: missing -i interval (seconds between runs, greater than 0)\n")
        XCTAssertEqual(try runDcrond(["-i", "0", "true"]).stderr,
                       "dcrond: the interval must be greater than 0, not '0'\n")
        XCTAssertTrue(try runDcrond(["-i", "nan", "true"]).stderr.contains("'nan'"))
        XCTAssertEqual(try runDcrond(["-y", "-i", "1", "true"]).stderr, "dcrond: unknown option '-y'\n")
        XCTAssertTrue(try runDcrond(["-i", "1", "echo", "hi"]).stderr.contains("'hi'"))
    }

    func testNoArgumentsPrintsUsageExit2() throws {
        let r = try runDcrond([])
        XCTAssertEqual(r.status, 2, r.summary)
        XCTAssertEqual(r.stdout, "", r.summary)
        XCTAssertTrue(r.stderr.hasPrefix("Usage: dcrond "), r.summary)
        for option in ["-i interval", "-d delay", "-k kill_timeout", "-q", "-h", "-V"] {
            XCTAssertTrue(r.stderr.contains("  \(option)"), "usage lacks \(option)\n\(r.summary)")
        }
    }

    func testHelpOnStdoutExit0() throws {
        for flag in ["-h", "--help"] {
            let r = try runDcrond([flag])
            XCTAssertEqual(r.status, 0, r.summary)
            XCTAssertEqual(r.stderr, "", r.summary)
            XCTAssertTrue(r.stdout.hasPrefix("Usage: dcrond "), r.summary)
            XCTAssertTrue(r.stdout.contains("  -i interval"), r.summary)
        }
        let none = try runDcrond([])
        XCTAssertEqual(try runDcrond(["-h"]).stdout, none.stderr, "the same usage text")
    }

    func testVersion() throws {
        let r = try runDcrond(["-V"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.hasPrefix("dcrond "), r.summary)
        XCTAssertEqual(lines(r.stdout).count, 1, r.summary)
    }

    // MARK: Under dinit

    private func requireDinit() throws {
        guard FileManager.default.isExecutableFile(atPath: DinitBinary.path) else {
            throw MissingBinary(path: DinitBinary.path)
        }
    }

    /// The seed document's combination: a daemon and dcrond under dinit,
    /// no `--` before dcrond's command line.
    func testUnderDinitTicksAndStopsCleanly() throws {
        try requireDinit()
        let dir = try makeTempDir(self)
        let f = "\(dir)/ticks"
        let p = try RunningProcess(DinitBinary.path, ["-d", "0.1", "--", "sleep", "30",
                                                      "--", DcrondBinary.path, "-i", "0.2", "echo tick >> \(f)"])
        let ticked = waitFor(timeout: 8) { lines(readFile(f)).count >= 3 }
        XCTAssertTrue(p.isRunning, p.stderr.text)
        let tree = descendants(of: p.pid)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertTrue(ticked, r.summary)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertTrue(lines(readFile(f)).allSatisfy { $0 == "tick" })
        // dcrond is stopped first and exits 0 (a clean stop); then sleep,
        // killed by SIGTERM, gives dinit its status 15.
        let stopped = r.stderrLines.filter { $0.hasPrefix("dinit: Stopped child ") }
        XCTAssertEqual(stopped.count, 2, r.summary)
        XCTAssertTrue(stopped.first?.hasSuffix("'\(DcrondBinary.path)', exited with status 0") ?? false, r.summary)
        XCTAssertTrue(stopped.last?.hasSuffix("'sleep', exited with status 15") ?? false, r.summary)
        XCTAssertTrue(r.stderrLines.contains("dcrond: Exiting, status 0"), r.summary)
        XCTAssertEqual(r.stderrLines.last, "dinit: Exiting, status 15", r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertGreaterThanOrEqual(tree.count, 2, "sleep and dcrond ran under dinit")
        for pid in tree { XCTAssertFalse(isLive(pid), "pid \(pid) survived dinit") }
        let n = lines(readFile(f)).count
        usleep(500_000)
        XCTAssertEqual(lines(readFile(f)).count, n, "no tick after the stop")
    }

    /// `\--` under dinit reaches dcrond as `--`, so a dash command line works:
    /// its failures are ignored and the runs go on until TERM.
    func testUnderDinitEscapedDashDashKeepsRunning() throws {
        try requireDinit()
        let dir = try makeTempDir(self)
        let f = "\(dir)/ticks"
        let p = try RunningProcess(DinitBinary.path, ["--", DcrondBinary.path, "-i", "0.2", "\\--", "-echo tick >> \(f); false"])
        let ticked = waitFor(timeout: 8) { lines(readFile(f)).count >= 3 }
        XCTAssertTrue(p.isRunning, "dcrond must keep running despite failing runs\n\(p.stderr.text)")
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertTrue(ticked, r.summary)
        XCTAssertGreaterThanOrEqual(r.stderrLines.filter { $0.hasPrefix("dcrond: Child ") && $0.hasSuffix(" exited with status 1") }.count,
                                    2, r.summary)
        XCTAssertFalse(r.stderr.contains("dcrond: unknown option"), r.summary)
        XCTAssertTrue(r.stderrLines.contains("dcrond: Exiting, status 0"), r.summary)
        XCTAssertEqual(r.stderrLines.last, "dinit: Exiting, status 0", r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
    }
}

// MARK: - Regressions of issue 9

/// State letter of /proc/PID/stat (R, S, Z, ...), nil when gone.
private func dcrondState(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
}

/// Direct children of `pid` (zombies included).
private func dcrondChildren(of pid: Int32) -> [Int32] {
    let s = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
    return s.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
}

final class DcrondRegressionTests: XCTestCase {
    private var unshareOK: Bool { ReapingTests.unshareAvailable }

    /// Issue 9.4: dcrond as PID 1 (alone as a container's command) reaps
    /// the orphans its runs leave: `sleep 0.05 &` every 0.2 s left a growing
    /// heap of zombies. Sampled five times: no zombie child stays.
    func testDcrondAsPID1ReapsOrphans() throws {
        try XCTSkipUnless(unshareOK, "unshare --pid --fork --mount-proc not usable")
        let p = try DcrondProcess("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", dcrondBinary,
                                                      "-qq", "-i", "0.2", "sleep 0.05 & exit 0"])
        defer { if p.isRunning { for d in dcrondDescendants(of: p.pid) { kill(d, SIGKILL) } } }
        var dcrond: Int32?
        dcrondPoll(timeout: 5) {
            // unshare's only child, by PID (see launchedDinit): dcrond, or
            // the emulator running it.
            dcrond = launchedDinit(by: p.pid)
            return dcrond != nil
        }
        guard let d = dcrond else { return XCTFail("dcrond not found in the namespace") }
        usleep(1_500_000)
        var samples: [Int] = []
        for _ in 0..<5 {
            samples.append(dcrondChildren(of: d).filter { dcrondState($0) == "Z" }.count)
            usleep(200_000)
        }
        XCTAssertEqual(samples.min(), 0, "zombie children of dcrond as PID 1, per sample: \(samples)")
        XCTAssertLessThanOrEqual(samples.max() ?? 99, 2, "zombies pile up: \(samples)")
        kill(d, SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
    }

    /// Issue 9.6 for dcrond: started with 0, 1 and 2 closed, it puts
    /// /dev/null on them first, so the run gets stdio and dcrond's own
    /// descriptors stay off 0-2.
    func testClosedStandardDescriptorsGetDevNull() throws {
        let dir = try dcrondTempDir(self)
        let out = "\(dir)/fds"
        let probe = try writeStandardDescriptorProbe(in: dir)
        let p = try DcrondProcess("/bin/sh", ["-c", "exec '\(dcrondBinary)' -i 100 'exec /usr/bin/python3 \(probe) \(out)' 0<&- 1>&- 2>&-"])
        defer { if p.isRunning { p.signal(SIGKILL) } }
        XCTAssertTrue(dcrondPoll(timeout: 5) { dcrondLines(dcrondRead(out)).count >= 6 }, dcrondRead(out))
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(dcrondLines(dcrondRead(out)), Array(repeating: "/dev/null", count: 6), dcrondRead(out))
    }
}
