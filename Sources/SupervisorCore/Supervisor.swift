/// A core the reactor can drive: it turns events into actions and formats the
/// log records it emitted. Implementations are pure (no syscalls, no clock).
public protocol SupervisorCore {
    /// How many children the reactor must keep slots for.
    var childSlots: Int { get }
    /// The most actions one event can produce (sizes the action buffer).
    var maxActionsPerEvent: Int { get }
    mutating func handle(_ event: Event, now: Nanoseconds, into actions: inout ActionList)
    /// Writes a record as one line: "<identifier>: <message>\n".
    func format(_ record: LogRecord, into line: LineWriter)
    /// The program name in log lines and the journal's SYSLOG_IDENTIFIER.
    var identifier: StaticString { get }
    /// What child `child` runs, as log lines name it.
    func programName(_ child: Int) -> [UInt8]
    /// Whether `signo`, sent to `child`, asks it to stop (a stopped child is
    /// then continued so that it can act on it).
    func isStopSignal(_ signo: Int32, child: Int) -> Bool
}

extension SupervisorCore {
    public func isStopSignal(_ signo: Int32, child: Int) -> Bool { SignalNumber.isShutdown(signo) }
}

/// One command as the supervisor sees it.
public struct SupervisedCommand: Equatable {
    public var name: [UInt8]
    public var isWait: Bool
    public var ignoresFailure: Bool
    /// `:notify:`: the next command starts when this one sends READY=1.
    public var isNotify: Bool
    /// `:stop=SIGNAL:`: sent instead of the shutdown signal when this
    /// command is stopped.
    public var stopSignal: Int32?

    public init(name: [UInt8], isWait: Bool = false, ignoresFailure: Bool = false, isNotify: Bool = false,
                stopSignal: Int32? = nil) {
        self.name = name
        self.isWait = isWait
        self.ignoresFailure = ignoresFailure
        self.isNotify = isNotify
        self.stopSignal = stopSignal
    }
}

/// dinit's supervisor: starts the commands in order, stops them in reverse
/// order, escalates to SIGKILL, and decides the exit status.
///
/// State per child: pending -> running -> exited (or abandoned when even
/// SIGKILL did not end it, or when the stop budget ran out). Phases of the
/// run:
///
///   idle --start--> starting ------all started------> running
///                     |     ^                              |
///       :notify: spawned    READY=1                        |
///                     v     |                              |
///                  awaitingReady                           |
///                     |                                    |
///   exit before READY=1, ready timeout,                    |
///   shutdown          |         starting --shutdown--.     | shutdown
///                     v                              v     v
///                  stopping <------------------------------'
///                     |      \
///                     v       \  stop budget spent (-t): SIGKILL all, exit
///                  orphans --> done  (from stopping or from orphans)
///
/// A `:notify:` command is started like a daemon, then start-up waits in
/// `awaitingReady` for its READY=1 instead of the startup delay; the one
/// deadline is then the ready timeout (EXTEND_TIMEOUT_USEC re-arms it).
///
/// The stop budget (`-t`) is a clock that starts with the first stop signal
/// (entering stopping, or orphans when only `:wait:` commands ran) and runs
/// over both phases: every deadline armed there is the earlier of the step's
/// own and the budget's end (`arm`), and the deadline that is the budget's
/// end SIGKILLs every remaining child and descendant at once and exits
/// (`budgetSpent`), without waiting for them.
///
/// Shutdown starts on SIGTERM/SIGINT/SIGQUIT (that signal is forwarded), or
/// with SIGTERM when a daemon exits on its own, a `:wait:` command fails, a
/// `:notify:` command ends or times out before READY=1, or a program cannot
/// be run. A command's `:stop=SIGNAL:` replaces either. With `notifiesParent`
/// the core tells its own service manager READY=1 once every command is
/// started (and every `:notify:` one ready), and STOPPING=1 when the run
/// begins to end.
///
/// Shutdown signals received while stopping:
///
///   stopping, no request yet --signal--> stopping, requested --signal--> kill all
///
/// A shutdown started by a signal is "requested" from the start, so the
/// next signal kills every child at once; in a shutdown dinit started itself
/// (a daemon exited, a `:wait:` failed) the first signal received (`docker
/// stop`) only counts as the request, and the one-at-a-time stop goes on.
/// In orphans, every descendant has had SIGTERM already, and any shutdown
/// signal sends SIGKILL to them.
public struct Supervisor: SupervisorCore {
    public enum Phase: Equatable {
        case idle, starting, awaitingReady, running, stopping, orphans, done
    }

