import XCTest
import SupervisorCore

/// Behaviour added for the hard cases: -g, the grace after SIGKILL, log
/// levels of records, one-line messages whatever the input.
final class HardeningCoreTests: XCTestCase {
    func testDashGSetsSignalGroups() throws {
        guard case .run(let plain) = try parseDinitArguments(argv(["--", "a"])),
              case .run(let grouped) = try parseDinitArguments(argv(["-g", "--", "a"])),
              case .run(let clustered) = try parseDinitArguments(argv(["-qgq", "--", "a"])) else {
            return XCTFail("expected runs")
        }
        XCTAssertFalse(plain.signalGroups)
        XCTAssertTrue(grouped.signalGroups)
        XCTAssertTrue(clustered.signalGroups)
        XCTAssertEqual(clustered.quiet, 2)
        XCTAssertThrowsError(try parseDinitArguments(argv(["-gx", "--", "a"])))
    }

    func testSignalGroupsRoutesEverySignalToTheGroup() {
        var t = Script(core: Supervisor(commands: [SupervisedCommand(name: Array("a".utf8))], startupDelay: 0,
                              killTimeout: 2 * s, quiet: 2, signalGroups: true))
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        XCTAssertEqual(t.send(.signal(HUP), at: 1), [.signal(child: 0, signal: HUP, group: true)])
        XCTAssertEqual(t.send(.signal(TERM), at: 2),
                       [.cancelDeadline, .signal(child: 0, signal: TERM, group: true), .armDeadline(2 + 2 * s)])
        XCTAssertEqual(t.send(.deadline, at: 2 + 2 * s),
                       [.signal(child: 0, signal: KILL, group: true), .armDeadline(2 + 4 * s)])
    }

    /// -k 0: SIGKILL follows the stop signal at once, and the child then gets
    /// a second to be reaped instead of being given up on at once.
    func testKillTimeoutZeroStillWaitsForTheKilledChild() {
        var t = Script(core: Supervisor(commands: [SupervisedCommand(name: Array("a".utf8))], startupDelay: 0,
                              killTimeout: 0, quiet: 0))
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        XCTAssertEqual(t.send(.signal(TERM), at: 100),
                       [.cancelDeadline, .signal(child: 0, signal: TERM, group: false), .armDeadline(100)])
        XCTAssertEqual(t.send(.deadline, at: 100),
                       [.log(.killing(child: 0, pid: 10)), .signal(child: 0, signal: KILL, group: false),
                        .armDeadline(100 + KillGrace.minimum)])
        let end = t.send(.childExited(child: 0, status: KILL), at: 200)
        XCTAssertEqual(end.first, Action.log(.stopped(child: 0, pid: 10, status: KILL)))
        _ = t.send(.orphansGone, at: 300)
        XCTAssertEqual(t.core.exitStatus, KILL)
    }

    func testRecordLevels() {
        XCTAssertEqual(LogRecord.started(child: 0, pid: 1).level, .info)
        XCTAssertEqual(LogRecord.childExited(child: 0, pid: 1, status: 3).level, .info)
        XCTAssertEqual(LogRecord.childFailed(child: 0, pid: 1, status: 0).level, .error)
        XCTAssertEqual(LogRecord.execFailed(child: 0, errno: 2).level, .error)
        XCTAssertEqual(LogRecord.killing(child: 0, pid: 1).level, .error)
        XCTAssertEqual(LogRecord.exiting(status: 1).level, .info)
    }

    func testChildFailedHasTheSameTextAsChildExited() {
        let core = Supervisor(commands: [SupervisedCommand(name: Array("sleep".utf8))], startupDelay: 0,
                              killTimeout: 0, quiet: 0)
        let a = LineWriter(), b = LineWriter()
        core.format(.childExited(child: 0, pid: 7, status: 3), into: a)
        core.format(.childFailed(child: 0, pid: 7, status: 3), into: b)
        XCTAssertEqual(String(decoding: a.bytes, as: UTF8.self), "dinit: Child 7 'sleep' exited with status 3\n")
        XCTAssertEqual(Array(a.bytes), Array(b.bytes))
    }

    /// Found by the fuzzer: an argument with a newline made a two-line error.
    func testErrorMessagesEscapeControlCharacters() {
        do {
            _ = try parseDinitArguments(argv(["-d", "1\n2"]))
            XCTFail("expected an error")
        } catch {
            let line = LineWriter()
            error.write(to: line)
            let text = String(decoding: line.bytes, as: UTF8.self)
            XCTAssertFalse(text.contains("\n"))
            XCTAssertTrue(text.contains("'1\\n2'"), text)
        }
        let line = LineWriter()
        line.escaped([0x41, 0x09, 0x1b, 0x7f, 0xc3, 0xa9])
        XCTAssertEqual(String(decoding: line.bytes, as: UTF8.self), "A\\t\\x1b\\x7fé")
    }

    func testProgramNamesAreEscapedInLogLines() {
        let core = Supervisor(commands: [SupervisedCommand(name: Array("a\nb".utf8))], startupDelay: 0,
                              killTimeout: 0, quiet: 0)
        let line = LineWriter()
        core.format(.started(child: 0, pid: 5), into: line)
        XCTAssertEqual(String(decoding: line.bytes, as: UTF8.self), "dinit: Started 5 'a\\nb'\n")
    }
}

