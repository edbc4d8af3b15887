import XCTest
import SupervisorCore

/// A Supervisor under a script, with the readiness settings (a startup
/// delay long enough that only readiness explains a quick start).
private func readyScript(_ commands: [SupervisedCommand], delay: Nanoseconds = 30 * s, ready: Nanoseconds = 90 * s,
                         parent: Bool = false) -> Script {
    Script(core: Supervisor(commands: commands, startupDelay: delay, killTimeout: 5 * s, quiet: 0,
                            readyTimeout: ready, notifiesParent: parent))
}

private func notify(_ name: String, dash: Bool = false) -> SupervisedCommand {
    SupervisedCommand(name: Array(name.utf8), isWait: false, ignoresFailure: dash, isNotify: true)
}

private func daemon(_ name: String) -> SupervisedCommand {
    SupervisedCommand(name: Array(name.utf8))
}

private func message(_ s: String) -> NotifyMessage { NotifyMessage(Array(s.utf8)) }

private func status(_ s: String) -> StatusText { StatusText(Array(s.utf8)) }

final class NotifySupervisorTests: XCTestCase {
    func testReadyStartsTheNextLongBeforeTheDelay() {
        var t = readyScript([notify("fpm"), daemon("nginx")])
        XCTAssertEqual(t.send(.start(subreaper: false), at: 0), [.spawn(child: 0)])
        // No startup delay: the ready timeout is the deadline.
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 1 * ms),
                       [.log(.started(child: 0, pid: 100)), .armDeadline(1 * ms + 90 * s)])
        XCTAssertEqual(t.core.phase, .awaitingReady)
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1\nSTATUS=Ready to handle connections")), at: 40 * ms),
                       [.log(.notifyStatus(child: 0, pid: 100, status("Ready to handle connections"))),
                        .log(.ready(child: 0, pid: 100)), .cancelDeadline, .spawn(child: 1)])
        XCTAssertEqual(t.core.phase, .starting)
        // The daemon without :notify: still has its startup delay.
        XCTAssertEqual(t.send(.spawned(child: 1, pid: 101), at: 41 * ms),
                       [.log(.started(child: 1, pid: 101)), .armDeadline(41 * ms + 30 * s)])
        XCTAssertEqual(t.send(.deadline, at: 41 * ms + 30 * s), [])
        XCTAssertEqual(t.core.phase, .running)
    }

    func testStatusBeforeReadyIsLoggedAfterwardsNot() {
        var t = readyScript([notify("fpm"), notify("pg")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(t.send(.notify(child: 0, message("STATUS=starting")), at: 1),
                       [.log(.notifyStatus(child: 0, pid: 100, status("starting")))])
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 2),
                       [.log(.ready(child: 0, pid: 100)), .cancelDeadline, .spawn(child: 1)])
        _ = t.send(.spawned(child: 1, pid: 101), at: 3)
        // child 0 is ready: its STATUS lines are not logged any more, even
        // while start-up waits for child 1.
        XCTAssertEqual(t.send(.notify(child: 0, message("STATUS=Processes active: 0")), at: 4), [])
        // Its READY=1 again is logged, not acted on.
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 5), [.log(.readyIgnored(child: 0, pid: 100))])
        XCTAssertEqual(t.core.phase, .awaitingReady)
        XCTAssertEqual(t.send(.notify(child: 1, message("READY=1")), at: 6),
                       [.log(.ready(child: 1, pid: 101)), .cancelDeadline])
        XCTAssertEqual(t.core.phase, .running)
        XCTAssertEqual(t.send(.notify(child: 1, message("STATUS=idle")), at: 7), [])
    }

    func testReadyAfterStartupIsLoggedNotActedOn() {
        var t = readyScript([notify("a")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.notify(child: 0, message("READY=1")), at: 1)
        XCTAssertEqual(t.core.phase, .running)
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 2), [.log(.readyIgnored(child: 0, pid: 100))])
        XCTAssertEqual(t.send(.notify(child: 0, message("STOPPING=1\nRELOADING=1\nERRNO=5")), at: 3),
                       [.log(.notifyStopping(child: 0, pid: 100)), .log(.notifyReloading(child: 0, pid: 100)),
                        .log(.notifyErrno(child: 0, pid: 100, errno: 5))])
        XCTAssertEqual(t.core.phase, .running)
        // EXTEND after start-up does nothing.
        XCTAssertEqual(t.send(.notify(child: 0, message("EXTEND_TIMEOUT_USEC=1000")), at: 4), [])
    }

    func testMessagesForOtherChildrenAreIgnored() {
        var t = readyScript([daemon("plain"), notify("n")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.spawned(child: 1, pid: 101), at: 0)
        // Not a :notify: command, or not running, or no such child.
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 1), [])
        XCTAssertEqual(t.send(.notify(child: 7, message("READY=1")), at: 1), [])
        XCTAssertEqual(t.core.phase, .awaitingReady)
    }

    func testExitBeforeReadyFailsStartup() {
        var t = readyScript([daemon("db"), notify("app"), daemon("web")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.spawned(child: 1, pid: 101), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 1, status: 3), at: 5 * ms),
                       [.log(.exitedBeforeReady(child: 1, pid: 101, status: 3)), .cancelDeadline,
                        .signal(child: 0, signal: TERM, group: false), .armDeadline(5 * ms + 5 * s)])
        XCTAssertEqual(t.core.phase, .stopping)
        XCTAssertEqual(t.core.states[2], .pending)
        _ = t.send(.childExited(child: 0, status: 0), at: 6 * ms)
        _ = t.send(.orphansGone, at: 7 * ms)
        XCTAssertEqual(t.core.exitStatus, 3)
    }

    func testExitZeroBeforeReadyIsStillAFailure() {
        var t = readyScript([notify("forks-away")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.childExited(child: 0, status: 0), at: 1)
        XCTAssertEqual(t.core.phase, .orphans)
        XCTAssertEqual(t.send(.orphansGone, at: 2).last, .exit(1))
    }

    func testDashCommandExitingBeforeReady() {
        // `-`: its status does not count, but never being ready still ends
        // start-up, with status 1.
        var t = readyScript([notify("app", dash: true), daemon("web")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 7), at: 1).first,
                       .log(.exitedBeforeReady(child: 0, pid: 100, status: 7)))
        XCTAssertEqual(t.core.states[1], .pending)
        XCTAssertEqual(t.send(.orphansGone, at: 2).last, .exit(1))
    }

    func testDashCommandReadyThenExitingIsNoError() {
        var t = readyScript([notify("app", dash: true)])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.notify(child: 0, message("READY=1")), at: 1)
        _ = t.send(.childExited(child: 0, status: 7), at: 2)
        XCTAssertEqual(t.send(.orphansGone, at: 3).last, .exit(0))
    }

    func testReadyTimeoutStopsWithStatus1() {
        var t = readyScript([notify("slow")], ready: 2 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 0),
                       [.log(.started(child: 0, pid: 100)), .armDeadline(2 * s)])
        XCTAssertEqual(t.send(.deadline, at: 2 * s),
                       [.log(.notReady(child: 0, pid: 100)), .cancelDeadline,
                        .signal(child: 0, signal: TERM, group: false), .armDeadline(7 * s)])
        // The status it gets from being stopped does not count.
        _ = t.send(.childExited(child: 0, status: TERM), at: 3 * s)
        XCTAssertEqual(t.send(.orphansGone, at: 3 * s).last, .exit(1))
    }

    func testExtendTimeoutMovesTheDeadline() {
        var t = readyScript([notify("slow"), daemon("next")], ready: 2 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(t.send(.notify(child: 0, message("EXTEND_TIMEOUT_USEC=5000000")), at: 1 * s),
                       [.armDeadline(6 * s)])
        // It may also shorten it: now + n.
        XCTAssertEqual(t.send(.notify(child: 0, message("EXTEND_TIMEOUT_USEC=100000\nSTATUS=still")), at: 2 * s),
                       [.log(.notifyStatus(child: 0, pid: 100, status("still"))), .armDeadline(2 * s + 100 * ms)])
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 2 * s + 50 * ms),
                       [.log(.ready(child: 0, pid: 100)), .cancelDeadline, .spawn(child: 1)])
    }

    func testNoReadyTimeout() {
        var t = readyScript([notify("slow"), daemon("next")], ready: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 0), [.log(.started(child: 0, pid: 100))])
        XCTAssertEqual(t.core.phase, .awaitingReady)
        // Nothing to extend.
        XCTAssertEqual(t.send(.notify(child: 0, message("EXTEND_TIMEOUT_USEC=1")), at: 1), [])
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 1000 * s),
                       [.log(.ready(child: 0, pid: 100)), .spawn(child: 1)])
    }

    func testShutdownSignalWhileAwaitingReady() {
        var t = readyScript([notify("slow"), daemon("next")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertEqual(t.send(.signal(2), at: 1),
                       [.cancelDeadline, .signal(child: 0, signal: 2, group: false), .armDeadline(1 + 5 * s)])
        XCTAssertEqual(t.send(.notify(child: 0, message("READY=1")), at: 2), [.log(.readyIgnored(child: 0, pid: 100))])
        XCTAssertEqual(t.core.states[1], .pending)
        _ = t.send(.childExited(child: 0, status: 0), at: 3)
        XCTAssertEqual(t.send(.orphansGone, at: 4).last, .exit(0))
    }

    func testAnEarlierDaemonEndingWhileAwaitingReady() {
        var t = readyScript([daemon("a"), notify("b")], delay: 0)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        _ = t.send(.spawned(child: 1, pid: 101), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 1).first,
                       .log(.childFailed(child: 0, pid: 100, status: 0)))
        XCTAssertEqual(t.core.phase, .stopping)
    }

    func testParentIsToldReadyAndStopping() {
        var t = readyScript([daemon("a"), notify("b")], delay: 0, parent: true)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 100), at: 0),
                       [.log(.started(child: 0, pid: 100)), .spawn(child: 1)])
        // Not yet: b is not ready.
        XCTAssertFalse(t.send(.spawned(child: 1, pid: 101), at: 0).contains(.notifyParent(.ready)))
        XCTAssertEqual(t.send(.notify(child: 1, message("READY=1")), at: 1),
                       [.log(.ready(child: 1, pid: 101)), .cancelDeadline, .notifyParent(.ready)])
        XCTAssertEqual(t.send(.signal(TERM), at: 2).first, .notifyParent(.stopping))
    }

    func testParentIsToldStoppingWhenStartupFails() {
        var t = readyScript([notify("b")], parent: true)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        let actions = t.send(.childExited(child: 0, status: 1), at: 1)
        XCTAssertTrue(actions.contains(.notifyParent(.stopping)))
        XCTAssertFalse(actions.contains(.notifyParent(.ready)))
    }

    func testOnlyWaitCommandsTellReadyThenStopping() {
        var t = readyScript([SupervisedCommand(name: Array("true".utf8), isWait: true)], parent: true)
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        let actions = t.send(.childExited(child: 0, status: 0), at: 1)
        XCTAssertEqual(Array(actions.drop(while: { $0 != .notifyParent(.ready) }).prefix(2)),
                       [.notifyParent(.ready), .notifyParent(.stopping)])
    }

    func testWithoutParentNothingIsSent() {
        var t = readyScript([notify("b")])
        _ = t.send(.start(subreaper: false), at: 0)
        _ = t.send(.spawned(child: 0, pid: 100), at: 0)
        XCTAssertFalse(t.send(.notify(child: 0, message("READY=1")), at: 1).contains(.notifyParent(.ready)))
    }

    func testLogLines() {
        let core = Supervisor(commands: [notify("php-fpm8.2")], startupDelay: s, killTimeout: 5 * s, quiet: 0,
                              readyTimeout: 1500 * ms)
        func text(_ r: LogRecord) -> String {
            let line = LineWriter(capacity: 1024)
            core.format(r, into: line)
            return String(decoding: Array(line.bytes), as: UTF8.self)
        }
        XCTAssertEqual(text(.ready(child: 0, pid: 7)), "dinit: Child 7 'php-fpm8.2' is ready\n")
        XCTAssertEqual(text(.notifyStatus(child: 0, pid: 7, status("a\nb\u{1b}"))),
                       "dinit: Child 7 'php-fpm8.2' status: a\\nb\\x1b\n")
        let long = StatusText(Array(String(repeating: "x", count: 500).utf8))
        XCTAssertEqual(text(.notifyStatus(child: 0, pid: 7, long)),
                       "dinit: Child 7 'php-fpm8.2' status: " + String(repeating: "x", count: StatusText.capacity) + "...\n")
        XCTAssertEqual(text(.notReady(child: 0, pid: 7)),
                       "dinit: Child 7 'php-fpm8.2' did not send READY=1 in time (ready timeout 1.5 s)\n")
        XCTAssertEqual(text(.exitedBeforeReady(child: 0, pid: 7, status: 1)),
                       "dinit: Child 7 'php-fpm8.2' exited with status 1 before it was ready\n")
        XCTAssertEqual(text(.notifyStopping(child: 0, pid: 7)), "dinit: Child 7 'php-fpm8.2' is stopping\n")
        XCTAssertEqual(text(.notifyErrno(child: 0, pid: 7, errno: 2)), "dinit: Child 7 'php-fpm8.2' reports errno 2\n")
        XCTAssertEqual(LogRecord.notReady(child: 0, pid: 7).level, .error)
        XCTAssertEqual(LogRecord.exitedBeforeReady(child: 0, pid: 7, status: 1).level, .error)
        XCTAssertEqual(LogRecord.notifyStatus(child: 0, pid: 7, status("")).level, .info)
        XCTAssertEqual(LogRecord.readyIgnored(child: 0, pid: 7).level, .info)
    }

    func testQuietKeepsOnlyTheErrors() {
        var core = Supervisor(commands: [notify("a")], startupDelay: s, killTimeout: 5 * s, quiet: 1, readyTimeout: s)
        var actions = ActionList(capacity: core.maxActionsPerEvent)
        core.handle(.start(subreaper: false), now: 0, into: &actions)
        actions.removeAll()
        core.handle(.spawned(child: 0, pid: 9), now: 0, into: &actions)
        actions.removeAll()
        core.handle(.notify(child: 0, message("STATUS=x")), now: 1, into: &actions)
        XCTAssertEqual(actions.count, 0)
        core.handle(.deadline, now: s, into: &actions)
        XCTAssertEqual(actions[0], .log(.notReady(child: 0, pid: 9)))
    }
}

final class NotifyCronTests: XCTestCase {
    func testDcrondTellsReadyAndStopping() {
        var core = CronSchedule(commandline: Array("true".utf8), ignoresFailure: false, delay: s, interval: s,
                                killTimeout: s, quiet: 0, notifiesParent: true)
        var actions = ActionList(capacity: core.maxActionsPerEvent)
        core.handle(.start(subreaper: false), now: 0, into: &actions)
        XCTAssertEqual(actions[0], .notifyParent(.ready))
        actions.removeAll()
        core.handle(.signal(TERM), now: 1, into: &actions)
        XCTAssertEqual(actions[0], .notifyParent(.stopping))
        var quiet = CronSchedule(commandline: Array("true".utf8), ignoresFailure: false, delay: s, interval: s,
                                 killTimeout: s, quiet: 0)
        actions.removeAll()
        quiet.handle(.start(subreaper: false), now: 0, into: &actions)
        XCTAssertFalse((0..<actions.count).contains { actions[$0] == .notifyParent(.ready) })
    }
}