    public enum ChildState: Equatable {
        case pending, running, exited, abandoned
    }

    public let commands: [SupervisedCommand]
    public let startupDelay: Nanoseconds
    public let killTimeout: Nanoseconds
    public let quiet: Int
    /// `-g`: every signal goes to the child's process group.
    public let signalGroups: Bool
    /// `-r`: how long a `:notify:` command may take to send READY=1 (0: no
    /// limit).
    public let readyTimeout: Nanoseconds
    /// dinit has a service manager of its own (`NOTIFY_SOCKET` was set).
    public let notifiesParent: Bool
    /// `-e`: child statuses that count as 0 for the exit status.
    public let successStatuses: ExitStatusSet
    /// `-t`: the whole shutdown fits in this; nil: no budget.
    public let stopBudget: Nanoseconds?

    public private(set) var phase: Phase = .idle
    public private(set) var states: [ChildState]
    public private(set) var pids: [Int32]
    /// Index of the command started last.
    var current = -1
    /// Whether startup is waiting for the current daemon's startup delay.
    var awaitingDelay = false
    /// Set once an event has started shutdown.
    var shutdownSignal: Int32 = SignalNumber.term
    /// The child being stopped now, and whether it was sent SIGKILL yet.
    var stopTarget = -1
    var stopTargetKilled = false
    /// The `:notify:` child that timed out: the status it gets from being
    /// stopped does not count.
    var neverReady = -1
    /// A shutdown signal has been received (the next one, during shutdown,
    /// kills everything).
    var shutdownRequested = false
    /// No child above this index runs: stopNext resumes its downward scan
    /// here, so a whole stop in reverse order scans the table once.
    var stopCursor = Int.max
    /// How many children are in state .running (anyRunning in O(1)).
    var runningCount = 0
    /// A second shutdown signal SIGKILLed everything.
    var killedAll = false
    var orphansKilled = false
    /// When the stop budget runs out (set when the shutdown starts).
    var budgetEnd: Nanoseconds? = nil
    /// The first nonzero status among children without `-`, other than the
    /// statuses of `-e`.
    public private(set) var firstFailure: Int32 = 0
    /// The run ended because a daemon without `-` exited on its own or
    /// startup failed.
    public private(set) var endedByFailure = false

    public init(commands: [SupervisedCommand], startupDelay: Nanoseconds, killTimeout: Nanoseconds, quiet: Int,
                signalGroups: Bool = false, readyTimeout: Nanoseconds = 90_000_000_000,
                notifiesParent: Bool = false, successStatuses: ExitStatusSet = ExitStatusSet(),
                stopBudget: Nanoseconds? = nil) {
        self.commands = commands
        self.signalGroups = signalGroups
        self.readyTimeout = readyTimeout
        self.notifiesParent = notifiesParent
        self.successStatuses = successStatuses
        self.stopBudget = stopBudget
        self.startupDelay = startupDelay
        self.killTimeout = killTimeout
        self.quiet = quiet
        states = Array(repeating: .pending, count: commands.count)
        pids = Array(repeating: 0, count: commands.count)
    }

    public var childSlots: Int { commands.count }
    public var identifier: StaticString { "dinit" }
    public func programName(_ child: Int) -> [UInt8] { commands[child].name }

