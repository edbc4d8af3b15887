import XCTest
import SupervisorCore

private let WINCH: Int32 = 28

extension CoreScript where Core == Supervisor {
    /// dinit's core with the operator controls (`-g`, `-e` statuses),
    /// startup delay 0 unless given.
    static func controls(_ commands: [SupervisedCommand], delay: Nanoseconds = 0, kill: Nanoseconds = 5 * s,
                         groups: Bool = false, success: [UInt8] = []) -> Script {
        Script(core: Supervisor(commands: commands, startupDelay: delay, killTimeout: kill, quiet: 0,
                                signalGroups: groups, successStatuses: ExitStatusSet(success)))
    }

    /// Starts every command (daemons, delay 0) with pids 100, 101, ...
    mutating func startAll() {
        _ = send(.start(subreaper: false), at: 0)
        for i in core.commands.indices { _ = send(.spawned(child: i, pid: Int32(100 + i)), at: 0) }
        XCTAssertEqual(core.phase, .running)
    }
}

private func daemon(_ name: String, stop: Int32? = nil, dash: Bool = false) -> SupervisedCommand {
    SupervisedCommand(name: Array(name.utf8), isWait: false, ignoresFailure: dash, stopSignal: stop)
}

private func sig(_ child: Int, _ signal: Int32, group: Bool = false) -> Action {
    .signal(child: child, signal: signal, group: group)
}

final class OperatorControlCoreTests: XCTestCase {

    // MARK: :stop=SIGNAL:

    func testStopSignalReplacesTheReceivedSignal() {
        for received in [TERM, INT, QUIT] {
            var t = Script.controls([daemon("db", stop: INT), daemon("web", stop: QUIT), daemon("job")])
            t.startAll()
            XCTAssertEqual(t.send(.signal(received), at: 10), [.cancelDeadline, sig(2, received), .armDeadline(10 + 5 * s)])
            XCTAssertEqual(t.send(.childExited(child: 2, status: received), at: 20),
                           [.log(.stopped(child: 2, pid: 102, status: received)), sig(1, QUIT), .armDeadline(20 + 5 * s)])
            XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 30),
                           [.log(.stopped(child: 1, pid: 101, status: 0)), sig(0, INT), .armDeadline(30 + 5 * s)])
            // Escalation is unchanged: SIGKILL after the kill timeout.
            XCTAssertEqual(t.send(.deadline, at: 30 + 5 * s),
                           [.log(.killing(child: 0, pid: 100)), sig(0, KILL), .armDeadline(30 + 10 * s)])
        }
    }

    func testStopSignalReplacesTermAfterAnUnexpectedExit() {
        var t = Script.controls([daemon("db", stop: INT), daemon("web", stop: WINCH), daemon("dies")])
        t.startAll()
        XCTAssertEqual(t.send(.childExited(child: 2, status: 1), at: 5),
                       [.log(.childFailed(child: 2, pid: 102, status: 1)), .cancelDeadline,
                        sig(1, WINCH), .armDeadline(5 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 6),
                       [.log(.stopped(child: 1, pid: 101, status: 0)), sig(0, INT), .armDeadline(6 + 5 * s)])
    }

    func testStopSignalAfterFailedWaitAndExecFailure() {
        var t = Script.controls([daemon("db", stop: USR1),
                        SupervisedCommand(name: Array("migrate".utf8), isWait: true, stopSignal: QUIT)])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.spawned(child: 1, pid: 101), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 1, status: 3), at: 1),
                       [.log(.childFailed(child: 1, pid: 101, status: 3)), .cancelDeadline,
                        sig(0, USR1), .armDeadline(1 + 5 * s)])

        var u = Script.controls([daemon("db", stop: INT), daemon("nope")])
        _ = u.send(.start(subreaper: false), at: 0)
        _ = u.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(u.send(.spawnFailed(child: 1, errno: 2), at: 1),
                       [.log(.execFailed(child: 1, errno: 2)), .cancelDeadline, sig(0, INT), .armDeadline(1 + 5 * s)])
    }

    func testStopSignalGoesToTheGroupWithG() {
        var t = Script.controls([daemon("a", stop: QUIT)], groups: true)
        t.startAll()
        XCTAssertEqual(t.send(.signal(TERM), at: 0), [.cancelDeadline, sig(0, QUIT, group: true), .armDeadline(5 * s)])
    }

    func testStopSignalIsNotUsedForForwardingOrTheSecondSignal() {
        var t = Script.controls([daemon("a", stop: QUIT), daemon("b", stop: INT)])
        t.startAll()
        XCTAssertEqual(t.send(.signal(USR1), at: 0), [sig(0, USR1), sig(1, USR1)], "forwarded as received")
        _ = t.send(.signal(TERM), at: 1)
        XCTAssertEqual(t.send(.signal(TERM), at: 2), [.log(.killingAll), sig(0, KILL), sig(1, KILL), .armDeadline(2 + 5 * s)])
    }

    // MARK: -e status

    func testSuccessStatusIsSkippedForTheExitStatus() {
        var t = Script.controls([daemon("a"), daemon("jvm"), daemon("c")], success: [143])
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.childExited(child: 2, status: 0), at: 1)
        _ = t.send(.childExited(child: 1, status: 143), at: 2)
        XCTAssertEqual(t.core.exitStatus, 0, "143 counts as success")
        _ = t.send(.childExited(child: 0, status: 3), at: 3)
        XCTAssertEqual(t.core.exitStatus, 3, "the first status not in -e")
        XCTAssertEqual(t.send(.orphansGone, at: 4), [.cancelDeadline, .log(.exiting(status: 3)), .exit(3)])
    }

    func testSuccessStatusCoversDeathBySignal() {
        var t = Script.controls([daemon("a"), daemon("b")], success: [15])
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.childExited(child: 1, status: TERM), at: 1)
        _ = t.send(.childExited(child: 0, status: TERM), at: 2)
        XCTAssertEqual(t.send(.orphansGone, at: 3), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
    }

    func testWithoutESameStatusFails() {
        var t = Script.controls([daemon("jvm")])
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.childExited(child: 0, status: 143), at: 1)
        XCTAssertEqual(t.send(.orphansGone, at: 2), [.cancelDeadline, .log(.exiting(status: 143)), .exit(143)])
    }

    func testSuccessStatusDoesNotMakeAnUnexpectedExitASuccess() {
        // A daemon that ends on its own still ends the run as a failure (1),
        // and a :wait: command with that status still fails startup.
        var t = Script.controls([daemon("a"), daemon("b")], success: [143])
        t.startAll()
        XCTAssertEqual(t.send(.childExited(child: 1, status: 143), at: 1),
                       [.log(.childFailed(child: 1, pid: 101, status: 143)), .cancelDeadline,
                        sig(0, TERM), .armDeadline(1 + 5 * s)])
        _ = t.send(.childExited(child: 0, status: 0), at: 2)
        XCTAssertEqual(t.send(.orphansGone, at: 3), [.cancelDeadline, .log(.exiting(status: 1)), .exit(1)])

        var u = Script.controls([SupervisedCommand(name: Array("check".utf8), isWait: true), daemon("never")], success: [4])
        _ = u.send(.start(subreaper: false), at: 0)
        _ = u.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(u.send(.childExited(child: 0, status: 4), at: 1),
                       [.log(.childFailed(child: 0, pid: 100, status: 4)), .cancelDeadline,
                        .collectOrphans(signal: TERM), .armDeadline(1 + 5 * s)])
        XCTAssertEqual(u.send(.orphansGone, at: 2), [.cancelDeadline, .log(.exiting(status: 1)), .exit(1)])
    }
}
