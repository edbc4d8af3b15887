import XCTest
import SupervisorCore

private let WINCH: Int32 = 28

extension CoreScript where Core == Supervisor {
    /// dinit's core with the operator controls (`-g`, `-e` statuses, `-t`),
    /// startup delay 0 unless given.
    static func controls(_ commands: [SupervisedCommand], delay: Nanoseconds = 0, kill: Nanoseconds = 5 * s,
                         groups: Bool = false, success: [UInt8] = [], budget: Nanoseconds? = nil) -> Script {
        Script(core: Supervisor(commands: commands, startupDelay: delay, killTimeout: kill, quiet: 0,
                                signalGroups: groups, successStatuses: ExitStatusSet(success), stopBudget: budget))
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

    // MARK: -t stop budget

    func testBudgetCutsEachWaitAndKillsEverythingAtOnce() {
        // Three children, -k 5, -t 8: without a budget the stop could take
        // 3 x (5 + 5) s.
        var t = Script.controls([daemon("a"), daemon("b"), daemon("c")], kill: 5 * s, budget: 8 * s)
        t.startAll()
        let t0: Nanoseconds = 100
        XCTAssertEqual(t.send(.signal(TERM), at: t0), [.cancelDeadline, sig(2, TERM), .armDeadline(t0 + 5 * s)])
        // c stops at 3 s: b's wait is cut to the 5 s left.
        XCTAssertEqual(t.send(.childExited(child: 2, status: 0), at: t0 + 3 * s),
                       [.log(.stopped(child: 2, pid: 102, status: 0)), sig(1, TERM), .armDeadline(t0 + 8 * s)])
        // The budget's end: SIGKILL to b and a at once, orphans too, exit.
        XCTAssertEqual(t.send(.deadline, at: t0 + 8 * s),
                       [.log(.budgetSpent),
                        .log(.budgetKilled(child: 0, pid: 100)), sig(0, KILL),
                        .log(.budgetKilled(child: 1, pid: 101)), sig(1, KILL),
                        .collectOrphans(signal: KILL), .cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
        XCTAssertEqual(t.core.phase, .done)
        XCTAssertEqual(t.core.states, [.abandoned, .abandoned, .exited])
        // Their late exits change nothing.
        XCTAssertEqual(t.send(.childExited(child: 1, status: 9), at: t0 + 8 * s + 1), [])
        XCTAssertEqual(t.send(.orphansGone, at: t0 + 8 * s + 2), [])
    }

    func testBudgetCutsTheKillGrace() {
        var t = Script.controls([daemon("a")], kill: 2 * s, budget: 3 * s)
        t.startAll()
        XCTAssertEqual(t.send(.signal(TERM), at: 0), [.cancelDeadline, sig(0, TERM), .armDeadline(2 * s)])
        // The step's own deadline comes first: ordinary escalation, its grace cut.
        XCTAssertEqual(t.send(.deadline, at: 2 * s),
                       [.log(.killing(child: 0, pid: 100)), sig(0, KILL), .armDeadline(3 * s)])
        XCTAssertEqual(t.send(.deadline, at: 3 * s),
                       [.log(.budgetSpent), .log(.budgetKilled(child: 0, pid: 100)), sig(0, KILL),
                        .collectOrphans(signal: KILL), .cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
    }

    func testBudgetCoversTheOrphanPhase() {
        var t = Script.controls([daemon("a")], kill: 5 * s, budget: 2 * s)
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: s),
                       [.log(.stopped(child: 0, pid: 100, status: 0)), .collectOrphans(signal: TERM), .armDeadline(2 * s)])
        XCTAssertEqual(t.send(.deadline, at: 2 * s),
                       [.log(.budgetSpent), .collectOrphans(signal: KILL), .cancelDeadline,
                        .log(.exiting(status: 0)), .exit(0)])
    }

    func testBudgetStartsWithTheOrphansOfAWaitOnlyRun() {
        var t = Script.controls([SupervisedCommand(name: Array("w".utf8), isWait: true)], kill: 5 * s, budget: s)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 10 * s),
                       [.log(.childExited(child: 0, pid: 100, status: 0)), .collectOrphans(signal: TERM),
                        .armDeadline(11 * s)])
        XCTAssertEqual(t.send(.deadline, at: 11 * s).last, .exit(0))
    }

    func testBudgetStartsAtTheShutdownNotAtStartup() {
        // The startup delay is not cut, and the budget counts from the
        // shutdown's first signal.
        var t = Script.controls([daemon("a"), daemon("b")], delay: 10 * s, kill: 5 * s, budget: 2 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 0),
                       [.log(.started(child: 0, pid: 100)), .armDeadline(10 * s)])
        XCTAssertEqual(t.send(.signal(INT), at: 30 * s), [.cancelDeadline, sig(0, INT), .armDeadline(32 * s)])
    }