    /// TERM, INT, QUIT, or the command's own `:stop=` signal.
    public func isStopSignal(_ signo: Int32, child: Int) -> Bool {
        SignalNumber.isShutdown(signo) || signo == commands[child].stopSignal
    }

    /// How long to wait for a process to die after SIGKILL before giving up
    /// on it: the kill timeout, but at least a second, so that `-k 0` does not
    /// give up on a child that is merely still being torn down.
    public var killGrace: Nanoseconds { KillGrace.after(killTimeout) }

    /// A second shutdown signal kills every child at once: a log line and a
    /// signal each, plus a few fixed actions.
    public var maxActionsPerEvent: Int { 3 * commands.count + 16 }

    /// The exit status the run ends with (see the README's table).
    public var exitStatus: Int32 {
        if firstFailure != 0 { return firstFailure }
        return endedByFailure ? 1 : 0
    }

    // MARK: Events

    public mutating func handle(_ event: Event, now: Nanoseconds, into actions: inout ActionList) {
        switch event {
        case .start(let subreaper):
            guard phase == .idle else { return }
            if subreaper { log(.subreaper, &actions) }
            phase = .starting
            startNext(now, &actions)
        case .spawned(let child, let pid):
            guard states.indices.contains(child), states[child] == .pending else { return }
            states[child] = .running
            runningCount += 1
            if child > stopCursor { stopCursor = child }
            pids[child] = pid
            log(.started(child: child, pid: pid), &actions)
            guard phase == .starting, child == current, !commands[child].isWait else { return }
            if commands[child].isNotify {
                phase = .awaitingReady
                if readyTimeout > 0 { actions.append(.armDeadline(now + readyTimeout)) }
            } else if startupDelay > 0 {
                awaitingDelay = true
                actions.append(.armDeadline(now + startupDelay))
            } else {
                startNext(now, &actions)
            }
        case .spawnFailed(let child, let errno):
            guard states.indices.contains(child), states[child] == .pending else { return }
            log(.execFailed(child: child, errno: errno), &actions)
            states[child] = .running
            runningCount += 1
            ended(child, status: errno == ErrnoValue.enoent ? 127 : 126, reported: false, now, &actions)
        case .childExited(let child, let status):
            guard states.indices.contains(child), states[child] == .running else { return }
            ended(child, status: status, reported: true, now, &actions)
        case .signal(let signo):
            received(signo, now, &actions)
        case .deadline:
            deadlinePassed(now, &actions)
        case .orphansGone:
            if phase == .orphans { finish(&actions) }
        case .notify(let child, let message):
            guard states.indices.contains(child), states[child] == .running, commands[child].isNotify else { return }
            notified(child, message, now, &actions)
        }
    }

    /// An sd_notify message from a `:notify:` child. Only the child start-up
    /// waits for can end the wait or extend its deadline; its STATUS= is
    /// logged until then (php-fpm repeats one every 10 s afterwards).
    mutating func notified(_ child: Int, _ message: NotifyMessage, _ now: Nanoseconds, _ actions: inout ActionList) {
        let pid = pids[child]
        let awaited = phase == .awaitingReady && child == current
        if awaited, let text = message.status { log(.notifyStatus(child: child, pid: pid, text), &actions) }
        if message.stopping { log(.notifyStopping(child: child, pid: pid), &actions) }
        if message.reloading { log(.notifyReloading(child: child, pid: pid), &actions) }
        if let e = message.errno { log(.notifyErrno(child: child, pid: pid, errno: e), &actions) }
        if message.ready {
            if awaited {
                log(.ready(child: child, pid: pid), &actions)
                phase = .starting
                if readyTimeout > 0 { actions.append(.cancelDeadline) }
                startNext(now, &actions)
            } else {
                log(.readyIgnored(child: child, pid: pid), &actions)
            }
        } else if awaited, readyTimeout > 0, let extra = message.extendTimeout {
            actions.append(.armDeadline(now + extra))
        }
    }

