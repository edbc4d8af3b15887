import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// Hardening (issue 6): orphan storms and bursts, the catatonit races, soaks,
// resource faults and the largest command list, and pidfd-only signalling.
// Black-box tests of the binaries named by DINIT_BIN / DCROND_BIN (else the
// SwiftPM-built ones next to the test bundle). Numbers worth knowing (times,
// RSS, descriptor counts) are printed with a "hardening:" prefix.
//
// Helper scripts (Python stdlib only) live in Tests/Hardening/ at the top of
// the package: orphan_burst.py and subreaper_wrapper.py.

// MARK: - Private helpers (the /proc ones are TestSupport's)

// The names this file's tests used before the helpers moved to TestSupport,
// kept for tests written against them on other branches; new tests use the
// TestSupport names.
private var hrScriptDir: String { hardeningScriptDirectory }
private var hrDcrondPath: String { DcrondBinary.path }
private typealias HRProc = ProcStat
private typealias HRFootprint = Footprint
private func hrRead(_ path: String) -> String? { readFileIfPresent(path) }
private func hrStat(_ pid: Int32) -> ProcStat? { ProcStat(pid: pid) }
private func hrAllProcesses() -> [ProcStat] { allProcesses() }
private func hrZombies(parent: Int32) -> [Int32] { zombies(parent: parent) }
private func hrChildren(of pid: Int32) -> [Int32] { children(of: pid) }
private func hrStatusKB(_ pid: Int32, _ key: String) -> Int? { statusKB(pid, key) }
private func hrFds(_ pid: Int32) -> (total: Int, pidfds: Int) { openDescriptors(pid) }
private func hrFootprint(_ pid: Int32, samples: Int = 1) -> Footprint { Footprint(of: pid, samples: samples) }
private var hrUnshare: [String] { PIDNamespace.unshareArguments }
private func hrCount(_ s: String, _ needle: String) -> Int { occurrences(of: needle, in: s) }

private enum HRMode: String, CaseIterable {
    case pid1 = "PID 1"
    case subreaper = "subreaper"
    case underSubreaper = "under another subreaper"
}

/// Starts dinit in `mode`; returns the outer process and dinit's pid (as we
/// see it).
private func hrLaunch(_ mode: HRMode, _ args: [String]) throws -> (RunningProcess, Int32?) {
    let p: RunningProcess
    switch mode {
    case .subreaper:
        p = try startDinit(args)
        return (p, p.pid)
    case .pid1:
        p = try startDinitAsPID1(args)
    case .underSubreaper:
        p = try RunningProcess("/usr/bin/python3", [hardeningScript("subreaper_wrapper.py"), DinitBinary.path] + args)
    }
    // The launcher's only child, by PID (see launchedDinit): dinit, or the
    // emulator running it.
    var dinit: Int32?
    p.waitUntil(timeout: 5) {
        dinit = launchedDinit(by: p.pid)
        return dinit != nil
    }
    return (p, dinit)
}

/// dinit's log without the subreaper info line (absent as PID 1).
private func hrLog(_ r: RunResult) -> [LogLine] {
    r.log.filter { $0 != .subreaper }
}

private func hrSecs(_ t: TimeInterval) -> String { String(format: "%.2f s", t) }

private func hrSay(_ s: String) { print("hardening: \(s)") }

private func hrBinaryLabel() -> String { DinitBinary.path }

// MARK: - Tests

final class HardeningReapTests: XCTestCase {
    private var unshareOK: Bool { ReapingTests.unshareAvailable }

    // MARK: 1. 200 double-forked orphans in three positions

