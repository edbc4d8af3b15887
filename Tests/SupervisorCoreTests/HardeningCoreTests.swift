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