    mutating func ended(_ child: Int, status: Int32, reported: Bool, _ now: Nanoseconds, _ actions: inout ActionList) {
        states[child] = .exited
        runningCount -= 1
        let command = commands[child]
        count(status, of: child)
        let pid = pids[child]
        switch phase {
        case .starting where child == current && command.isWait:
            let ok = status == 0 || command.ignoresFailure
            if reported {
                log(ok ? .childExited(child: child, pid: pid, status: status)
                       : .childFailed(child: child, pid: pid, status: status), &actions)
            }
            if ok {
                startNext(now, &actions)
            } else {
                endedByFailure = true
                beginShutdown(SignalNumber.term, now, &actions)
            }
        case .awaitingReady where child == current:
            // Never ready: start-up failed, whatever the status or `-` says.
            if reported { log(.exitedBeforeReady(child: child, pid: pid, status: status), &actions) }
            endedByFailure = true
            beginShutdown(SignalNumber.term, now, &actions)
        case .starting, .awaitingReady, .running:
            // A daemon ended on its own: that ends the run.
            if reported { log(.childFailed(child: child, pid: pid, status: status), &actions) }
            if !command.ignoresFailure { endedByFailure = true }
            beginShutdown(SignalNumber.term, now, &actions)
        case .stopping:
            if killedAll {
                // Everything was SIGKILLed at once: no one-at-a-time stop goes
                // on (stopNext would resend the first signal and move the
                // give-up deadline); just wait for the last one.
                log(.stopped(child: child, pid: pid, status: status), &actions)
                if !anyRunning { collectOrphans(now, &actions) }
            } else if child == stopTarget {
                log(.stopped(child: child, pid: pid, status: status), &actions)
                stopNext(now, &actions)
            } else {
                log(.childExited(child: child, pid: pid, status: status), &actions)
            }
        case .idle, .orphans, .done:
            break
        }
    }

    mutating func received(_ signo: Int32, _ now: Nanoseconds, _ actions: inout ActionList) {
        if SignalNumber.isShutdown(signo) {
            let first = !shutdownRequested
            shutdownRequested = true
            switch phase {
            case .idle, .starting, .awaitingReady, .running:
                beginShutdown(signo, now, &actions)
            case .stopping where first:
                // The first request during a shutdown we started ourselves
                // (a daemon exited): it is already under way, in order.
                break
            case .stopping where !killedAll:
                // A second request: stop waiting, kill everything now.
                killedAll = true
                log(.killingAll, &actions)
                for i in states.indices where states[i] == .running {
                    actions.append(.signal(child: i, signal: SignalNumber.kill, group: signalGroups))
                }
                arm(now + killGrace, &actions)
            case .orphans where !orphansKilled:
                orphansKilled = true
                log(.killingDescendants, &actions)
                actions.append(.collectOrphans(signal: SignalNumber.kill))
                arm(now + killGrace, &actions)
            default:
                break
            }
            return
        }
        // Anything else is passed on to every running child.
        for i in states.indices where states[i] == .running {
            actions.append(.signal(child: i, signal: signo, group: signalGroups))
        }
    }

    mutating func deadlinePassed(_ now: Nanoseconds, _ actions: inout ActionList) {
        if let end = budgetEnd, now >= end, phase == .stopping || phase == .orphans {
            budgetSpent(&actions)
            return
        }
        switch phase {
        case .starting where awaitingDelay:
            awaitingDelay = false
            startNext(now, &actions)
        case .awaitingReady:
            log(.notReady(child: current, pid: pids[current]), &actions)
            neverReady = current
            endedByFailure = true
            beginShutdown(SignalNumber.term, now, &actions)
        case .stopping where killedAll:
            // Even SIGKILL did not end them (uninterruptible sleep): give up.
            for i in states.indices where states[i] == .running {
                states[i] = .abandoned
                runningCount -= 1
                log(.abandoned(child: i, pid: pids[i]), &actions)
            }
            collectOrphans(now, &actions)
        case .stopping where stopTarget >= 0:
            if !stopTargetKilled {
                stopTargetKilled = true
                log(.killing(child: stopTarget, pid: pids[stopTarget]), &actions)
                actions.append(.signal(child: stopTarget, signal: SignalNumber.kill, group: signalGroups))
                arm(now + killGrace, &actions)
            } else {
                states[stopTarget] = .abandoned
                runningCount -= 1
                log(.abandoned(child: stopTarget, pid: pids[stopTarget]), &actions)
                stopNext(now, &actions)
            }
        case .orphans:
            if !orphansKilled {
                orphansKilled = true
                log(.killingDescendants, &actions)
                actions.append(.collectOrphans(signal: SignalNumber.kill))
                arm(now + killGrace, &actions)
            } else {
                log(.descendantsRemain, &actions)
                finish(&actions)
            }
        default:
            break
        }
    }