    /// `sh -c 'for i in $(seq 200); do (sleep 0.2 &) ; done; sleep 1'` as a
    /// `:wait:` command, then a daemon so dinit keeps running after the
    /// storm. The orphans are adopted by dinit (seen as its children), every
    /// one is reaped: no zombie whose parent is dinit is left while dinit
    /// still runs, and a TERM then gives the normal orderly stop.
    private func hrOrphanStorm(_ mode: HRMode) throws {
        let storm = "for i in $(seq 200); do (sleep 0.2 &) ; done; sleep 1"
        let (p, dinitPid) = try hrLaunch(mode, ["-d", "0", "-k", "3", "--", ":wait:sh", "-c", storm,
                                                 "--", "sleep", "100"])
        guard let d = dinitPid else {
            let r = p.wait(timeout: 1)
            return XCTFail("[\(mode.rawValue)] dinit not found\n\(r.summary)")
        }
        var maxAdopted = 0, maxZombies = 0
        let t0 = Date()
        while Date().timeIntervalSince(t0) < 20, occurrences(of: "'sleep'", in: p.stderr.text) < 1 {
            let kids = children(of: d)
            maxAdopted = max(maxAdopted, kids.count - 1)
            maxZombies = max(maxZombies, kids.filter { ProcStat(pid: $0)?.state == "Z" }.count)
            usleep(20_000)
        }
        let stormTime = Date().timeIntervalSince(t0)
        XCTAssertTrue(p.stderr.text.contains("'sleep'"), "[\(mode.rawValue)] storm did not finish\n\(p.stderr.text)")
        // Every orphan exited at least 0.8 s ago: none may be left as a zombie.
        var zombiesLeft = zombies(parent: d)
        if !zombiesLeft.isEmpty {
            p.waitUntil(timeout: 1) { zombies(parent: d).isEmpty }
            zombiesLeft = zombies(parent: d)
        }
        XCTAssertEqual(zombiesLeft, [], "[\(mode.rawValue)] zombies left under dinit \(d) while it runs")
        usleep(200_000)
        XCTAssertEqual(zombies(parent: d), [], "[\(mode.rawValue)] zombies under dinit after the storm")
        let left = children(of: d).compactMap { ProcStat(pid: $0) }
        XCTAssertEqual(left.count, 1, "[\(mode.rawValue)] dinit's children after the storm: \(left)")
        XCTAssertGreaterThan(maxAdopted, 0, "[\(mode.rawValue)] no orphan was ever adopted by dinit: the test proves nothing")
        kill(d, SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 15, "[\(mode.rawValue)] \(r.summary)")
        if let pids = r.startedPids(count: 2, "[\(mode.rawValue)]") {
            XCTAssertEqual(hrLog(r), [
                .started(pid: pids[0], program: "sh"),
                .childExited(pid: pids[0], program: "sh", status: 0),
                .started(pid: pids[1], program: "sleep"),
                .stopped(pid: pids[1], program: "sleep", status: 15),
                .exiting(status: 15),
            ], "[\(mode.rawValue)] \(r.summary)")
        }
        XCTAssertEqual(r.log.contains(.subreaper), mode != .pid1, r.summary)
        if mode == .underSubreaper {
            XCTAssertTrue(r.stderr.contains("wrapper: program status 15, adopted orphans reaped 0, leftovers killed 0"),
                          "the outer subreaper got orphans or leftovers: dinit should have taken them\n\(r.summary)")
        }
        hrSay("orphan storm 200 [\(mode.rawValue)]: storm \(hrSecs(stormTime)), peak adopted \(maxAdopted), " +
              "peak transient zombies \(maxZombies), zombies after \(zombiesLeft.count), whole run \(hrSecs(r.elapsed))")
    }

    func testOrphanStorm200AsPID1() throws {
        try XCTSkipUnless(unshareOK, "unshare --pid --fork --mount-proc not usable")
        try hrOrphanStorm(.pid1)
    }

    func testOrphanStorm200AsSubreaper() throws {
        try hrOrphanStorm(.subreaper)
    }

    func testOrphanStorm200UnderAnotherSubreaper() throws {
        try hrOrphanStorm(.underSubreaper)
    }

    // MARK: 2. A burst of 20,000 orphans