/// Regressions of issue 9 in the pure cores.
final class HardeningCoreRegressionTests: XCTestCase {
    private func core(_ names: [String]) -> Supervisor {
        Supervisor(commands: names.map { SupervisedCommand(name: Array($0.utf8)) }, startupDelay: 0,
                   killTimeout: 5 * s, quiet: 0)
    }

    /// Issue 9.2: a daemon exits, dinit starts the shutdown itself (SIGTERM
    /// to the other daemon, one at a time). The first shutdown signal
    /// received then (docker stop) is not a second one: nothing is killed,
    /// the orderly stop goes on. A second received signal kills all.
    func testFirstSignalDuringSelfStartedShutdownOnlyCounts() {
        var c = Script(core: core(["db", "app", "crashes"]))
        _ = c.send(.start(subreaper: false), at: 0)
        for i in 0..<3 { _ = c.send(.spawned(child: i, pid: Int32(10 + i)), at: 0) }
        XCTAssertEqual(c.send(.childExited(child: 2, status: 3), at: s),
                       [.log(.childFailed(child: 2, pid: 12, status: 3)), .cancelDeadline,
                        .signal(child: 1, signal: TERM, group: false), .armDeadline(6 * s)])
        XCTAssertEqual(c.send(.signal(TERM), at: 2 * s), [], "the first request only counts")
        XCTAssertEqual(c.core.phase, .stopping)
        // The stop goes on in order, with its deadlines.
        XCTAssertEqual(c.send(.childExited(child: 1, status: 0), at: 3 * s),
                       [.log(.stopped(child: 1, pid: 11, status: 0)),
                        .signal(child: 0, signal: TERM, group: false), .armDeadline(8 * s)])
        // A second received signal kills what is left at once.
        XCTAssertEqual(c.send(.signal(INT), at: 4 * s),
                       [.log(.killingAll), .signal(child: 0, signal: KILL, group: false), .armDeadline(9 * s)])
        XCTAssertEqual(c.core.exitStatus, 3)
    }

    /// The same for a failed `:wait:` command and for an exec failure.
    func testFirstSignalAfterStartupFailureOnlyCounts() {
        var c = Script(core: Supervisor(commands: [SupervisedCommand(name: Array("d".utf8)),
                                                   SupervisedCommand(name: Array("w".utf8), isWait: true)],
                                        startupDelay: 0, killTimeout: 5 * s, quiet: 0))
        _ = c.send(.start(subreaper: false), at: 0)
        _ = c.send(.spawned(child: 0, pid: 10), at: 0)
        _ = c.send(.spawned(child: 1, pid: 11), at: 0)
        _ = c.send(.childExited(child: 1, status: 1), at: 0)
        XCTAssertEqual(c.send(.signal(TERM), at: 1), [])
        XCTAssertEqual(c.send(.signal(TERM), at: 2).first, .log(.killingAll))

        var e = Script(core: core(["d", "missing"]))
        _ = e.send(.start(subreaper: false), at: 0)
        _ = e.send(.spawned(child: 0, pid: 10), at: 0)
        _ = e.send(.spawnFailed(child: 1, errno: 2), at: 0)
        XCTAssertEqual(e.send(.signal(QUIT), at: 1), [])
    }

    /// Issue 9.8: a 64 KiB program name is cut (and marked) rather than the
    /// line, which keeps its closing quote and reason, within the buffer.
    func testVeryLongProgramNameIsCutNotTheLine() {
        let long = String(repeating: "x", count: 65536)
        let c = core([long])
        for (record, tail) in [(LogRecord.execFailed(child: 0, errno: 2), "...': No such file or directory\n"),
                               (.killing(child: 0, pid: 7), "...' still running after 5 s, sending SIGKILL\n"),
                               (.childExited(child: 0, pid: 7, status: 255), "...' exited with status 255\n"),
                               (.started(child: 0, pid: 7), "...'\n")] {
            let w = LineWriter(capacity: 1024)
            c.format(record, into: w)
            let line = text(w)
            XCTAssertTrue(line.hasSuffix(tail), String(line.suffix(80)))
            XCTAssertTrue(line.hasPrefix("dinit: "), String(line.prefix(40)))
            XCTAssertEqual(w.count, 1024, "the line uses the whole buffer")
        }
        // Short names are untouched.
        let w = LineWriter(capacity: 1024)
        core(["sleep"]).format(.started(child: 0, pid: 1), into: w)
        XCTAssertEqual(text(w), "dinit: Started 1 'sleep'\n")
    }

    /// The cut never splits an escape or a UTF-8 character.
    func testCutKeepsEscapesAndCharactersWhole() {
        let w = LineWriter(capacity: 64)
        w.escaped(Array(String(repeating: "é", count: 40).utf8), limit: 10)
        XCTAssertEqual(text(w), "ééé...")
        let v = LineWriter(capacity: 64)
        v.escaped([UInt8](repeating: 0x1b, count: 10), limit: 10)
        XCTAssertEqual(text(v), "\\x1b...")
    }

    /// dcrond's Started line with a very long command line keeps its quote.
    func testDcrondLongCommandLineIsCut() {
        let c = CronSchedule(commandline: Array(String(repeating: "c", count: 65536).utf8), ignoresFailure: false,
                             delay: 0, interval: s, killTimeout: s, quiet: 0)
        let w = LineWriter(capacity: 1024)
        c.format(.started(child: 0, pid: 3), into: w)
        XCTAssertTrue(text(w).hasSuffix("ccc...'\n"), String(text(w).suffix(40)))
        XCTAssertEqual(w.count, 1024)
    }
}
