import Foundation
import XCTest

/// `:wait:`, `-`, exit statuses and exec failures.
final class StartupTests: XCTestCase {
    /// A daemon that runs until SIGTERM, and then exits 0.
    static let stopsOnTERM = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"]

    /// A `:wait:` command runs to completion before the next one starts: the
    /// first writes a file after a pause, the second checks for it.
    func testWaitCommandCompletesBeforeNextStarts() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/done"
        let r = try runDinit(["-d", "0.1", "--", ":wait:sh", "-c", "sleep 0.3; echo x > \(f)",
                              "--", ":wait:test", "-f", f])
        XCTAssertEqual(r.status, 0, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        XCTAssertEqual(r.log, [
            .subreaper,
            .started(pid: pids[0], program: "sh"),
            .childExited(pid: pids[0], program: "sh", status: 0),
            .started(pid: pids[1], program: "test"),
            .childExited(pid: pids[1], program: "test", status: 0),
            .exiting(status: 0),
        ], r.summary)
    }

    /// A `:wait:` followed by a daemon: the daemon sees the file too.
    func testWaitCommandBeforeDaemon() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/done"
        let p = try startDinit(["-d", "0.1", "--", ":wait:sh", "-c", "sleep 0.3; echo x > \(f)",
                                "--", "sh", "-c", "if test -f \(f); then echo seen; fi; exec sleep 5"])
        XCTAssertTrue(p.waitForStderr("Started", count: 2))
        // The daemon's check runs after its start is logged: wait for its
        // answer before stopping it (it says nothing if the file is missing).
        _ = p.waitForStdout("seen", count: 1, timeout: 2)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.stdout, "seen\n", r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
    }

    /// A failing `:wait:` aborts startup: later commands never start, the
    /// daemons already running are stopped, the exit status is its status.
    func testFailingWaitAbortsStartup() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/never"
        let r = try runDinit(["-d", "0.1", "--", "sleep", "5", "--", ":wait:sh", "-c", "exit 3",
                              "--", "touch", f])
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f), "a command after the failed :wait: ran")
        guard let pids = r.startedPids(count: 2) else { return }
        XCTAssertEqual(r.log, [
            .subreaper,
            .started(pid: pids[0], program: "sleep"),
            .started(pid: pids[1], program: "sh"),
            .childExited(pid: pids[1], program: "sh", status: 3),
            .stopped(pid: pids[0], program: "sleep", status: 15),
            .exiting(status: 3),
        ], r.summary)
    }

    /// `:wait:-false`: the failure is no error; startup goes on.
    func testDashWaitFailureContinues() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/ran"
        let r = try runDinit(["-d", "0.1", "--", ":wait:-false", "--", ":wait:touch", f])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: f), "startup did not go on\n\(r.summary)")
        guard let pids = r.startedPids(count: 2) else { return }
        // The prefix is not part of the program name.
        XCTAssertEqual(r.log[1], .started(pid: pids[0], program: "false"), r.summary)
        XCTAssertEqual(r.log[2], .childExited(pid: pids[0], program: "false", status: 1), r.summary)
        XCTAssertEqual(r.log.last, .exiting(status: 0), r.summary)
    }

    /// A daemon without `-` that exits on its own ends the run with its
    /// status; the other daemons are stopped.
    func testDaemonExitingOnItsOwnEndsRun() throws {
        let r = try runDinit(["-d", "0.1", "--"] + Self.stopsOnTERM + ["--", "sh", "-c", "sleep 0.3; exit 4"])
        XCTAssertEqual(r.status, 4, r.summary)
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        assertLog(r, endsWith: [
            .childExited(pid: pids[1], program: "sh", status: 4),
            .stopped(pid: pids[0], program: "sh", status: 0),
            .exiting(status: 4),
        ])
    }

    /// A daemon without `-` that exits on its own with 0 still ends the run,
    /// and dinit exits 1 (the run ended because a daemon exited).
    func testDaemonExitingZeroGivesStatusOne() throws {
        let r = try runDinit(["-d", "0.1", "--"] + Self.stopsOnTERM + ["--", "sh", "-c", "sleep 0.3; exit 0"])
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertEqual(r.log.last, .exiting(status: 1), r.summary)
    }

    /// A `-` daemon exiting on its own also ends the run, but its status is
    /// no error: every other child exits 0, so dinit exits 0.
    func testDashDaemonFailureIsNoError() throws {
        let r = try runDinit(["-d", "0.1", "--"] + Self.stopsOnTERM + ["--", "-sh", "-c", "sleep 0.3; exit 4"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        XCTAssertEqual(r.log[2], .started(pid: pids[1], program: "sh"), r.summary)
        assertLog(r, endsWith: [
            .childExited(pid: pids[1], program: "sh", status: 4),
            .stopped(pid: pids[0], program: "sh", status: 0),
            .exiting(status: 0),
        ])
    }

    /// A daemon that dies during its startup delay ends the run before the
    /// next command starts.
    func testDaemonDyingDuringStartupDelay() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/never"
        let r = try runDinit(["-d", "2", "--", "sh", "-c", "exit 6", "--", "touch", f])
        XCTAssertEqual(r.status, 6, r.summary)
        XCTAssertLessThan(r.elapsed, 1.5, "should not wait out the startup delay\n\(r.summary)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f), r.summary)
        XCTAssertEqual(r.startedPids.count, 1, r.summary)
    }

    // MARK: Exit statuses

    func testWaitExitStatusesPassThrough() throws {
        for n: Int32 in [0, 1, 2, 42, 126, 127, 128, 200, 255] {
            let r = try runDinit(["--", ":wait:sh", "-c", "exit \(n)"])
            XCTAssertEqual(r.status, n, "exit \(n)\n\(r.summary)")
            XCTAssertFalse(r.signaled)
            let pids = r.startedPids
            XCTAssertEqual(pids.count, 1, r.summary)
            guard let pid = pids.first else { continue }
            XCTAssertTrue(r.log.contains(.childExited(pid: pid, program: "sh", status: n)), "exit \(n)\n\(r.summary)")
            XCTAssertEqual(r.log.last, .exiting(status: n), r.summary)
        }
    }

    /// Death by a signal is reported as the signal number.
    func testDeathBySignalReportsSignalNumber() throws {
        for (name, n): (String, Int32) in [("USR1", 10), ("KILL", 9), ("USR2", 12), ("ALRM", 14)] {
            let r = try runDinit(["--", ":wait:sh", "-c", "kill -\(name) $$"])
            XCTAssertEqual(r.status, n, "\(name)\n\(r.summary)")
            XCTAssertFalse(r.signaled, "dinit itself must not die of the signal\n\(r.summary)")
            guard let pid = r.startedPids.first else { XCTFail(r.summary); continue }
            XCTAssertTrue(r.log.contains(.childExited(pid: pid, program: "sh", status: n)), r.summary)
        }
    }

    /// The same for a daemon killed by a signal.
    func testDaemonKilledBySignal() throws {
        let r = try runDinit(["-d", "0.1", "--", "sh", "-c", "sleep 0.2; kill -USR1 $$"])
        XCTAssertEqual(r.status, 10, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        assertLog(r, endsWith: [
            .childExited(pid: pid, program: "sh", status: 10),
            .exiting(status: 10),
        ])
    }

    /// The first nonzero status in the order children ended wins.
    func testFirstNonzeroStatusWins() throws {
        // The :wait: ends with 0, the daemon later with 7, then the first
        // daemon is stopped (15): 7 came first.
        let r = try runDinit(["-d", "0.1", "--", "sleep", "5", "--", ":wait:true",
                              "--", "sh", "-c", "sleep 0.2; exit 7"])
        XCTAssertEqual(r.status, 7, r.summary)
    }

    // MARK: Exec failures

    func testNonexistentProgram() throws {
        let prog = "/nonexistent/dinit-test-program"
        let r = try runDinit(["--", prog, "arg"])
        XCTAssertEqual(r.status, 127, r.summary)
        let errors = r.stderrLines.filter { $0.contains(prog) && !$0.contains("Started") }
        XCTAssertEqual(errors.count, 1, "one error line naming the program\n\(r.summary)")
        XCTAssertTrue(errors.first?.contains("No such file or directory") ?? false, r.summary)
        XCTAssertTrue(errors.first?.hasPrefix("dinit: ") ?? false, r.summary)
        XCTAssertEqual(r.log.last, .exiting(status: 127), r.summary)
    }

    /// PATH lookup that finds nothing is ENOENT too.
    func testProgramNotOnPath() throws {
        let prog = "dinit-no-such-program-xyz"
        let r = try runDinit(["--", prog])
        XCTAssertEqual(r.status, 127, r.summary)
        let errors = r.stderrLines.filter { $0.contains(prog) }
        XCTAssertEqual(errors.count, 1, r.summary)
        XCTAssertTrue(errors.first?.contains("No such file or directory") ?? false, r.summary)
    }

    func testNonExecutableFile() throws {
        let dir = try makeTempDir(self)
        let prog = "\(dir)/not-executable"
        FileManager.default.createFile(atPath: prog, contents: Data("#!/bin/sh\nexit 0\n".utf8),
                                       attributes: [.posixPermissions: 0o644])
        let r = try runDinit(["--", prog])
        XCTAssertEqual(r.status, 126, r.summary)
        let errors = r.stderrLines.filter { $0.contains(prog) }
        XCTAssertEqual(errors.count, 1, r.summary)
        XCTAssertTrue(errors.first?.contains("Permission denied") ?? false, r.summary)
    }

    /// Other exec errors count as 126: a file the kernel cannot execute
    /// (no #! line, bad ELF) and a directory.
    func testOtherExecErrorsGive126() throws {
        let dir = try makeTempDir(self)
        let noShebang = "\(dir)/no-shebang", badElf = "\(dir)/bad-elf"
        FileManager.default.createFile(atPath: noShebang, contents: Data("echo hi\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        FileManager.default.createFile(atPath: badElf, contents: Data("\u{7f}ELFgarbage".utf8),
                                       attributes: [.posixPermissions: 0o755])
        for prog in [noShebang, badElf, dir] {
            let r = try runDinit(["--", prog])
            XCTAssertEqual(r.status, 126, "\(prog)\n\(r.summary)")
            XCTAssertEqual(r.stderrLines.filter { $0.contains(prog + "'") }.count, 1, r.summary)
            XCTAssertEqual(r.stdout, "", "nothing ran (no shell fallback)\n\(r.summary)")
        }
    }

    /// An exec failure after a daemon started: the daemon is stopped and the
    /// exec failure's status (it ended first) is the exit status.
    func testExecFailureStopsRunningDaemons() throws {
        let r = try runDinit(["-d", "0.1", "--", "sleep", "5", "--", "/nonexistent/prog"])
        XCTAssertEqual(r.status, 127, r.summary)
        XCTAssertLessThan(r.elapsed, 3, r.summary)
        guard let pid = r.startedPids.first else { return XCTFail(r.summary) }
        XCTAssertTrue(r.log.contains(.stopped(pid: pid, program: "sleep", status: 15)), r.summary)
    }

    /// `:wait:-` with an exec failure is no error either.
    func testDashExecFailureContinues() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/ran"
        let r = try runDinit(["--", ":wait:-/nonexistent/prog", "--", ":wait:touch", f])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: f), r.summary)
        XCTAssertTrue(r.stderr.contains("No such file or directory"), r.summary)
    }

    // MARK: argv

    /// argv is passed verbatim (no shell), and `\--` reaches the program as `--`.
    func testArgvVerbatimAndEscapedSeparator() throws {
        let r = try runDinit(["--", ":wait:printf", "[%s]\\n", "a b", "$HOME", "*", "\\--", "x",
                              "--", ":wait:printf", "%s\\n", "second"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdout, "[a b]\n[$HOME]\n[*]\n[--]\n[x]\nsecond\n", r.summary)
    }

    /// Environment and working directory are inherited.
    func testEnvironmentAndCwdInherited() throws {
        let p = try RunningProcess(DinitBinary.path, ["--", ":wait:sh", "-c", "echo \"$DINIT_TEST_VAR\"; pwd"],
                                   environment: ["DINIT_TEST_VAR": "hello env"])
        let r = p.wait()
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdoutLines.first, "hello env", r.summary)
        XCTAssertEqual(r.stdoutLines.last, FileManager.default.currentDirectoryPath, r.summary)
    }
}
