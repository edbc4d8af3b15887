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
}

/// One command as the supervisor sees it.
public struct SupervisedCommand: Equatable {
    public var name: [UInt8]
    public var isWait: Bool
    public var ignoresFailure: Bool

    public init(name: [UInt8], isWait: Bool = false, ignoresFailure: Bool = false) {
        self.name = name
        self.isWait = isWait
        self.ignoresFailure = ignoresFailure
    }
}

/// dinit's supervisor: starts the commands in order, stops them in reverse
/// order, escalates to SIGKILL, and decides the exit status.
///
/// State per child: pending -> running -> exited (or abandoned when even
/// SIGKILL did not end it). Phases of the run:
///
///   starting --all started--> running --shutdown--> stopping --> orphans --> done
///       \_____________________shutdown_______________^
///
/// Shutdown starts on SIGTERM/SIGINT/SIGQUIT (that signal is forwarded), or
/// with SIGTERM when a daemon exits on its own, a `:wait:` command fails, or a
/// program cannot be run.
public struct Supervisor: SupervisorCore {
    public enum Phase: Equatable {
        case idle, starting, running, stopping, orphans, done
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
    /// No child above this index runs: stopNext resumes its downward scan
    /// here, so a whole stop in reverse order scans the table once.
    var stopCursor = Int.max
    /// How many children are in state .running (anyRunning in O(1)).
    var runningCount = 0
    /// A second shutdown signal SIGKILLed everything.
    var killedAll = false
    var orphansKilled = false
    /// The first nonzero status among children without `-`.
    public private(set) var firstFailure: Int32 = 0
    /// The run ended because a daemon without `-` exited on its own or
    /// startup failed.
    public private(set) var endedByFailure = false

    public init(commands: [SupervisedCommand], startupDelay: Nanoseconds, killTimeout: Nanoseconds, quiet: Int,
                signalGroups: Bool = false) {
        self.commands = commands
        self.signalGroups = signalGroups
        self.startupDelay = startupDelay
        self.killTimeout = killTimeout
        self.quiet = quiet
        states = Array(repeating: .pending, count: commands.count)
        pids = Array(repeating: 0, count: commands.count)
    }

    public var childSlots: Int { commands.count }
    public var identifier: StaticString { "dinit" }
    public func programName(_ child: Int) -> [UInt8] { commands[child].name }

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
            if startupDelay > 0 {
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
        }
    }

    mutating func ended(_ child: Int, status: Int32, reported: Bool, _ now: Nanoseconds, _ actions: inout ActionList) {
        states[child] = .exited
        runningCount -= 1
        let command = commands[child]
        if status != 0, !command.ignoresFailure, firstFailure == 0 { firstFailure = status }
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
        case .starting, .running:
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
            switch phase {
            case .idle, .starting, .running:
                beginShutdown(signo, now, &actions)
            case .stopping where !killedAll:
                // A second request: stop waiting, kill everything now.
                killedAll = true
                log(.killingAll, &actions)
                for i in states.indices where states[i] == .running {
                    actions.append(.signal(child: i, signal: SignalNumber.kill, group: signalGroups))
                }
                actions.append(.armDeadline(now + killGrace))
            case .orphans where !orphansKilled:
                orphansKilled = true
                log(.killingDescendants, &actions)
                actions.append(.collectOrphans(signal: SignalNumber.kill))
                actions.append(.armDeadline(now + killGrace))
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
        switch phase {
        case .starting where awaitingDelay:
            awaitingDelay = false
            startNext(now, &actions)
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
                actions.append(.armDeadline(now + killGrace))
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
                actions.append(.armDeadline(now + killGrace))
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
        if !anyRunning { collectOrphans(now, &actions) }
    }

    mutating func beginShutdown(_ signo: Int32, _ now: Nanoseconds, _ actions: inout ActionList) {
        phase = .stopping
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
        actions.append(.signal(child: i, signal: shutdownSignal, group: signalGroups))
        actions.append(.armDeadline(now + killTimeout))
    }

    /// Every child of ours is gone: terminate what was adopted, then exit.
    mutating func collectOrphans(_ now: Nanoseconds, _ actions: inout ActionList) {
        phase = .orphans
        stopTarget = -1
        actions.append(.collectOrphans(signal: SignalNumber.term))
        actions.append(.armDeadline(now + killTimeout))
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

    public func format(_ record: LogRecord, into line: LineWriter) {
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
        case .subreaper:
            line.text("Not PID 1, registered as child subreaper")
        case .killingDescendants:
            line.text("Sending SIGKILL to remaining descendants")
        case .descendantsRemain:
            line.text("Descendants still running after SIGKILL, exiting anyway")
        case .exiting(let status):
            line.text("Exiting, status "); line.int(status)
        }
        line.newline()
    }

    func name(_ child: Int, _ line: LineWriter) {
        line.text(" '"); line.escaped(commands[child].name); line.text("'")
    }
}
