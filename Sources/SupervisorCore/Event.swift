/// Nanoseconds on the monotonic clock: the only notion of time the core has.
/// The caller reads the clock and passes the reading in with every event.
public typealias Nanoseconds = Int64

/// Something that happened, as the reactor reports it to a core.
public enum Event: Equatable {
    /// The reactor is set up. `subreaper` says whether it registered as child
    /// subreaper (it does so when not PID 1).
    case start(subreaper: Bool)
    /// `spawn(child:)` succeeded.
    case spawned(child: Int, pid: Int32)
    /// `spawn(child:)` failed with this errno (the program could not be run).
    case spawnFailed(child: Int, errno: Int32)
    /// A tracked child ended. `status` is its exit code, or the number of the
    /// signal that killed it.
    case childExited(child: Int, status: Int32)
    /// A signal other than SIGCHLD reached the supervisor.
    case signal(Int32)
    /// The deadline armed last has passed.
    case deadline
    /// After `collectOrphans`: no process is left for us to reap.
    case orphansGone
    /// An sd_notify message from child `child` (the reactor has checked that
    /// the sender is that child or a member of its process group).
    case notify(child: Int, NotifyMessage)
}

/// What a core asks the reactor to do, in order.
public enum Action: Equatable {
    /// Start the child with this index (the reactor answers with `spawned` or
    /// `spawnFailed`). At most one per event, and always the last action.
    case spawn(child: Int)
    /// Send a signal to the child (through its pidfd), or with `group` to its
    /// whole process group. Ignored when the child is already reaped. A stop
    /// signal (TERM, INT, QUIT) to a stopped child is followed by SIGCONT to
    /// the same target, so that the child acts on it.
    case signal(child: Int, signal: Int32, group: Bool)
    /// Send `signal` to every remaining descendant we did not start (0 sends
    /// none; SIGTERM is followed by SIGCONT), and to those adopted later
    /// while this phase lasts, then report `orphansGone` once nothing is left
    /// to reap.
    case collectOrphans(signal: Int32)
    /// Fire `deadline` at this monotonic time, replacing any earlier one.
    case armDeadline(Nanoseconds)
    case cancelDeadline
    case log(LogRecord)
    /// Leave the loop; the process exits with this status.
    case exit(Int32)
    /// Tell our own service manager (the `NOTIFY_SOCKET` we inherited) how we
    /// are doing. Only cores created with `notifiesParent` emit it.
    case notifyParent(ServiceState)
}

/// What a supervisor tells its own service manager over sd_notify.
public enum ServiceState: Equatable {
    /// `READY=1`: start-up is complete.
    case ready
    /// `STOPPING=1`: shutdown has begun.
    case stopping
}

extension LogRecord {
    /// The level of a line: `-q` keeps the errors only; journald gets it as
    /// PRIORITY.
    public var level: LogLevel {
        switch self {
        case .started, .childExited, .stopped, .subreaper, .exiting,
             .ready, .readyIgnored, .notifyStatus, .notifyStopping, .notifyReloading, .notifyErrno:
            return .info
        case .childFailed, .execFailed, .killing, .abandoned, .killingAll, .killingDescendants, .descendantsRemain,
             .exitedBeforeReady, .notReady, .budgetSpent, .budgetKilled:
            return .error
        }
    }
}

extension LogRecord {
    /// The child a record is about, for structured logging.
    public var child: Int? {
        switch self {
        case .started(let c, _), .childExited(let c, _, _), .childFailed(let c, _, _), .stopped(let c, _, _),
             .execFailed(let c, _), .killing(let c, _), .abandoned(let c, _),
             .ready(let c, _), .readyIgnored(let c, _), .notifyStatus(let c, _, _), .notifyStopping(let c, _),
             .notifyReloading(let c, _), .notifyErrno(let c, _, _), .exitedBeforeReady(let c, _, _),
             .notReady(let c, _), .budgetKilled(let c, _):
            return c
        case .killingAll, .subreaper, .killingDescendants, .descendantsRemain, .exiting, .budgetSpent:
            return nil
        }
    }

    public var pid: Int32? {
        switch self {
        case .started(_, let p), .childExited(_, let p, _), .childFailed(_, let p, _), .stopped(_, let p, _),
             .killing(_, let p), .abandoned(_, let p),
             .ready(_, let p), .readyIgnored(_, let p), .notifyStatus(_, let p, _), .notifyStopping(_, let p),
             .notifyReloading(_, let p), .notifyErrno(_, let p, _), .exitedBeforeReady(_, let p, _),
             .notReady(_, let p), .budgetKilled(_, let p):
            return p
        default:
            return nil
        }
    }

    /// A child's exit status, or dinit's own for `exiting`.
    public var status: Int32? {
        switch self {
        case .childExited(_, _, let s), .childFailed(_, _, let s), .stopped(_, _, let s), .exiting(let s),
             .exitedBeforeReady(_, _, let s):
            return s
        default:
            return nil
        }
    }
}

/// Log levels, filtered by the core according to `-q`.
public enum LogLevel: Equatable {
    case info
    case error
}

/// One log line, as data; the core that emitted it formats it.
public enum LogRecord: Equatable {
    case started(child: Int, pid: Int32)
    /// A child ended as expected (info).
    case childExited(child: Int, pid: Int32, status: Int32)
    /// A child ended when it should not have, or failed (error); same text.
    case childFailed(child: Int, pid: Int32, status: Int32)
    case stopped(child: Int, pid: Int32, status: Int32)
    case execFailed(child: Int, errno: Int32)
    case killing(child: Int, pid: Int32)
    case abandoned(child: Int, pid: Int32)
    case killingAll
    /// The stop budget (`-t`) ran out: everything gets SIGKILL, dinit exits.
    case budgetSpent
    /// A child still running then.
    case budgetKilled(child: Int, pid: Int32)
    case subreaper
    case killingDescendants
    case descendantsRemain
    case exiting(status: Int32)
    /// A `:notify:` child sent READY=1 while start-up waited for it (info).
    case ready(child: Int, pid: Int32)
    /// READY=1 when nothing waits for it: logged, not acted on (info).
    case readyIgnored(child: Int, pid: Int32)
    /// STATUS= sent before READY=1 (info).
    case notifyStatus(child: Int, pid: Int32, StatusText)
    case notifyStopping(child: Int, pid: Int32)
    case notifyReloading(child: Int, pid: Int32)
    case notifyErrno(child: Int, pid: Int32, errno: Int32)
    /// A `:notify:` child ended before READY=1 (error).
    case exitedBeforeReady(child: Int, pid: Int32, status: Int32)
    /// No READY=1 within the ready timeout (error).
    case notReady(child: Int, pid: Int32)
}
