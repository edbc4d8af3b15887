/// dcrond's core: runs one command line now (after the delay) and again
/// `interval` after each run ends. Runs never overlap. A failed run ends
/// dcrond with the run's status unless failures are ignored; a shutdown
/// signal stops a run in progress (its whole process group) and exits 0.
///
///   waiting --deadline--> running --exit 0--> waiting
///      |                     |--failure--> done (status)
///      |                     `--signal--> stopping --exit/timeout--> done (0)
///      `--signal--> done (0)
///
/// With `notifiesParent` (dcrond's own `NOTIFY_SOCKET` was set) it tells
/// its service manager READY=1 at start and STOPPING=1 on a shutdown signal.
public struct CronSchedule: SupervisorCore {
    public enum State: Equatable {
        case idle, waiting, running, stopping, done
    }

    public let commandline: [UInt8]
    public let ignoresFailure: Bool
    public let delay: Nanoseconds
    public let interval: Nanoseconds
    public let killTimeout: Nanoseconds
    public let quiet: Int
    public let notifiesParent: Bool

    public private(set) var state: State = .idle
    public private(set) var runs = 0
    var pid: Int32 = 0
    var stopKilled = false

    public init(commandline: [UInt8], ignoresFailure: Bool, delay: Nanoseconds, interval: Nanoseconds,
                killTimeout: Nanoseconds, quiet: Int, notifiesParent: Bool = false) {
        self.notifiesParent = notifiesParent
        self.commandline = commandline
        self.ignoresFailure = ignoresFailure
        self.delay = delay
        self.interval = interval
        self.killTimeout = killTimeout
        self.quiet = quiet
    }

    public var childSlots: Int { 1 }
    public var identifier: StaticString { "dcrond" }
    public func programName(_ child: Int) -> [UInt8] { commandline }
    public var maxActionsPerEvent: Int { 8 }

    public mutating func handle(_ event: Event, now: Nanoseconds, into actions: inout ActionList) {
        switch event {
        case .start:
            guard state == .idle else { return }
            state = .waiting
            if notifiesParent { actions.append(.notifyParent(.ready)) }
            if delay > 0 {
                actions.append(.armDeadline(now + delay))
            } else {
                run(&actions)
            }
        case .spawned(_, let pid):
            guard state == .running else { return }
            self.pid = pid
            log(.started(child: 0, pid: pid), &actions)
        case .spawnFailed(_, let errno):
            guard state == .running else { return }
            log(.execFailed(child: 0, errno: errno), &actions)
            finished(status: errno == ErrnoValue.enoent ? 127 : 126, now, &actions)
        case .childExited(_, let status):
            guard state == .running || state == .stopping else { return }
            // A run that fails is an error; one that ends because we asked
            // it to stop is not, whatever its status.
            let failed = status != 0 && state == .running
            log(failed ? .childFailed(child: 0, pid: pid, status: status)
                       : .childExited(child: 0, pid: pid, status: status), &actions)
            if state == .stopping {
                exit(0, &actions)
            } else {
                finished(status: status, now, &actions)
            }
        case .signal(let signo):
            received(signo, now, &actions)
        case .deadline:
            switch state {
            case .waiting:
                run(&actions)
            case .stopping where !stopKilled:
                stopKilled = true
                log(.killing(child: 0, pid: pid), &actions)
                actions.append(.signal(child: 0, signal: SignalNumber.kill, group: true))
                actions.append(.armDeadline(now + KillGrace.after(killTimeout)))
            case .stopping:
                log(.abandoned(child: 0, pid: pid), &actions)
                exit(0, &actions)
            default:
                break
            }
        case .orphansGone, .notify:
            break
        }
    }

    mutating func run(_ actions: inout ActionList) {
        state = .running
        runs += 1
        actions.append(.spawn(child: 0))
    }

    mutating func finished(status: Int32, _ now: Nanoseconds, _ actions: inout ActionList) {
        if status != 0, !ignoresFailure {
            exit(status, &actions)
            return
        }
        state = .waiting
        actions.append(.armDeadline(now + interval))
    }

    mutating func received(_ signo: Int32, _ now: Nanoseconds, _ actions: inout ActionList) {
        guard SignalNumber.isShutdown(signo) else {
            if state == .running || state == .stopping {
                actions.append(.signal(child: 0, signal: signo, group: true))
            }
            return
        }
        if notifiesParent, state == .idle || state == .waiting || state == .running {
            actions.append(.notifyParent(.stopping))
        }
        switch state {
        case .idle, .waiting:
            exit(0, &actions)
        case .running:
            state = .stopping
            actions.append(.signal(child: 0, signal: signo, group: true))
            actions.append(.armDeadline(now + killTimeout))
        case .stopping where !stopKilled:
            // A second request: no more waiting.
            stopKilled = true
            log(.killing(child: 0, pid: pid), &actions)
            actions.append(.signal(child: 0, signal: SignalNumber.kill, group: true))
            actions.append(.armDeadline(now + KillGrace.after(killTimeout)))
        default:
            break
        }
    }

    mutating func exit(_ status: Int32, _ actions: inout ActionList) {
        state = .done
        actions.append(.cancelDeadline)
        log(.exiting(status: status), &actions)
        actions.append(.exit(status))
    }

    func log(_ record: LogRecord, _ actions: inout ActionList) {
        actions.log(record, quiet: quiet)
    }

    public func format(_ record: LogRecord, into line: LineWriter) {
        line.text("dcrond: ")
        switch record {
        case .started(_, let pid):
            line.text("Started "); line.int(pid); line.text(" '"); line.escaped(commandline); line.text("'")
        case .childExited(_, let pid, let status), .childFailed(_, let pid, let status):
            line.text("Child "); line.int(pid); line.text(" exited with status "); line.int(status)
        case .execFailed(_, let errno):
            line.text("Cannot execute /bin/sh: "); ErrnoText.write(errno, to: line)
        case .killing(_, let pid):
            line.text("Child "); line.int(pid); line.text(" still running after "); line.seconds(killTimeout)
            line.text(" s, sending SIGKILL to its process group")
        case .abandoned(_, let pid):
            line.text("Child "); line.int(pid); line.text(" did not exit after SIGKILL, giving up on it")
        case .exiting(let status):
            line.text("Exiting, status "); line.int(status)
        default:
            line.text("(unexpected record)")
        }
        line.newline()
    }
}