    /// orphan_burst.py (a daemon) makes 100 orphans on the first SIGUSR1
    /// (warm-up: every code path has run once) and 20,000 on the second,
    /// all released to exit at once. Afterwards: no zombie, only the two
    /// daemons are dinit's children, VmRSS within 16 kB and exactly the same
    /// descriptors as before the burst, and a TERM stops both daemons in
    /// reverse order.
    func testBurstOf20000Orphans() throws {
        let size = 20_000
        let p = try startDinit(["-d", "0", "-k", "3", "--",
                                "python3", hardeningScript("orphan_burst.py"), "100", "\(size)",
                                "--", "sh", "-c", "trap '' USR1; exec sleep 100"])
        let d = p.pid
        defer { if p.isRunning { killTree(d) } }
        XCTAssertTrue(p.waitForStdout("ready", timeout: 10), p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        kill(d, SIGUSR1)
        XCTAssertTrue(p.waitForStdout("burst 100 done", timeout: 10), p.stdout.text + p.stderr.text)
        XCTAssertTrue(p.waitUntil(timeout: 5) { children(of: d).count == 2 }, "\(children(of: d).count) children")
        usleep(200_000)
        let before = Footprint(of: d, samples: 3)

        let t0 = Date()
        kill(d, SIGUSR1)
        var peak = 0
        var doneAt: Date?
        while Date().timeIntervalSince(t0) < 40 {
            let n = children(of: d).count
            peak = max(peak, n - 2)
            if doneAt == nil, p.stdout.text.contains("burst \(size) done") { doneAt = Date() }
            if doneAt != nil, n == 2 { break }
            usleep(50_000)
        }
        let reapedAt = Date()
        XCTAssertNotNil(doneAt, "burst not done in 40 s\n\(p.stdout.text)")
        XCTAssertFalse(p.stdout.text.contains("middles failed"), p.stdout.text)
        XCTAssertTrue(p.isRunning, "dinit died during the burst\n\(p.stderr.text)")
        XCTAssertEqual(zombies(parent: d), [], "zombies left after the burst")
        XCTAssertEqual(children(of: d).count, 2, "dinit's children after the burst")
        XCTAssertGreaterThan(peak, 0, "no orphan of the burst was ever seen under dinit")
        usleep(200_000)
        let after = Footprint(of: d, samples: 3)
        XCTAssertLessThanOrEqual(after.rssKB - before.rssKB, 16, "VmRSS grew: before \(before), after \(after)")
        XCTAssertEqual(after.fds, before.fds, "descriptors changed: before \(before), after \(after)")

        // Still responsive: an orderly reverse-order stop.
        let tTerm = Date()
        kill(d, SIGTERM)
        let r = p.wait(timeout: 15)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
        if let pids = r.startedPids(count: 2) {
            assertLog(r, endsWith: [
                .stopped(pid: pids[1], program: "sh", status: 15),
                .stopped(pid: pids[0], program: "python3", status: 0),
                .exiting(status: 15),
            ])
        }
        let burstTime = (doneAt ?? reapedAt).timeIntervalSince(t0)
        hrSay("burst \(size) orphans: made in \(hrSecs(burstTime)), all reaped \(hrSecs(reapedAt.timeIntervalSince(doneAt ?? reapedAt))) " +
              "later, peak adopted \(peak); dinit before \(before), after \(after); stop after TERM " +
              "\(hrSecs(Date().timeIntervalSince(tTerm)))")
    }

    // MARK: 3. The catatonit races, and status 127

    private static let raceScript = "bash -c 'sleep 0.01 & kill -9 $BASHPID'; sleep 0.0087"

    /// catatonit's race: the inner bash is SIGKILLed with its sleep still
    /// running (an orphan for dinit), the outer bash exits 0 a moment later.
    /// dinit ends the run (a daemon exited on its own: status 1). Repeated
    /// many times: never a hang.
    private func hrRace(_ mode: HRMode, iterations: Int) throws {
        let args = ["-d", "0", "--", "bash", "-c", Self.raceScript]
        var failures: [String] = []
        var maxElapsed: TimeInterval = 0
        let t0 = Date()
        for i in 0..<iterations {
            let p: RunningProcess
            switch mode {
            case .pid1: p = try startDinitAsPID1(args)
            default: p = try startDinit(args)
            }
            let r = p.wait(timeout: 5)
            maxElapsed = max(maxElapsed, r.elapsed)
            let ok = !r.timedOut && !r.signaled && r.status == 1 && r.log.last == .exiting(status: 1)
                && hrLog(r).count == 3
            if !ok { failures.append("iteration \(i): \(r.summary)") }
            if failures.count >= 3 { break }
        }
        XCTAssertEqual(failures, [], "[\(mode.rawValue)] catatonit race")
        hrSay("catatonit race [\(mode.rawValue)]: \(iterations) runs in \(hrSecs(Date().timeIntervalSince(t0))), " +
              "slowest \(hrSecs(maxElapsed)), failures \(failures.count)")
    }

    func testCatatonitRaceRepeated() throws {
        try hrRace(.subreaper, iterations: 200)
    }

    func testCatatonitRaceRepeatedAsPID1() throws {
        try XCTSkipUnless(unshareOK, "unshare --pid --fork --mount-proc not usable")
        try hrRace(.pid1, iterations: 50)
    }

    /// A child exiting 127 (the status a shell uses for "command not found",
    /// and dinit's for ENOENT): as a daemon, next to another daemon, as a
    /// `:wait:` command and as `:wait:-`. No hang, the right status and log.
    func testChildExiting127() throws {
        let exit127 = ["sh", "-c", "exit 127"]
        // Alone, as a daemon, repeated.
        for i in 0..<30 {
            let r = try runDinit(["-d", "0", "--"] + exit127, timeout: 5)
            guard let pid = r.startedPids.first else { XCTFail("run \(i): \(r.summary)"); break }
            XCTAssertEqual(r.status, 127, "run \(i): \(r.summary)")
            XCTAssertEqual(hrLog(r), [
                .started(pid: pid, program: "sh"),
                .childExited(pid: pid, program: "sh", status: 127),
                .exiting(status: 127),
            ], "run \(i): \(r.summary)")
            if r.status != 127 || r.timedOut { break }
        }
        // Next to a daemon: it is stopped, the first nonzero status wins.
        do {
            let r = try runDinit(["-d", "0", "--", "sleep", "100", "--"] + exit127, timeout: 10)
            XCTAssertEqual(r.status, 127, r.summary)
            if let pids = r.startedPids(count: 2) {
                XCTAssertEqual(hrLog(r), [
                    .started(pid: pids[0], program: "sleep"),
                    .started(pid: pids[1], program: "sh"),
                    .childExited(pid: pids[1], program: "sh", status: 127),
                    .stopped(pid: pids[0], program: "sleep", status: 15),
                    .exiting(status: 127),
                ], r.summary)
            }
        }
        // As :wait:: startup aborts, nothing further starts.
        do {
            let r = try runDinit(["-d", "0", "--", ":wait:sh", "-c", "exit 127", "--", "sleep", "100"], timeout: 5)
            XCTAssertEqual(r.status, 127, r.summary)
            if let pid = r.startedPids.first {
                XCTAssertEqual(hrLog(r), [
                    .started(pid: pid, program: "sh"),
                    .childExited(pid: pid, program: "sh", status: 127),
                    .exiting(status: 127),
                ], r.summary)
            } else { XCTFail(r.summary) }
        }
        // As :wait:-: not an error, startup goes on.
        do {
            let r = try runDinit(["-d", "0", "--", ":wait:-sh", "-c", "exit 127", "--", ":wait:true"], timeout: 5)
            XCTAssertEqual(r.status, 0, r.summary)
            if let pids = r.startedPids(count: 2) {
                XCTAssertEqual(hrLog(r), [
                    .started(pid: pids[0], program: "sh"),
                    .childExited(pid: pids[0], program: "sh", status: 127),
                    .started(pid: pids[1], program: "true"),
                    .childExited(pid: pids[1], program: "true", status: 0),
                    .exiting(status: 0),
                ], r.summary)
            }
        }
        // As PID 1.
        if unshareOK {
            let r = try runDinitAsPID1(["-d", "0", "--"] + exit127, timeout: 5)
            XCTAssertEqual(r.status, 127, r.summary)
            XCTAssertEqual(r.log.last, .exiting(status: 127), r.summary)
        }
    }

    // MARK: 4. Soak

    /// dcrond with a 0.1 ms interval for 10,000 runs (each appends one byte
    /// to a counter file): VmRSS and descriptors after ~100 runs and at the
    /// end are the same (RSS slack 8 kB; descriptors other than the run's
    /// pidfd exactly equal, at most one pidfd).
    func testDcrondSoak10000Runs() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: DcrondBinary.path), "no dcrond at \(DcrondBinary.path)")
        let dir = try makeTempDir(self)
        let counter = "\(dir)/runs"
        let target = 10_000
        let p = try RunningProcess(DcrondBinary.path, ["-i", "0.0001", "echo >> \(counter)"])
        defer { if p.isRunning { killTree(p.pid) } }
        func runs() -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: counter))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let t0 = Date()
        XCTAssertTrue(p.waitUntil(timeout: 10) { runs() >= 100 }, p.stderr.text)
        // Under an emulator a spawn (vfork emulated as fork) takes long
        // enough that most samples land in one: take more of them.
        let samples = Emulation.active ? 60 : 5
        let early = Footprint(of: p.pid, samples: samples)
        let earlyRuns = runs()
        let ok = p.waitUntil(timeout: 60) { runs() >= target }
        XCTAssertTrue(ok, "only \(runs()) runs in 60 s")
        let late = Footprint(of: p.pid, samples: samples)
        let lateRuns = runs()
        let elapsed = Date().timeIntervalSince(t0)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.timedOut, "dcrond hung after \(lateRuns) runs")
        XCTAssertEqual(r.status, 0, String(r.summary.suffix(2000)))
        // A Started line per run (the last run may have been stopped by the
        // TERM before it wrote its byte), every run but that one exited 0.
        let startedLines = r.stderr.components(separatedBy: "dcrond: Started ").count - 1
        XCTAssertTrue(startedLines == runs() || startedLines == runs() + 1, "\(startedLines) Started lines, \(runs()) runs")
        let statuses = r.stderrLines.compactMap { l -> Int? in
            guard l.hasPrefix("dcrond: Child "), let n = l.split(separator: " ").last else { return nil }
            return Int(n)
        }
        let bad = statuses.enumerated().filter { $0.element != 0 && !($0.offset == statuses.count - 1 && $0.element == 15) }
        XCTAssertEqual(bad.count, 0, "runs with a nonzero status: \(bad.prefix(5))\n" + String(r.stderr.suffix(1000)))
        XCTAssertLessThanOrEqual(late.rssKB - early.rssKB, 8, "dcrond VmRSS grew: after \(earlyRuns) runs \(early), after \(lateRuns) runs \(late)")
        XCTAssertEqual(late.nonPidfdFds, early.nonPidfdFds, "dcrond descriptors: early \(early), late \(late)")
        XCTAssertLessThanOrEqual(late.pidfds, 1, "\(late)")
        hrSay("dcrond soak [\(DcrondBinary.path)]: \(lateRuns) runs in \(hrSecs(elapsed)) (-i 0.0001); after \(earlyRuns) runs \(early); " +
              "at the end \(late)")
    }

    /// dinit with 1,000 short `:wait:` commands (-d 0); positions 100 and 990
    /// are `sh -c 'sleep 0.4'` so dinit can be sampled while it is idle.
    func testDinitSoak1000WaitCommands() throws {
        var args = ["-d", "0"]
        for i in 1...1000 {
            args += ["--"] + ((i == 100 || i == 990) ? [":wait:sh", "-c", "sleep 0.4"] : [":wait:true"])
        }
        let p = try startDinit(args)
        defer { if p.isRunning { killTree(p.pid) } }
        let d = p.pid
        let t0 = Date()
        XCTAssertTrue(p.waitForStderr("'sh'", count: 1, timeout: 20), String(p.stderr.text.suffix(500)))
        let first = Footprint(of: d, samples: 3)
        let firstInWindow = occurrences(of: "'sh'", in: p.stderr.text) == 1
        XCTAssertTrue(p.waitForStderr("'sh'", count: 3, timeout: 30), String(p.stderr.text.suffix(500)))
        let last = Footprint(of: d, samples: 3)
        let lastInWindow = occurrences(of: "'sh'", in: p.stderr.text) == 3
        let r = p.wait(timeout: 30)
        XCTAssertFalse(r.timedOut, String(r.summary.suffix(2000)))
        XCTAssertEqual(r.status, 0, String(r.summary.suffix(2000)))
        XCTAssertEqual(r.startedPids.count, 1000, "every command started")
        XCTAssertEqual(r.log.filter { if case .childExited(_, _, 0) = $0 { return true }; return false }.count, 1000)
        XCTAssertEqual(r.log.last, .exiting(status: 0))
        XCTAssertTrue(firstInWindow && lastInWindow, "a sample missed its sleep window (first \(firstInWindow), last \(lastInWindow))")
        XCTAssertLessThanOrEqual(last.rssKB - first.rssKB, 8, "dinit VmRSS grew: command 100 \(first), command 990 \(last)")
        XCTAssertEqual(last.fds, first.fds, "dinit descriptors: command 100 \(first), command 990 \(last)")
        hrSay("dinit soak 1000 :wait: commands: \(hrSecs(Date().timeIntervalSince(t0))); at command 100 \(first); " +
              "at command 990 \(last)")
    }

    // MARK: 5. Resources

    /// RLIMIT_NPROC exhausted for dinit's (unprivileged, otherwise unused)
    /// uid: dinit and two children fill a limit of 3, so the third spawn
    /// fails with EAGAIN: an exec failure with the reason, status 126, the
    /// two running children stopped in reverse order.
    func testSpawnUnderNprocExhaustion() throws {
        try Emulation.skipIfEmulated("qemu-user emulates posix_spawn's vfork as a fork and runs a helper thread in every " +
            "emulated process, both counted by RLIMIT_NPROC: the emulator aborts in the forked child (the child dies of SIGABRT) " +
            "before dinit can see the EAGAIN this test is about")
        try XCTSkipUnless(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
                            && FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"),
                          "needs root, setpriv and prlimit")
        let uid = "61234"  // no process runs as this uid, so the count is ours alone
        let r = try runProgram("/usr/bin/prlimit", ["--nproc=3", "/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)",
                                                    "--clear-groups", DinitBinary.path, "-d", "0", "-k", "3",
                                                    "--", "sleep", "100", "--", "sleep", "100", "--", "sleep", "100"],
                               timeout: 15)
        XCTAssertEqual(r.status, 126, r.summary)
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertTrue(r.stderr.contains("dinit: Cannot execute 'sleep': Resource temporarily unavailable"), r.summary)
        if let pids = r.startedPids(count: 2) {
            assertLog(r, endsWith: [
                .stopped(pid: pids[1], program: "sleep", status: 15),
                .stopped(pid: pids[0], program: "sleep", status: 15),
                .exiting(status: 126),
            ])
        }
        hrSay("RLIMIT_NPROC: status \(r.status), \(r.dinitLines.first { $0.contains("Cannot") } ?? "no error line")")
    }

    /// A hard RLIMIT_NOFILE of 64 is too small for 100 daemons: refused at
    /// start-up with one line, exit 2, nothing started. With a soft limit of
    /// 64 and a hard one of 4096 dinit raises the soft limit and runs.
    func testTooFewDescriptorsRefusedAtStartup() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "needs prlimit")
        let dir = try makeTempDir(self)
        let marker = "\(dir)/started"
        var cmds: [String] = []
        for _ in 0..<100 { cmds += ["--", "sh", "-c", "echo x >> \(marker); exec sleep 100"] }
        let r = try runProgram("/usr/bin/prlimit", ["--nofile=64:64", DinitBinary.path, "-d", "0"] + cmds, timeout: 10)
        XCTAssertEqual(r.status, 2, r.summary)
        XCTAssertEqual(r.stderrLines.count, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("open file limit"), r.summary)
        XCTAssertTrue(r.stderr.contains("100"), "the line names the count\n\(r.summary)")
        XCTAssertLessThan(r.elapsed, 2, r.summary)
        assertNeverCreated(marker, "something was started\n\(r.summary)")
        hrSay("RLIMIT_NOFILE 64:64 with 100 daemons: \(r.stderr.trimmingCharacters(in: .newlines))")

        var sleeps: [String] = []
        for _ in 0..<100 { sleeps += ["--", "sleep", "100"] }
        let p = try RunningProcess("/usr/bin/prlimit", ["--nofile=64:4096", DinitBinary.path, "-d", "0"] + sleeps)
        XCTAssertTrue(p.waitForStderr("Started", count: 100, timeout: 10), p.stderr.text)
        // prlimit execs dinit: same PID.
        kill(p.pid, SIGTERM)
        let r2 = p.wait(timeout: 15)
        XCTAssertEqual(r2.status, 15, String(r2.summary.suffix(1000)))
        XCTAssertEqual(r2.log.filter { if case .stopped = $0 { return true }; return false }.count, 100)
    }

    /// n daemons (`sleep 100`, -d 0): every one starts, and a TERM stops all
    /// of them in reverse start order. Returns (ok, start seconds, stop
    /// seconds, problem).
    private func hrBigList(_ n: Int) throws -> (ok: Bool, start: TimeInterval, stop: TimeInterval, problem: String) {
        var args = ["-d", "0", "-k", "5"]
        for _ in 0..<n { args += ["--", "sleep", "100"] }
        let p = try startDinit(args)
        defer { if p.isRunning { killTree(p.pid) } }
        let t0 = Date()
        var started = false
        let startBy = t0.addingTimeInterval(Double(n) / 100 + 10)
        while Date() < startBy {
            if children(of: p.pid).count >= n, occurrences(of: "dinit: Started", in: p.stderr.text) >= n { started = true; break }
            if !p.isRunning { break }
            usleep(50_000)
        }
        let startTime = Date().timeIntervalSince(t0)
        guard started else {
            let r = p.wait(timeout: 1)
            return (false, startTime, 0, "not all started: " + String(r.summary.suffix(1500)))
        }
        let tTerm = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: Double(n) / 100 + 20)
        let stopTime = Date().timeIntervalSince(tTerm)
        let pids = r.startedPids
        let stopped: [Int32] = r.log.compactMap { if case .stopped(let pid, _, 15) = $0 { return pid }; return nil }
        var problem = ""
        if r.timedOut { problem += "timed out; " }
        if r.status != 15 { problem += "status \(r.status); " }
        if pids.count != n { problem += "\(pids.count) started; " }
        if stopped != Array(pids.reversed()) { problem += "stop order is not the reverse start order (\(stopped.count) stopped); " }
        if r.log.last != .exiting(status: 15) { problem += "last line \(String(describing: r.log.last)); " }
        if !problem.isEmpty { problem += String(r.summary.suffix(1500)) }
        return (problem.isEmpty, startTime, stopTime, problem)
    }

    func testLargestCommandList() throws {
        let one = try hrBigList(1000)
        XCTAssertTrue(one.ok, "1,000 daemons: \(one.problem)")
        hrSay("command list 1000 daemons: \(one.ok ? "ok" : "FAILED"), start \(hrSecs(one.start)), stop \(hrSecs(one.stop))")
        var largest = one.ok ? 1000 : 0
        for n in [2000, 4000] where largest == n / 2 {
            let big = try hrBigList(n)
            hrSay("command list \(n) daemons: \(big.ok ? "ok" : "FAILED: \(big.problem)"), start \(hrSecs(big.start)), stop \(hrSecs(big.stop))")
            if big.ok { largest = n }
        }
        hrSay("largest command list that worked here: \(largest) daemons [\(hrBinaryLabel())]")
    }

    // MARK: 6. Signals to tracked children only through pidfds

    /// strace dinit (and its children) for kill, tgkill and
    /// pidfd_send_signal; HUP then TERM to dinit. dinit's own lines must show
    /// pidfd_send_signal of SIGHUP to both children and SIGTERM to both, and
    /// no kill()/tgkill() at all (there are no orphans here). With and
    /// without -g.
    private func hrStraceSignals(group: Bool) throws {
        let dir = try makeTempDir(self)
        let log = "\(dir)/strace.log"
        let child = "trap '' HUP; exec sleep 100"
        let dinitArgs = (group ? ["-g"] : []) + ["-d", "0", "-k", "3", "--", "sh", "-c", child, "--", "sh", "-c", child]
        let p = try RunningProcess("/usr/bin/strace", ["-f", "-e", "trace=kill,tgkill,pidfd_send_signal", "-o", log,
                                                       DinitBinary.path] + dinitArgs)
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitForStderr("dinit: Started", count: 2, timeout: 10), p.stderr.text)
        // strace's only child is dinit (found by PID: see launchedDinit).
        guard let d = launchedDinit(by: p.pid) else {
            return XCTFail("dinit not found under strace\n\(p.stderr.text)")
        }
        usleep(300_000)
        kill(d, SIGHUP)
        usleep(300_000)
        kill(d, SIGTERM)
        let r = p.wait(timeout: 15)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
        let all = lines(readFile(log))
        let own = all.filter { $0.hasPrefix("\(d) ") }
        let sends = own.filter { $0.contains("pidfd_send_signal(") }
        let label = group ? "-g" : "no -g"
        XCTAssertEqual(sends.filter { $0.contains("SIGHUP") }.count, 2, "[\(label)] HUP through pidfds\n\(own.joined(separator: "\n"))")
        XCTAssertEqual(sends.filter { $0.contains("SIGTERM") }.count, 2, "[\(label)] TERM through pidfds\n\(own.joined(separator: "\n"))")
        // (strace may split a call into "<unfinished ...>" and "<... resumed>".)
        XCTAssertFalse(own.contains { $0.contains("= -1 ") }, "[\(label)] a signal call failed\n\(own.joined(separator: "\n"))")
        let kills = own.filter { $0.contains(" kill(") || $0.contains(" tgkill(") }
        XCTAssertEqual(kills, [], "[\(label)] dinit used kill/tgkill\n\(own.joined(separator: "\n"))")
        hrSay("strace [\(label)]: dinit \(d): \(sends.count) pidfd_send_signal, \(kills.count) kill/tgkill; " +
              sends.map { String($0.dropFirst("\(d) ".count)) }.joined(separator: "; "))
    }

    func testTrackedChildrenSignalledOnlyThroughPidfds() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "needs strace")
        try hrStraceSignals(group: false)
        try hrStraceSignals(group: true)
    }
}