    // MARK: Transitions

    var anyRunning: Bool { runningCount > 0 }

    mutating func startNext(_ now: Nanoseconds, _ actions: inout ActionList) {
        let next = current + 1
        if next < commands.count {
            current = next
            actions.append(.spawn(child: next))
            return
        }
        // Everything started. A run made only of :wait: commands is over.
        phase = .running
        if notifiesParent { actions.append(.notifyParent(.ready)) }
        if !anyRunning {
            if notifiesParent { actions.append(.notifyParent(.stopping)) }
            collectOrphans(now, &actions)
        }
    }

    mutating func beginShutdown(_ signo: Int32, _ now: Nanoseconds, _ actions: inout ActionList) {
        phase = .stopping
        startBudget(now)
        if notifiesParent { actions.append(.notifyParent(.stopping)) }
        shutdownSignal = signo
        awaitingDelay = false
        actions.append(.cancelDeadline)
        stopNext(now, &actions)
    }

    /// Stops the most recently started child that still runs: one at a time,
    /// in reverse start order.
    mutating func stopNext(_ now: Nanoseconds, _ actions: inout ActionList) {
        var i = min(stopCursor, states.count - 1)
        while i >= 0, states[i] != .running { i -= 1 }
        stopCursor = i
        guard i >= 0 else {
            stopTarget = -1
            collectOrphans(now, &actions)
            return
        }
        stopTarget = i
        stopTargetKilled = false
        actions.append(.signal(child: i, signal: commands[i].stopSignal ?? shutdownSignal, group: signalGroups))
        arm(now + killTimeout, &actions)
    }

    /// Every child of ours is gone: terminate what was adopted, then exit.
    mutating func collectOrphans(_ now: Nanoseconds, _ actions: inout ActionList) {
        phase = .orphans
        stopTarget = -1
        startBudget(now)
        actions.append(.collectOrphans(signal: SignalNumber.term))
        arm(now + killTimeout, &actions)
    }

    /// The first stop signal starts the stop budget's clock.
    mutating func startBudget(_ now: Nanoseconds) {
        if budgetEnd == nil, let budget = stopBudget { budgetEnd = now + budget }
    }

    /// Arms the one deadline for a step of the shutdown, cut to the end of
    /// the stop budget.
    func arm(_ step: Nanoseconds, _ actions: inout ActionList) {
        actions.append(.armDeadline(budgetEnd.map { min($0, step) } ?? step))
    }

    /// The stop budget is spent: SIGKILL every child still running and
    /// every descendant, and exit now. The children are not waited for: each
    /// counts as killed by SIGKILL (status 9) and is given up on.
    mutating func budgetSpent(_ actions: inout ActionList) {
        log(.budgetSpent, &actions)
        for i in states.indices where states[i] == .running {
            log(.budgetKilled(child: i, pid: pids[i]), &actions)
            actions.append(.signal(child: i, signal: SignalNumber.kill, group: signalGroups))
            states[i] = .abandoned
            runningCount -= 1
            count(SignalNumber.kill, of: i)
        }
        actions.append(.collectOrphans(signal: SignalNumber.kill))
        finish(&actions)
    }