    func testBudgetAfterSecondSignal() {
        var t = Script.controls([daemon("a"), daemon("b")], kill: 5 * s, budget: 3 * s)
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.signal(TERM), at: s),
                       [.log(.killingAll), sig(0, KILL), sig(1, KILL), .armDeadline(3 * s)])
        _ = t.send(.childExited(child: 1, status: 9), at: s + 1)
        XCTAssertEqual(t.send(.deadline, at: 3 * s),
                       [.log(.budgetSpent), .log(.budgetKilled(child: 0, pid: 100)), sig(0, KILL),
                        .collectOrphans(signal: KILL), .cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
    }

    func testBudgetKilledChildCountsAsNineUnlessDashOrE() {
        var t = Script.controls([daemon("a", dash: true), daemon("b")], kill: 5 * s, success: [9], budget: s)
        t.startAll()
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.deadline, at: s).last, .exit(0))
    }

    func testZeroBudgetKillsAtOnce() {
        var t = Script.controls([daemon("a")], kill: 5 * s, budget: 0)
        t.startAll()
        XCTAssertEqual(t.send(.signal(TERM), at: 7), [.cancelDeadline, sig(0, TERM), .armDeadline(7)])
        XCTAssertEqual(t.send(.deadline, at: 7).last, .exit(9))
    }

    func testWithoutBudgetNothingChanges() {
        var t = Script.controls([daemon("a")], kill: 5 * s)
        t.startAll()
        XCTAssertEqual(t.send(.signal(TERM), at: 0), [.cancelDeadline, sig(0, TERM), .armDeadline(5 * s)])
        XCTAssertEqual(t.send(.deadline, at: 5 * s), [.log(.killing(child: 0, pid: 100)), sig(0, KILL), .armDeadline(10 * s)])
        XCTAssertEqual(t.send(.deadline, at: 10 * s).first, .log(.abandoned(child: 0, pid: 100)))
    }

    func testBudgetLines() {
        let core = Supervisor(commands: [daemon("postgres")], startupDelay: 0, killTimeout: 0, quiet: 0,
                              stopBudget: 8_500_000_000)
        func text(_ r: LogRecord) -> String {
            let line = LineWriter()
            core.format(r, into: line)
            return String(decoding: Array(line.bytes), as: UTF8.self)
        }
        XCTAssertEqual(text(.budgetSpent),
                       "dinit: Stop budget of 8.5 s spent, sending SIGKILL to every remaining process and exiting\n")
        XCTAssertEqual(text(.budgetKilled(child: 0, pid: 42)),
                       "dinit: Child 42 'postgres' still running at the end of the stop budget, sent SIGKILL\n")
        XCTAssertEqual(LogRecord.budgetSpent.level, .error)
        XCTAssertEqual(LogRecord.budgetKilled(child: 0, pid: 42).level, .error)
        XCTAssertEqual(LogRecord.budgetKilled(child: 0, pid: 42).child, 0)
        XCTAssertEqual(LogRecord.budgetKilled(child: 0, pid: 42).pid, 42)
    }
}