// MARK: - Regressions of issue 9 (orphans, resources, log lines)

final class HardeningReapRegressionTests: XCTestCase {
    private var unshareOK: Bool { ReapingTests.unshareAvailable }

    /// Writes an executable shell script.
    private func hrScript(_ path: String, _ body: String) throws {
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    /// Issue 9.3: as subreaper, an orphan adopted only after the SIGTERM
    /// broadcast (b.sh, handed to dinit when its parent a.sh dies of that
    /// SIGTERM) gets SIGTERM too, not just SIGKILL after kill_timeout. top.sh
    /// runs `a.sh &` and exits; a.sh runs `b.sh &` and execs sleep; b.sh
    /// traps TERM and writes a line. Checked as PID 1 as well.
    func testOrphansAdoptedAfterTheTERMBroadcastGetTERM() throws {
        var modes: [HRMode] = [.subreaper]
        if unshareOK { modes.append(.pid1) }
        for mode in modes {
            let dir = try makeTempDir(self)
            let out = "\(dir)/b.out"
            try hrScript("\(dir)/b.sh", "trap 'echo TERM >> \(out); exit 0' TERM; echo ready >> \(out); while :; do sleep 0.05; done")
            try hrScript("\(dir)/a.sh", "\(dir)/b.sh & exec sleep 1000")
            try hrScript("\(dir)/top.sh", "\(dir)/a.sh & sleep 0.3; exit 0")
            let (p, _) = try hrLaunch(mode, ["-k", "4", "--", "\(dir)/top.sh"])
            defer { if p.isRunning { killTree(p.pid) } }
            let r = p.wait(timeout: 15)
            XCTAssertFalse(r.timedOut, "\(mode.rawValue)\n\(r.summary)")
            XCTAssertFalse(r.stderr.contains("Sending SIGKILL to remaining descendants"), "\(mode.rawValue)\n\(r.summary)")
            XCTAssertEqual(lines(readFile(out)), ["ready", "TERM"], "\(mode.rawValue): b.sh\n\(r.summary)")
            XCTAssertEqual(r.status, 1, "\(mode.rawValue)\n\(r.summary)")
        }
    }

    /// Issue 9.7 in the orphan phase: an orphan stopped with SIGSTOP gets
    /// SIGCONT after the SIGTERM broadcast, so it runs its handler instead
    /// of being SIGKILLed after kill_timeout; as subreaper and as PID 1.
    func testStoppedOrphanIsContinuedInTheOrphanPhase() throws {
        var modes: [HRMode] = [.subreaper]
        if unshareOK { modes.append(.pid1) }
        for mode in modes {
            let dir = try makeTempDir(self)
            let out = "\(dir)/o.out"
            try hrScript("\(dir)/o.sh", "trap 'echo TERM >> \(out); exit 0' TERM; echo ready >> \(out); while :; do sleep 0.05; done")
            try hrScript("\(dir)/top.sh", "\(dir)/o.sh & o=$!; sleep 0.3; kill -STOP $o; sleep 0.2; exit 0")
            let (p, _) = try hrLaunch(mode, ["-k", "4", "--", "\(dir)/top.sh"])
            defer { if p.isRunning { killTree(p.pid) } }
            let r = p.wait(timeout: 15)
            XCTAssertFalse(r.timedOut, "\(mode.rawValue)\n\(r.summary)")
            XCTAssertFalse(r.stderr.contains("Sending SIGKILL to remaining descendants"), "\(mode.rawValue)\n\(r.summary)")
            XCTAssertEqual(lines(readFile(out)), ["ready", "TERM"], "\(mode.rawValue): the stopped orphan\n\(r.summary)")
        }
    }

    /// Issue 9.8: the descriptor reserve counts what dinit really opens:
    /// one daemon runs under `ulimit -n 65` (it was refused, 64 + 2 being
    /// asked for), and 40 run under a limit of 60; 60 daemons under 60 are
    /// still refused.
    func testDescriptorReserveCountsWhatIsOpen() throws {
        let one = try runProgram("/bin/sh", ["-c", "ulimit -n 65 && exec \(shQuote(DinitBinary.path)) -d 0 -- sleep 0.2"])
        XCTAssertFalse(one.stderr.contains("too many commands"), one.summary)
        XCTAssertEqual(one.log.filter { $0.startedPid != nil }.count, 1, one.summary)
        XCTAssertEqual(one.status, 1, one.summary)

        let forty = String(repeating: " -- sleep 0.5", count: 40)
        let many = try runProgram("/bin/sh", ["-c", "ulimit -n 60 && exec \(shQuote(DinitBinary.path)) -q -d 0\(forty)"])
        XCTAssertFalse(many.stderr.contains("too many commands"), many.summary)
        XCTAssertNotEqual(many.status, 2, many.summary)

        let sixty = String(repeating: " -- sleep 0.5", count: 60)
        let refused = try runProgram("/bin/sh", ["-c", "ulimit -n 60 && exec \(shQuote(DinitBinary.path)) -d 0\(sixty)"])
        XCTAssertEqual(refused.status, 2, refused.summary)
        XCTAssertTrue(refused.stderr.contains("too many commands (60 daemons)"), refused.summary)
    }

    /// Issue 9.8: -qqq where /dev has no null device (an empty tmpfs over
    /// /dev in a private mount namespace) names /dev/null in its error;
    /// for dcrond too.
    func testMissingDevNullIsNamed() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") && getuid() == 0,
                          "needs root and unshare")
        for (binary, name) in [(DinitBinary.path, "dinit"), (hrDcrondPath, "dcrond")] {
            let args = name == "dinit" ? "-qqq -- true" : "-qqq -i 1 true"
            let r = try runProgram("/usr/bin/unshare", ["--mount", "/bin/sh", "-c",
                                   "mount -t tmpfs none /dev && exec \(shQuote(binary)) \(args)"])
            XCTAssertEqual(r.status, 1, r.summary)
            XCTAssertEqual(r.stderrLines, ["\(name): cannot open /dev/null: No such file or directory"], r.summary)
        }
    }

    /// Issue 9.8: a 64 KiB program name is cut, not the line: the line
    /// keeps its closing quote and the reason, and the cut is marked.
    func testVeryLongProgramNameIsCutNotTheLine() throws {
        let name = String(repeating: "n", count: 65536)
        let r = try runDinit(["-q", "--", name])
        XCTAssertEqual(r.status, 126, r.summary)
        XCTAssertEqual(r.stderrLines.count, 1)
        let line = r.stderrLines.first ?? ""
        XCTAssertTrue(line.hasPrefix("dinit: Cannot execute 'nnn"), String(line.prefix(80)))
        XCTAssertTrue(line.hasSuffix("nnn...': File name too long"), String(line.suffix(80)))
        XCTAssertLessThan(line.utf8.count, 1024)
    }
}