    /// Records a child's status for the exit status: the first nonzero one
    /// among children without `-`, other than those of `-e` and that of a
    /// `:notify:` child stopped for never becoming ready.
    mutating func count(_ status: Int32, of child: Int) {
        if status != 0, !commands[child].ignoresFailure, !successStatuses.contains(status), child != neverReady,
           firstFailure == 0 {
            firstFailure = status
        }
    }

    mutating func finish(_ actions: inout ActionList) {
        phase = .done
        actions.append(.cancelDeadline)
        let status = exitStatus
        log(.exiting(status: status), &actions)
        actions.append(.exit(status))
    }

    func log(_ record: LogRecord, _ actions: inout ActionList) {
        actions.log(record, quiet: quiet)
    }

    // MARK: Log lines

    /// Writes the line; when it does not fit, writes it again with the
    /// program name cut (and marked) by as much as was cut off, so the line
    /// keeps its closing quote and its reason.
    public func format(_ record: LogRecord, into line: LineWriter) {
        let start = line.count
        write(record, nameLimit: Int.max, into: line)
        if line.dropped > 0, let child = record.child {
            let limit = LineWriter.escapedCount(commands[child].name) - line.dropped
            line.rewind(to: start)
            write(record, nameLimit: limit, into: line)
        }
    }

    func write(_ record: LogRecord, nameLimit: Int, into line: LineWriter) {
        func name(_ child: Int, _ line: LineWriter) {
            line.text(" '"); line.escaped(commands[child].name, limit: nameLimit); line.text("'")
        }
        line.text("dinit: ")
        switch record {
        case .started(let child, let pid):
            line.text("Started "); line.int(pid); name(child, line)
        case .childExited(let child, let pid, let status), .childFailed(let child, let pid, let status):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" exited with status "); line.int(status)
        case .stopped(let child, let pid, let status):
            line.text("Stopped child "); line.int(pid); name(child, line)
            line.text(", exited with status "); line.int(status)
        case .execFailed(let child, let errno):
            line.text("Cannot execute"); name(child, line); line.text(": ")
            ErrnoText.write(errno, to: line)
        case .killing(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" still running after "); line.seconds(killTimeout); line.text(" s, sending SIGKILL")
        case .abandoned(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" did not exit after SIGKILL, giving up on it")
        case .killingAll:
            line.text("Second shutdown signal, sending SIGKILL to every child")
        case .budgetSpent:
            line.text("Stop budget of "); line.seconds(stopBudget ?? 0)
            line.text(" s spent, sending SIGKILL to every remaining process and exiting")
        case .budgetKilled(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" still running at the end of the stop budget, sent SIGKILL")
        case .subreaper:
            line.text("Not PID 1, registered as child subreaper")
        case .killingDescendants:
            line.text("Sending SIGKILL to remaining descendants")
        case .descendantsRemain:
            line.text("Descendants still running after SIGKILL, exiting anyway")
        case .exiting(let status):
            line.text("Exiting, status "); line.int(status)
        case .ready(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line); line.text(" is ready")
        case .readyIgnored(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line); line.text(" sent READY=1, not waited for (ignored)")
        case .notifyStatus(let child, let pid, let text):
            line.text("Child "); line.int(pid); name(child, line); line.text(" status: ")
            text.withBytes { line.escaped($0) }
            if text.wasCut { line.text("...") }
        case .notifyStopping(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line); line.text(" is stopping")
        case .notifyReloading(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line); line.text(" is reloading")
        case .notifyErrno(let child, let pid, let errno):
            line.text("Child "); line.int(pid); name(child, line); line.text(" reports errno "); line.int(errno)
        case .exitedBeforeReady(let child, let pid, let status):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" exited with status "); line.int(status); line.text(" before it was ready")
        case .notReady(let child, let pid):
            line.text("Child "); line.int(pid); name(child, line)
            line.text(" did not send READY=1 in time (ready timeout "); line.seconds(readyTimeout); line.text(" s)")
        }
        line.newline()
    }

}
