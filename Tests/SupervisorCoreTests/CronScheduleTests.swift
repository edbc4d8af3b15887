import XCTest
import SupervisorCore

private func group(_ signal: Int32) -> Action {
    .signal(child: 0, signal: signal, group: true)
}

private func exiting(_ status: Int32) -> [Action] {
    [.cancelDeadline, .log(.exiting(status: status)), .exit(status)]
}

private func formatted(_ core: CronSchedule, _ record: LogRecord) -> String {
    let line = LineWriter()
    core.format(record, into: line)
    return text(line)
}

final class CronScheduleTests: XCTestCase {

    // MARK: Delay and first run

    func testZeroDelayRunsAtOnce() {
        var t = CronScript(delay: 0)
        XCTAssertEqual(t.core.state, .idle)
        XCTAssertEqual(t.send(.start(subreaper: false), at: 7 * s), [.spawn(child: 0)])
        XCTAssertEqual(t.core.state, .running)
        XCTAssertEqual(t.core.runs, 1)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 42), at: 7 * s), [.log(.started(child: 0, pid: 42))])
    }

    func testDelayArmsDeadlineBeforeFirstRun() {
        var t = CronScript(delay: 3 * s + 500 * ms, interval: 10 * s)
        XCTAssertEqual(t.send(.start(subreaper: false), at: 100), [.armDeadline(100 + 3 * s + 500 * ms)])
        XCTAssertEqual(t.core.state, .waiting)
        XCTAssertEqual(t.core.runs, 0, "nothing runs before the delay has passed")
        XCTAssertEqual(t.send(.deadline, at: 100 + 3 * s + 500 * ms), [.spawn(child: 0)])
        XCTAssertEqual(t.core.state, .running)
        XCTAssertEqual(t.core.runs, 1)
    }

    func testSecondStartIsIgnored() {
        var t = CronScript()
        t.running(pid: 5)
        XCTAssertEqual(t.send(.start(subreaper: true), at: 1), [])
        XCTAssertEqual(t.core.runs, 1)
    }

    // MARK: Interval from the end of a run

    func testIntervalCountsFromEndOfRun() {
        var t = CronScript(interval: 10 * s)
        t.running(pid: 100, at: 0)
        // The run takes 4 s: the next one starts 10 s after it ended, at 14 s.
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 4 * s),
                       [.log(.childExited(child: 0, pid: 100, status: 0)), .armDeadline(14 * s)])
        XCTAssertEqual(t.core.state, .waiting)
        XCTAssertEqual(t.send(.deadline, at: 14 * s), [.spawn(child: 0)])
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 101), at: 14 * s), [.log(.started(child: 0, pid: 101))])
        // A longer run: 30 s, so the next starts at 44 + 10 = 54 s.
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 44 * s),
                       [.log(.childExited(child: 0, pid: 101, status: 0)), .armDeadline(54 * s)])
        XCTAssertEqual(t.send(.deadline, at: 54 * s), [.spawn(child: 0)])
        XCTAssertEqual(t.core.runs, 3)
    }

    func testRunsNeverOverlap() {
        var t = CronScript(interval: 1 * s)
        t.running(pid: 100)
        // A deadline while a run is in progress (a stale timer) starts nothing.
        XCTAssertEqual(t.send(.deadline, at: 5 * s), [])
        XCTAssertEqual(t.core.state, .running)
        XCTAssertEqual(t.core.runs, 1)
    }

    func testChildLogUsesPidOfCurrentRun() {
        var t = CronScript(interval: 1 * s)
        t.running(pid: 100)
        _ = t.send(.childExited(child: 0, status: 0), at: 1)
        _ = t.send(.deadline, at: 1 + s)
        _ = t.send(.spawned(child: 0, pid: 200), at: 1 + s)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 2 * s),
                       [.log(.childExited(child: 0, pid: 200, status: 0)), .armDeadline(3 * s)])
    }

    // MARK: Failure

    func testFailureExitsWithRunStatus() {
        var t = CronScript(interval: 1 * s)
        t.running(pid: 100)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 3), at: 2 * s),
                       [.log(.childFailed(child: 0, pid: 100, status: 3))] + exiting(3))
        XCTAssertEqual(t.core.state, .done)
        // Nothing happens after exit.
        XCTAssertEqual(t.send(.deadline, at: 3 * s), [])
        XCTAssertEqual(t.send(.signal(TERM), at: 3 * s), [])
    }

    func testFailureAfterSuccessfulRuns() {
        var t = CronScript(interval: 1 * s)
        t.running(pid: 100)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 1 * s),
                       [.log(.childExited(child: 0, pid: 100, status: 0)), .armDeadline(2 * s)])
        _ = t.send(.deadline, at: 2 * s)
        _ = t.send(.spawned(child: 0, pid: 101), at: 2 * s)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 255), at: 3 * s),
                       [.log(.childFailed(child: 0, pid: 101, status: 255))] + exiting(255))
    }

    func testKilledBySignalExitsWithSignalNumber() {
        var t = CronScript()
        t.running(pid: 100)
        XCTAssertEqual(t.send(.childExited(child: 0, status: KILL), at: 1),
                       [.log(.childFailed(child: 0, pid: 100, status: KILL))] + exiting(KILL))
    }

    func testDashIgnoresFailureAndGoesOn() {
        var t = CronScript("false", dash: true, interval: 2 * s)
        t.running(pid: 100)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 1), at: 1 * s),
                       [.log(.childFailed(child: 0, pid: 100, status: 1)), .armDeadline(3 * s)])
        XCTAssertEqual(t.core.state, .waiting)
        XCTAssertEqual(t.send(.deadline, at: 3 * s), [.spawn(child: 0)])
        _ = t.send(.spawned(child: 0, pid: 101), at: 3 * s)
        // Killed by a signal: also only logged.
        XCTAssertEqual(t.send(.childExited(child: 0, status: TERM), at: 4 * s),
                       [.log(.childFailed(child: 0, pid: 101, status: TERM)), .armDeadline(6 * s)])
        XCTAssertEqual(t.core.runs, 2)
    }

    // MARK: Spawn failure

    func testSpawnFailedNotFoundExits127() {
        var t = CronScript()
        XCTAssertEqual(t.send(.start(subreaper: false), at: 0), [.spawn(child: 0)])
        XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: 2), at: 0),
                       [.log(.execFailed(child: 0, errno: 2))] + exiting(127))
        XCTAssertEqual(t.core.state, .done)
    }

    func testSpawnFailedOtherErrnoExits126() {
        for errno: Int32 in [13, 8, 11] {
            var t = CronScript()
            _ = t.send(.start(subreaper: false), at: 0)
            XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: errno), at: 0),
                           [.log(.execFailed(child: 0, errno: errno))] + exiting(126), "errno \(errno)")
        }
    }

    func testSpawnFailedWithDashGoesOn() {
        // Like dinit, an exec failure counts as a run ending with 127: with a
        // leading `-` that is only logged.
        var t = CronScript(dash: true, interval: 5 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: 2), at: 1 * s),
                       [.log(.execFailed(child: 0, errno: 2)), .armDeadline(6 * s)])
        XCTAssertEqual(t.core.state, .waiting)
    }

    // MARK: Shutdown signals

    func testShutdownSignalBetweenRunsExitsZeroAtOnce() {
        for signo in [TERM, INT, QUIT] {
            var t = CronScript(interval: 10 * s)
            t.running(pid: 100)
            _ = t.send(.childExited(child: 0, status: 0), at: 1 * s)
            XCTAssertEqual(t.send(.signal(signo), at: 2 * s), exiting(0), "signal \(signo)")
            XCTAssertEqual(t.core.state, .done)
        }
    }

    func testShutdownSignalDuringDelayExitsZero() {
        var t = CronScript(delay: 60 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.signal(TERM), at: 1 * s), exiting(0))
        XCTAssertEqual(t.send(.deadline, at: 60 * s), [], "no run after exit")
        XCTAssertEqual(t.core.runs, 0)
    }

    func testShutdownSignalDuringRunStopsGroupThenExitsZero() {
        for signo in [TERM, INT, QUIT] {
            var t = CronScript(interval: 10 * s, kill: 5 * s)
            t.running(pid: 100)
            XCTAssertEqual(t.send(.signal(signo), at: 2 * s), [group(signo), .armDeadline(7 * s)], "signal \(signo)")
            XCTAssertEqual(t.core.state, .stopping)
            // The run ends (killed by that signal): a clean stop, status 0.
            XCTAssertEqual(t.send(.childExited(child: 0, status: signo), at: 3 * s),
                           [.log(.childExited(child: 0, pid: 100, status: signo))] + exiting(0))
            XCTAssertEqual(t.core.state, .done)
        }
    }

    func testRunExitingNonzeroWhileStoppingStillExitsZero() {
        var t = CronScript()
        t.running(pid: 100)
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 1), at: 1),
                       [.log(.childExited(child: 0, pid: 100, status: 1))] + exiting(0))
    }

    func testStopTimeoutSendsSIGKILLToGroup() {
        var t = CronScript(kill: 500 * ms)
        t.running(pid: 100)
        XCTAssertEqual(t.send(.signal(TERM), at: 1 * s), [group(TERM), .armDeadline(1 * s + 500 * ms)])
        XCTAssertEqual(t.send(.deadline, at: 1 * s + 500 * ms),
                       [.log(.killing(child: 0, pid: 100)), group(KILL), .armDeadline(2 * s + 500 * ms)],
                       "after SIGKILL the wait is at least KillGrace.minimum (1 s), not the 0.5 s kill timeout")
        XCTAssertEqual(t.send(.childExited(child: 0, status: KILL), at: 1 * s + 600 * ms),
                       [.log(.childExited(child: 0, pid: 100, status: KILL))] + exiting(0))
    }

    func testRunSurvivingSIGKILLIsAbandoned() {
        var t = CronScript(kill: 1 * s)
        t.running(pid: 100)
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.deadline, at: 1 * s), [.log(.killing(child: 0, pid: 100)), group(KILL), .armDeadline(2 * s)])
        XCTAssertEqual(t.send(.deadline, at: 2 * s), [.log(.abandoned(child: 0, pid: 100))] + exiting(0))
        XCTAssertEqual(t.core.state, .done)
    }

    func testSecondShutdownSignalKillsAtOnce() {
        var t = CronScript(kill: 5 * s)
        t.running(pid: 100)
        XCTAssertEqual(t.send(.signal(TERM), at: 0), [group(TERM), .armDeadline(5 * s)])
        XCTAssertEqual(t.send(.signal(INT), at: 1 * s),
                       [.log(.killing(child: 0, pid: 100)), group(KILL), .armDeadline(6 * s)])
        // A third request adds nothing; nor does the deadline after SIGKILL
        // escalate twice.
        XCTAssertEqual(t.send(.signal(TERM), at: 2 * s), [])
        XCTAssertEqual(t.send(.childExited(child: 0, status: KILL), at: 2 * s),
                       [.log(.childExited(child: 0, pid: 100, status: KILL))] + exiting(0))
    }

    func testTimeoutAfterSecondSignalAbandons() {
        var t = CronScript(kill: 5 * s)
        t.running(pid: 100)
        _ = t.send(.signal(TERM), at: 0)
        _ = t.send(.signal(TERM), at: 1 * s)
        XCTAssertEqual(t.send(.deadline, at: 6 * s), [.log(.abandoned(child: 0, pid: 100))] + exiting(0))
    }

    // MARK: Other signals

    func testOtherSignalsForwardedToGroupWhileRunning() {
        var t = CronScript()
        t.running(pid: 100)
        for signo in [HUP, USR1, USR2, Int32(28), Int32(34)] {
            XCTAssertEqual(t.send(.signal(signo), at: 1), [group(signo)], "signal \(signo)")
        }
        XCTAssertEqual(t.core.state, .running, "other signals do not stop the run")
    }

    func testOtherSignalsIgnoredBetweenRuns() {
        var t = CronScript(delay: 10 * s, interval: 10 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.signal(HUP), at: 1), [], "during the delay: nothing to forward to")
        XCTAssertEqual(t.send(.signal(USR1), at: 1), [])
        XCTAssertEqual(t.core.state, .waiting)
        _ = t.send(.deadline, at: 10 * s)
        _ = t.send(.spawned(child: 0, pid: 7), at: 10 * s)
        _ = t.send(.childExited(child: 0, status: 0), at: 11 * s)
        XCTAssertEqual(t.send(.signal(HUP), at: 12 * s), [], "between runs")
        XCTAssertEqual(t.core.state, .waiting)
        XCTAssertEqual(t.send(.deadline, at: 21 * s), [.spawn(child: 0)], "the schedule goes on")
    }

    func testOtherSignalsForwardedWhileStopping() {
        var t = CronScript()
        t.running(pid: 100)
        _ = t.send(.signal(TERM), at: 0)
        XCTAssertEqual(t.send(.signal(HUP), at: 1), [group(HUP)])
        XCTAssertEqual(t.core.state, .stopping)
    }

    func testStrayEventsIgnored() {
        var t = CronScript(delay: 5 * s)
        _ = t.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(t.send(.childExited(child: 0, status: 1), at: 1), [], "no run in progress")
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 3), at: 1), [])
        XCTAssertEqual(t.send(.spawnFailed(child: 0, errno: 2), at: 1), [])
        XCTAssertEqual(t.send(.orphansGone, at: 1), [])
        XCTAssertEqual(t.core.state, .waiting)
    }

    // MARK: Quiet

    func testQuiet1KeepsOnlyErrors() {
        var t = CronScript(interval: 1 * s, kill: 1 * s, quiet: 1)
        t.running(pid: 100)  // Started suppressed (checked in running())
        XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 1 * s), [.armDeadline(2 * s)],
                       "successful run suppressed")
        _ = t.send(.deadline, at: 2 * s)
        XCTAssertEqual(t.send(.spawned(child: 0, pid: 101), at: 2 * s), [])
        XCTAssertEqual(t.send(.signal(TERM), at: 3 * s), [group(TERM), .armDeadline(4 * s)])
        XCTAssertEqual(t.send(.deadline, at: 4 * s), [.log(.killing(child: 0, pid: 101)), group(KILL), .armDeadline(5 * s)],
                       "SIGKILL escalation kept")
        XCTAssertEqual(t.send(.childExited(child: 0, status: KILL), at: 4 * s),
                       [.cancelDeadline, .exit(0)],
                       "a run we stopped is no error: its exit line and the Exiting line are suppressed")

        var f = CronScript(quiet: 1)
        f.running(pid: 100)
        XCTAssertEqual(f.send(.childExited(child: 0, status: 4), at: 1),
                       [.log(.childFailed(child: 0, pid: 100, status: 4)), .cancelDeadline, .exit(4)],
                       "failed run kept")

        var e = CronScript(quiet: 1)
        _ = e.send(.start(subreaper: false), at: 0)
        XCTAssertEqual(e.send(.spawnFailed(child: 0, errno: 2), at: 0),
                       [.log(.execFailed(child: 0, errno: 2)), .cancelDeadline, .exit(127)], "exec failure kept")
    }

    func testQuiet2And3LogNothing() {
        for quiet in [2, 3] {
            var t = CronScript(interval: 1 * s, kill: 1 * s, quiet: quiet)
            t.running(pid: 100)
            XCTAssertEqual(t.send(.childExited(child: 0, status: 0), at: 1 * s), [.armDeadline(2 * s)])
            _ = t.send(.deadline, at: 2 * s)
            _ = t.send(.spawned(child: 0, pid: 101), at: 2 * s)
            _ = t.send(.signal(TERM), at: 2 * s)
            XCTAssertEqual(t.send(.deadline, at: 3 * s), [group(KILL), .armDeadline(4 * s)])
            XCTAssertEqual(t.send(.deadline, at: 4 * s), [.cancelDeadline, .exit(0)])

            var f = CronScript(quiet: quiet)
            f.running(pid: 100)
            XCTAssertEqual(f.send(.childExited(child: 0, status: 4), at: 1), [.cancelDeadline, .exit(4)])
            var e = CronScript(quiet: quiet)
            _ = e.send(.start(subreaper: false), at: 0)
            XCTAssertEqual(e.send(.spawnFailed(child: 0, errno: 13), at: 0), [.cancelDeadline, .exit(126)])
        }
    }

    // MARK: Log lines

    func testLogLineFormats() {
        let core = CronSchedule(commandline: Array("php -f 'cleanup.php'".utf8), ignoresFailure: false,
                                delay: 0, interval: 60 * s, killTimeout: 500 * ms, quiet: 0)
        XCTAssertEqual(formatted(core, .started(child: 0, pid: 4242)), "dcrond: Started 4242 'php -f 'cleanup.php''\n")
        XCTAssertEqual(formatted(core, .childExited(child: 0, pid: 4242, status: 0)),
                       "dcrond: Child 4242 exited with status 0\n")
        XCTAssertEqual(formatted(core, .childExited(child: 0, pid: 7, status: 137)),
                       "dcrond: Child 7 exited with status 137\n")
        XCTAssertEqual(formatted(core, .exiting(status: 3)), "dcrond: Exiting, status 3\n")
        XCTAssertEqual(formatted(core, .execFailed(child: 0, errno: 2)),
                       "dcrond: Cannot execute /bin/sh: No such file or directory\n")
        XCTAssertEqual(formatted(core, .execFailed(child: 0, errno: 13)),
                       "dcrond: Cannot execute /bin/sh: Permission denied\n")
        XCTAssertEqual(formatted(core, .killing(child: 0, pid: 9)),
                       "dcrond: Child 9 still running after 0.5 s, sending SIGKILL to its process group\n")
        XCTAssertEqual(formatted(core, .abandoned(child: 0, pid: 9)),
                       "dcrond: Child 9 did not exit after SIGKILL, giving up on it\n")
    }

    func testStartedLineShowsCommandlineWithoutDash() {
        // The parser strips the leading `-`; the core logs what it was given.
        let core = CronSchedule(commandline: Array("false".utf8), ignoresFailure: true,
                                delay: 0, interval: s, killTimeout: s, quiet: 0)
        XCTAssertEqual(formatted(core, .started(child: 0, pid: 1)), "dcrond: Started 1 'false'\n")
    }

    func testOneChildSlot() {
        let t = CronScript()
        XCTAssertEqual(t.core.childSlots, 1)
    }
}
