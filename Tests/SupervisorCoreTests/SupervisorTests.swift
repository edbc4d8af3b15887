import XCTest
import SupervisorCore

private func daemon(_ name: String, dash: Bool = false) -> SupervisedCommand {
    SupervisedCommand(name: Array(name.utf8), isWait: false, ignoresFailure: dash)
}

private func waitCmd(_ name: String, dash: Bool = false) -> SupervisedCommand {
    SupervisedCommand(name: Array(name.utf8), isWait: true, ignoresFailure: dash)
}

private func sig(_ child: Int, _ signal: Int32) -> Action {
    .signal(child: child, signal: signal, group: false)
}

final class SupervisorTests: XCTestCase {

    // MARK: Startup

    func testStartOrderWithDelay() {
        var t = Script([daemon("a"), daemon("b"), daemon("c")], delay: 2 * s)
        XCTAssertEqual(t.send(.start(subreaper: false), at: 0), [.spawn(child: 0)])
        XCTAssertEqual(t.core.phase, .starting)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 10),
                       [.log(.started(child: 0, pid: 100)), .armDeadline(10 + 2 * s)])
        XCTAssertEqual(t.send(.deadline, at: 10 + 2 * s), [.spawn(child: 1)])
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 101), at: 3 * s),
                       [.log(.started(child: 1, pid: 101)), .armDeadline(5 * s)])
        XCTAssertEqual(t.send(.deadline, at: 5 * s), [.spawn(child: 2)])
        XCTAssertEqual(t.send(.spawned(child: 2, pid: 102), at: 6 * s),
                       [.log(.started(child: 2, pid: 102)), .armDeadline(8 * s)])
        XCTAssertEqual(t.send(.deadline, at: 8 * s), [])
        XCTAssertEqual(t.core.phase, .running)
        XCTAssertEqual(t.core.states, [.running, .running, .running])
        XCTAssertEqual(t.core.pids, [100, 101, 102])
    }

    func testZeroDelayStartsNextImmediately() {
        var t = Script([daemon("a"), daemon("b")], delay: 0)
        XCTAssertEqual(t.send(.start(subreaper: false), at: 0), [.spawn(child: 0)])
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 1), at: 0), [.log(.started(child: 0, pid: 1)), .spawn(child: 1)])
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 2), at: 0), [.log(.started(child: 1, pid: 2))])
        XCTAssertEqual(t.core.phase, .running)
    }

    func testStartWithSubreaperLogs() {
        var t = Script([daemon("a")])
        XCTAssertEqual(t.send(.start(subreaper: true), at: 0), [.log(.subreaper), .spawn(child: 0)])
        // A second start is ignored.
        XCTAssertEqual(t.send(.start(subreaper: true), at: 1), [])
    }

    func testStaleDeadlineDuringWaitIsIgnored() {
        var t = Script([waitCmd("init"), daemon("d")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 5), at: 0)
        XCTAssertEqual(t.send(.deadline, at: 9 * s), [])
        XCTAssertEqual(t.core.states, [.running, .pending])
    }

    // MARK: :wait:

    func testWaitSuccessContinues() {
        var t = Script([waitCmd("init"), daemon("d")])
        XCTAssertEqual(t.send(.start(subreaper: false), at: 0), [.spawn(child: 0)])
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 50), at: 1), [.log(.started(child: 0, pid: 50))])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 2),
                       [.log(.childExited(child: 0, pid: 50, status: 0)), .spawn(child: 1)])
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 51), at: 3),
                       [.log(.started(child: 1, pid: 51)), .armDeadline(3 + s)])
        XCTAssertEqual(t.core.states, [.exited, .running])
    }

    func testWaitFailureShutsDownWithItsStatus() {
        var t = Script([daemon("d"), waitCmd("check"), daemon("never")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 10), at: 0), [.log(.started(child: 0, pid: 10)), .spawn(child: 1)])
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 11), at: 0), [.log(.started(child: 1, pid: 11))])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 3), at: 100),
                       [.log(.childFailed(child: 1, pid: 11, status: 3)), .cancelDeadline,
                        sig(0, TERM), .armDeadline(100 + 5 * s)])
        XCTAssertEqual(t.core.phase, .stopping)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 200),
                       [.log(.stopped(child: 0, pid: 10, status: 0)),
                        .collectOrphans(signal: TERM), .armDeadline(200 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 300),
                       [.cancelDeadline, .log(.exiting(status: 3)), .exit(3)])
        XCTAssertEqual(t.core.states, [.exited, .exited, .pending], "the third command never started")
    }

    func testFirstWaitFailureExitsImmediately() {
        var t = Script([waitCmd("a"), daemon("b")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 7), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 42), at: 1),
                       [.log(.childFailed(child: 0, pid: 7, status: 42)), .cancelDeadline,
                        .collectOrphans(signal: TERM), .armDeadline(1 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 2), [.cancelDeadline, .log(.exiting(status: 42)), .exit(42)])
    }

    func testDashWaitFailureContinues() {
        var t = Script([waitCmd("a", dash: true), daemon("b")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 7), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 1), at: 1),
                       [.log(.childExited(child: 0, pid: 7, status: 1)), .spawn(child: 1)])
        XCTAssertEqual(t.core.phase, .starting)
        XCTAssertEqual(t.core.firstFailure, 0)
    }

    func testAllWaitRunExitsZero() {
        var t = Script([waitCmd("a"), waitCmd("b", dash: true)])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 1), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 1),
                       [.log(.childExited(child: 0, pid: 1, status: 0)), .spawn(child: 1)])
        _ = t.send(.spawned(child: 1, pid: 2), at: 1)
        XCTAssertEqual(t.send(.childExited(child: 1, status: 9), at: 2),
                       [.log(.childExited(child: 1, pid: 2, status: 9)),
                        .collectOrphans(signal: TERM), .armDeadline(2 + 5 * s)])
        XCTAssertEqual(t.core.phase, .orphans)
        XCTAssertEqual(t.send(.orphansGone, at: 3), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
        XCTAssertEqual(t.core.phase, .done)
    }

    // MARK: Exec failure

    func testSpawnFailedENOENTShutsDownWith127() {
        var t = Script([daemon("a"), daemon("nope"), daemon("c")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        XCTAssertEqual(t.send(.spawnFailed(child: 1, errno: 2), at: 5),
                       [.log(.execFailed(child: 1, errno: 2)), .cancelDeadline, sig(0, TERM), .armDeadline(5 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 6),
                       [.log(.stopped(child: 0, pid: 10, status: 0)), .collectOrphans(signal: TERM), .armDeadline(6 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 7), [.cancelDeadline, .log(.exiting(status: 127)), .exit(127)])
    }

    func testSpawnFailedEACCESCounts126() {
        var t = Script([waitCmd("noperm")])
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: 13), at: 1),
                       [.log(.execFailed(child: 0, errno: 13)), .cancelDeadline,
                        .collectOrphans(signal: TERM), .armDeadline(1 + 5 * s)])
        XCTAssertEqual(t.core.exitStatus, 126)
        XCTAssertEqual(t.send(.orphansGone, at: 2), [.cancelDeadline, .log(.exiting(status: 126)), .exit(126)])
    }

    func testSpawnFailedOtherErrnoCounts126() {
        var t = Script([daemon("x")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawnFailed(child: 0, errno: 8), at: 1)
        XCTAssertEqual(t.core.exitStatus, 126)
    }

    func testDashWaitSpawnFailureContinues() {
        var t = Script([waitCmd("maybe", dash: true), daemon("d")])
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: 2), at: 1),
                       [.log(.execFailed(child: 0, errno: 2)), .spawn(child: 1)])
        XCTAssertEqual(t.core.exitStatus, 0)
    }

    // MARK: Daemons exiting on their own

    func testDaemonExitDuringStartupShutsDown() {
        var t = Script([daemon("a"), daemon("b"), daemon("c")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        _ = t.send(.deadline, at: s)
        _ = t.send(.spawned(child: 1, pid: 11), at: s)
        // b dies within its startup delay: c is never started.
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: s + 100),
                       [.log(.childFailed(child: 1, pid: 11, status: 0)), .cancelDeadline,
                        sig(0, TERM), .armDeadline(s + 100 + 5 * s)])
        // The next deadline is a's kill timeout, not a startup step.
        XCTAssertEqual(t.send(.deadline, at: 6 * s + 100),
                       [.log(.killing(child: 0, pid: 10)), sig(0, KILL), .armDeadline(11 * s + 100)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 9), at: 7 * s),
                       [.log(.stopped(child: 0, pid: 10, status: 9)), .collectOrphans(signal: TERM), .armDeadline(12 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 8 * s), [.cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
        XCTAssertEqual(t.core.states[2], .pending)
    }

    func testDaemonExitAfterStartupShutsDownWithStatus1() {
        var t = Script([daemon("a"), daemon("b")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        _ = t.send(.spawned(child: 1, pid: 11), at: 0)
        XCTAssertEqual(t.core.phase, .running)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 50),
                       [.log(.childFailed(child: 0, pid: 10, status: 0)), .cancelDeadline,
                        sig(1, TERM), .armDeadline(50 + 5 * s)])
        // b handles SIGTERM and exits 0: the run still failed because a exited on its own.
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 60),
                       [.log(.stopped(child: 1, pid: 11, status: 0)), .collectOrphans(signal: TERM), .armDeadline(60 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 70), [.cancelDeadline, .log(.exiting(status: 1)), .exit(1)])
    }

    func testDashDaemonExitShutsDownWithStatus0() {
        var t = Script([daemon("a"), daemon("b", dash: true)], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        _ = t.send(.spawned(child: 1, pid: 11), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 1, status: 4), at: 50),
                       [.log(.childFailed(child: 1, pid: 11, status: 4)), .cancelDeadline,
                        sig(0, TERM), .armDeadline(50 + 5 * s)])
        _ = t.send(.childExited(child: 0, status: 0), at: 60)
        XCTAssertEqual(t.send(.orphansGone, at: 70), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
    }

    func testSeedExampleExitsWith15() {
        // dinit -- sleep 5 -- sleep 3
        var t = Script([daemon("sleep"), daemon("sleep")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 18289), at: 0)
        _ = t.send(.deadline, at: s)
        _ = t.send(.spawned(child: 1, pid: 18290), at: s)
        _ = t.send(.deadline, at: 2 * s)
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 4 * s),
                       [.log(.childFailed(child: 1, pid: 18290, status: 0)), .cancelDeadline,
                        sig(0, TERM), .armDeadline(9 * s)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 15), at: 4 * s + 1),
                       [.log(.stopped(child: 0, pid: 18289, status: 15)), .collectOrphans(signal: TERM),
                        .armDeadline(9 * s + 1)])
        XCTAssertEqual(t.send(.orphansGone, at: 4 * s + 2), [.cancelDeadline, .log(.exiting(status: 15)), .exit(15)])
    }

    // MARK: Shutdown

    private func runningThree(delay: Nanoseconds = 0, quiet: Int = 0,
                              commands: [SupervisedCommand] = [daemon("a"), daemon("b"), daemon("c")]) -> Script {
        var t = Script(commands, delay: delay, quiet: quiet)
        _ = t.send(.start(subreaper: false), at: 0)
        for i in commands.indices { _ = t.send(.spawned(child: i, pid: Int32(100 + i)), at: 0) }
        XCTAssertEqual(t.core.phase, .running)
        return t
    }

    func testReverseOrderStop() {
        var t = runningThree()
        XCTAssertEqual(t.send(.signal(TERM), at: 10), [.cancelDeadline, sig(2, TERM), .armDeadline(10 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 2, status: 0), at: 20),
                       [.log(.stopped(child: 2, pid: 102, status: 0)), sig(1, TERM), .armDeadline(20 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 30),
                       [.log(.stopped(child: 1, pid: 101, status: 0)), sig(0, TERM), .armDeadline(30 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 40),
                       [.log(.stopped(child: 0, pid: 100, status: 0)), .collectOrphans(signal: TERM), .armDeadline(40 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 50), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
    }

    func testShutdownDuringStartupStopsOnlyStartedChildren() {
        var t = Script([daemon("a"), daemon("b"), daemon("c")], delay: 2 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.deadline, at: 2 * s)
        _ = t.send(.spawned(child: 1, pid: 101), at: 2 * s)
        XCTAssertEqual(t.send(.signal(TERM), at: 3 * s), [.cancelDeadline, sig(1, TERM), .armDeadline(8 * s)])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 15), at: 3 * s + 1),
                       [.log(.stopped(child: 1, pid: 101, status: 15)), sig(0, TERM), .armDeadline(8 * s + 1)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 15), at: 3 * s + 2),
                       [.log(.stopped(child: 0, pid: 100, status: 15)), .collectOrphans(signal: TERM), .armDeadline(8 * s + 2)])
        XCTAssertEqual(t.send(.orphansGone, at: 4 * s), [.cancelDeadline, .log(.exiting(status: 15)), .exit(15)])
        XCTAssertEqual(t.core.states[2], .pending)
    }

    func testShutdownWhileWaitCommandRuns() {
        var t = Script([daemon("d"), waitCmd("migrate"), daemon("never")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        _ = t.send(.spawned(child: 1, pid: 11), at: 0)
        XCTAssertEqual(t.send(.signal(INT), at: 5), [.cancelDeadline, sig(1, INT), .armDeadline(5 + 5 * s)])
        // The :wait: command ending now is a stop, not a startup step.
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 6),
                       [.log(.stopped(child: 1, pid: 11, status: 0)), sig(0, INT), .armDeadline(6 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 7),
                       [.log(.stopped(child: 0, pid: 10, status: 0)), .collectOrphans(signal: TERM), .armDeadline(7 + 5 * s)])
        XCTAssertEqual(t.send(.orphansGone, at: 8), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
        XCTAssertEqual(t.core.states[2], .pending)
    }

    func testSigintAndSigquitAreForwarded() {
        for signo in [INT, QUIT] {
            var t = runningThree()
            XCTAssertEqual(t.send(.signal(signo), at: 10), [.cancelDeadline, sig(2, signo), .armDeadline(10 + 5 * s)])
            XCTAssertEqual(t.send(.childExited(child: 2, status: signo), at: 20),
                           [.log(.stopped(child: 2, pid: 102, status: signo)), sig(1, signo), .armDeadline(20 + 5 * s)])
        }
    }

    func testKillTimeoutEscalatesThenAbandons() {
        var t = runningThree()
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.deadline, at: 5 * s),
                       [.log(.killing(child: 2, pid: 102)), sig(2, KILL), .armDeadline(10 * s)])
        XCTAssertEqual(t.send(.deadline, at: 10 * s),
                       [.log(.abandoned(child: 2, pid: 102)), sig(1, TERM), .armDeadline(15 * s)])
        XCTAssertEqual(t.core.states[2], .abandoned)
        // The next one escalates independently.
        XCTAssertEqual(t.send(.deadline, at: 15 * s),
                       [.log(.killing(child: 1, pid: 101)), sig(1, KILL), .armDeadline(20 * s)])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 9), at: 16 * s),
                       [.log(.stopped(child: 1, pid: 101, status: 9)), sig(0, TERM), .armDeadline(21 * s)])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 17 * s),
                       [.log(.stopped(child: 0, pid: 100, status: 0)), .collectOrphans(signal: TERM), .armDeadline(22 * s)])
        // The abandoned child's late exit is ignored.
        XCTAssertEqual(t.send(.childExited(child: 2, status: 9), at: 18 * s), [])
        XCTAssertEqual(t.send(.orphansGone, at: 19 * s), [.cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
    }

    func testSecondShutdownSignalKillsEveryoneAtOnce() {
        var t = runningThree()
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.signal(TERM), at: s),
                       [.log(.killingAll), sig(0, KILL), sig(1, KILL), sig(2, KILL), .armDeadline(6 * s)])
        // A third request does nothing more.
        XCTAssertEqual(t.send(.signal(INT), at: s + 1), [])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 9), at: s + 2),
                       [.log(.stopped(child: 0, pid: 100, status: 9))])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 9), at: s + 3),
                       [.log(.stopped(child: 1, pid: 101, status: 9))])
        XCTAssertEqual(t.send(.childExited(child: 2, status: 9), at: s + 4),
                       [.log(.stopped(child: 2, pid: 102, status: 9)), .collectOrphans(signal: TERM), .armDeadline(6 * s + 4)])
        XCTAssertEqual(t.send(.orphansGone, at: 2 * s), [.cancelDeadline, .log(.exiting(status: 9)), .exit(9)])
    }

    func testSecondSignalThenStopTargetExitsFirst() {
        // After everything was SIGKILLed, the exit of the child being stopped
        // must not send the first signal to the next child nor move the deadline.
        var t = runningThree()
        _ = t.send(.signal(INT), at: 0)
        _ = t.send(.signal(QUIT), at: s)
        XCTAssertEqual(t.send(.childExited(child: 2, status: 9), at: s + 1),
                       [.log(.stopped(child: 2, pid: 102, status: 9))])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 9), at: s + 2),
                       [.log(.stopped(child: 1, pid: 101, status: 9))])
        XCTAssertEqual(t.send(.childExited(child: 0, status: 9), at: s + 3),
                       [.log(.stopped(child: 0, pid: 100, status: 9)), .collectOrphans(signal: TERM), .armDeadline(6 * s + 3)])
    }

    func testSecondSignalDeadlineAbandonsSurvivors() {
        var t = runningThree()
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.signal(TERM), at: s)
        _ = t.send(.childExited(child: 1, status: 9), at: s + 1)
        XCTAssertEqual(t.send(.deadline, at: 6 * s),
                       [.log(.abandoned(child: 0, pid: 100)), .log(.abandoned(child: 2, pid: 102)),
                        .collectOrphans(signal: TERM), .armDeadline(11 * s)])
        XCTAssertEqual(t.core.states, [.abandoned, .exited, .abandoned])
    }

    func testOtherSignalsAreForwardedToEveryRunningChild() {
        var t = runningThree()
        XCTAssertEqual(t.send(.signal(HUP), at: 1), [sig(0, HUP), sig(1, HUP), sig(2, HUP)])
        XCTAssertEqual(t.core.phase, .running)
        _ = t.send(.signal(TERM), at: 2)
        _ = t.send(.childExited(child: 2, status: 0), at: 3)
        XCTAssertEqual(t.send(.signal(USR1), at: 4), [sig(0, USR1), sig(1, USR1)])
        XCTAssertEqual(t.core.phase, .stopping)
    }

    func testOtherSignalDuringStartupOnlyReachesStartedChildren() {
        var t = Script([daemon("a"), daemon("b")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 1), at: 0)
        XCTAssertEqual(t.send(.signal(USR1), at: 1), [sig(0, USR1)])
        XCTAssertEqual(t.core.phase, .starting)
        // Startup carries on.
        XCTAssertEqual(t.send(.deadline, at: s), [.spawn(child: 1)])
    }

    // MARK: Orphans

    func testOrphanEscalation() {
        var t = runningThree()
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.childExited(child: 2, status: 0), at: 0)
        _ = t.send(.childExited(child: 1, status: 0), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: s),
                       [.log(.stopped(child: 0, pid: 100, status: 0)), .collectOrphans(signal: TERM), .armDeadline(6 * s)])
        XCTAssertEqual(t.send(.deadline, at: 6 * s),
                       [.log(.killingDescendants), .collectOrphans(signal: KILL), .armDeadline(11 * s)])
        XCTAssertEqual(t.send(.deadline, at: 11 * s),
                       [.log(.descendantsRemain), .cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
        XCTAssertEqual(t.core.phase, .done)
        // Nothing after the end.
        XCTAssertEqual(t.send(.orphansGone, at: 12 * s), [])
        XCTAssertEqual(t.send(.deadline, at: 12 * s), [])
    }

    func testShutdownSignalWhileCollectingOrphansKillsThem() {
        var t = Script([waitCmd("a")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 1), at: 0)
        _ = t.send(.childExited(child: 0, status: 0), at: 0)
        XCTAssertEqual(t.core.phase, .orphans)
        XCTAssertEqual(t.send(.signal(TERM), at: s),
                       [.log(.killingDescendants), .collectOrphans(signal: KILL), .armDeadline(6 * s)])
        XCTAssertEqual(t.send(.signal(TERM), at: s + 1), [])
        XCTAssertEqual(t.send(.orphansGone, at: 2 * s), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
    }

    func testOrphansGoneOutsideOrphanPhaseIsIgnored() {
        var t = runningThree()
        XCTAssertEqual(t.send(.orphansGone, at: 1), [])
        XCTAssertEqual(t.core.phase, .running)
    }

    // MARK: Exit status rules

    /// TERM at 0, then the children exit in this order (as (child, status)),
    /// at 1, 2, 3, ...
    private func stopByTERM(_ t: inout Script, exits: [(child: Int, status: Int32)]) {
        _ = t.send(.signal(TERM), at: 0)
        for (k, e) in exits.enumerated() {
            _ = t.send(.childExited(child: e.child, status: e.status), at: Nanoseconds(k + 1))
        }
    }

    func testFirstNonzeroInOrderEndedAmongNonDash() {
        var t = runningThree(commands: [daemon("a"), daemon("b", dash: true), daemon("c")])
        stopByTERM(&t, exits: [(2, 0), (1, 7), (0, 3)])  // b's 7: dash, ignored
        XCTAssertEqual(t.core.exitStatus, 3)
        XCTAssertEqual(t.send(.orphansGone, at: 4), [.cancelDeadline, .log(.exiting(status: 3)), .exit(3)])
    }

    func testFirstNonzeroWinsOverLater() {
        var t = runningThree()
        stopByTERM(&t, exits: [(2, 143), (1, 0), (0, 15)])
        XCTAssertEqual(t.send(.orphansGone, at: 4), [.cancelDeadline, .log(.exiting(status: 143)), .exit(143)])
    }

    func testChildExitingOnItsOwnDuringShutdownCountsInOrderEnded() {
        var t = runningThree()
        _ = t.send(.signal(TERM), at: 0)
        // a exits by itself while c is being stopped.
        XCTAssertEqual(t.send(.childExited(child: 0, status: 4), at: 1),
                       [.log(.childExited(child: 0, pid: 100, status: 4))])
        XCTAssertEqual(t.send(.childExited(child: 2, status: 15), at: 2),
                       [.log(.stopped(child: 2, pid: 102, status: 15)), sig(1, TERM), .armDeadline(2 + 5 * s)])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 3),
                       [.log(.stopped(child: 1, pid: 101, status: 0)), .collectOrphans(signal: TERM), .armDeadline(3 + 5 * s)])
        XCTAssertEqual(t.core.exitStatus, 4)
    }

    func testSignalShutdownAllZeroExitsZero() {
        var t = runningThree()
        stopByTERM(&t, exits: [(2, 0), (1, 0), (0, 0)])
        XCTAssertEqual(t.send(.orphansGone, at: 4), [.cancelDeadline, .log(.exiting(status: 0)), .exit(0)])
    }

    func testUnknownOrRepeatedChildEventsAreIgnored() {
        var t = runningThree()
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 999), at: 1), [], "already running")
        XCTAssertEqual(t.send(.spawned(child: 7, pid: 999), at: 1), [], "no such child")
        XCTAssertEqual(t.send(.childExited(child: 7, status: 1), at: 1), [])
        XCTAssertEqual(t.send(.childExited(child: -1, status: 1), at: 1), [])
        XCTAssertEqual(t.send(.spawnFailed(child: 2, errno: 2), at: 1), [])
        XCTAssertEqual(t.core.pids, [100, 101, 102])
        XCTAssertEqual(t.core.phase, .running)
    }

    // MARK: Quiet

    func testQuiet1KeepsOnlyErrors() {
        var t = Script([daemon("a"), waitCmd("ok"), waitCmd("bad"), daemon("never")], delay: 0, quiet: 1)
        XCTAssertEqual(t.send(.start(subreaper: true), at: 0), [.spawn(child: 0)], "subreaper info suppressed")
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 10), at: 0), [.spawn(child: 1)], "started suppressed")
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 11), at: 0), [])
        XCTAssertEqual(t.send(.childExited(child: 1, status: 0), at: 0), [.spawn(child: 2)], "successful :wait: suppressed")
        _ = t.send(.spawned(child: 2, pid: 12), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 2, status: 1), at: 0),
                       [.log(.childFailed(child: 2, pid: 12, status: 1)), .cancelDeadline, sig(0, TERM), .armDeadline(5 * s)],
                       "failed :wait: kept")
        XCTAssertEqual(t.send(.deadline, at: 5 * s),
                       [.log(.killing(child: 0, pid: 10)), sig(0, KILL), .armDeadline(10 * s)], "SIGKILL escalation kept")
        XCTAssertEqual(t.send(.childExited(child: 0, status: 9), at: 6 * s),
                       [.collectOrphans(signal: TERM), .armDeadline(11 * s)], "stopped suppressed")
        XCTAssertEqual(t.send(.orphansGone, at: 7 * s), [.cancelDeadline, .exit(1)], "exiting suppressed")
    }

    func testQuiet1KeepsExecFailureAndUnexpectedExit() {
        var t = Script([daemon("a"), daemon("nope")], delay: 0, quiet: 1)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 10), at: 0)
        XCTAssertEqual(t.send(.spawnFailed(child: 1, errno: 2), at: 0),
                       [.log(.execFailed(child: 1, errno: 2)), .cancelDeadline, sig(0, TERM), .armDeadline(5 * s)])

        var u = Script([daemon("a")], delay: 0, quiet: 1)
        _ = u.send(.start(subreaper: false), at: 0)
        _ = u.send(.spawned(child: 0, pid: 10), at: 0)
        XCTAssertEqual(u.send(.childExited(child: 0, status: 0), at: 1),
                       [.log(.childFailed(child: 0, pid: 10, status: 0)), .cancelDeadline,
                        .collectOrphans(signal: TERM), .armDeadline(1 + 5 * s)])
    }

    func testQuiet2LogsNothing() {
        for quiet in [2, 3] {
            var t = Script([daemon("a"), daemon("nope")], delay: 0, quiet: quiet)
            XCTAssertEqual(t.send(.start(subreaper: true), at: 0), [.spawn(child: 0)])
            XCTAssertEqual(t.send(.spawned(child: 0, pid: 10), at: 0), [.spawn(child: 1)])
            XCTAssertEqual(t.send(.spawnFailed(child: 1, errno: 2), at: 0), [.cancelDeadline, sig(0, TERM), .armDeadline(5 * s)])
            XCTAssertEqual(t.send(.deadline, at: 5 * s), [sig(0, KILL), .armDeadline(10 * s)])
            XCTAssertEqual(t.send(.deadline, at: 10 * s), [.collectOrphans(signal: TERM), .armDeadline(15 * s)])
            XCTAssertEqual(t.send(.deadline, at: 15 * s), [.collectOrphans(signal: KILL), .armDeadline(20 * s)])
            XCTAssertEqual(t.send(.deadline, at: 20 * s), [.cancelDeadline, .exit(127)])
        }
    }

    func testQuiet2SecondSignal() {
        var t = runningThree(quiet: 2)
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.signal(TERM), at: 1), [sig(0, KILL), sig(1, KILL), sig(2, KILL), .armDeadline(1 + 5 * s)])
    }

    // MARK: Sizing

    func testMaxActionsCoversWorstCase() {
        let n = 10
        var t = Script((0..<n).map { daemon("d\($0)") }, delay: 0)
        _ = t.send(.start(subreaper: true), at: 0)
        for i in 0..<n { _ = t.send(.spawned(child: i, pid: Int32(i + 1)), at: 0) }
        _ = t.send(.signal(TERM), at: 0)
        let kill = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(kill.count, n + 2)
        let abandon = t.send(.deadline, at: 5 * s)
        XCTAssertEqual(abandon.count, n + 2)
        XCTAssertLessThanOrEqual(abandon.count, t.core.maxActionsPerEvent)
    }
}
