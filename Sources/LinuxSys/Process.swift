import CLinuxSys

/// How a process ended: its exit code, or the signal that killed it.
public enum Termination: Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// The status dinit reports: the exit code, or the signal number.
    public var status: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signo): return signo
        }
    }

    init?(_ r: cls_wait_result) {
        switch r.kind {
        case 1: self = .exited(r.value)
        case 2: self = .signaled(r.value)
        default: return nil
        }
    }
}

/// Process control: spawning, pidfds, signals, reaping.
public enum Processes {
    public static var isPID1: Bool { getpid() == 1 }
    public static var ownPID: Int32 { getpid() }

    public static func becomeChildSubreaper() throws(Errno) {
        _ = try retryingEINTR { cls_set_child_subreaper() }
    }

    /// Signals the process behind a pidfd: race-free, a recycled PID can
    /// never be hit.
    public static func signal(pidfd: FileDescriptor, _ signo: Int32) throws(Errno) {
        _ = try retryingEINTR { cls_pidfd_send_signal(pidfd.rawValue, signo) }
    }

    /// Signals the process group led by the pidfd's process. Falls back to
    /// kill(-pid) on kernels before 6.9; callers pass the pid of a child
    /// not yet reaped, so its group id is still its own.
    public static func signalGroup(pidfd: FileDescriptor, pid: Int32, _ signo: Int32) throws(Errno) {
        do {
            _ = try retryingEINTR { cls_pidfd_send_signal_group(pidfd.rawValue, signo) }
        } catch {
            guard error == Errno(EINVAL) else { throw error }
            try kill(-pid, signo)
        }
    }

    /// kill(2). Callers only pass PIDs of children not yet reaped (which the
    /// kernel cannot recycle), process groups led by such children, or -1.
    public static func kill(_ pid: Int32, _ signo: Int32) throws(Errno) {
        _ = try retryingEINTR { cls_kill(pid, signo) }
    }

    /// Reaps the child behind `pidfd` if it has ended.
    public static func reap(pidfd: FileDescriptor) throws(Errno) -> Termination? {
        var r = cls_wait_result()
        _ = try retryingEINTR { cls_wait_pidfd(pidfd.rawValue, &r) }
        return Termination(r)
    }

    /// Waits for the child behind `pidfd` to end, and reaps it.
    public static func awaitExit(pidfd: FileDescriptor) {
        _ = try? retryingEINTR { cls_wait_pidfd_blocking(pidfd.rawValue) }
    }

    /// Whether the child behind `pidfd` has ended, without reaping it.
    public static func hasExited(pidfd: FileDescriptor) -> Bool {
        (try? retryingEINTR { cls_pidfd_exited(pidfd.rawValue) }) == 1
    }

    /// Whether the child behind `pidfd` is stopped (SIGSTOP, a debugger).
    public static func isStopped(pidfd: FileDescriptor) -> Bool {
        cls_child_stopped(pidfd.rawValue, 0) == 1
    }

    /// Whether child `pid` (ours, not reaped) is stopped.
    public static func isStopped(pid: Int32) -> Bool {
        cls_child_stopped(-1, pid) == 1
    }

    /// Reaps any one ended child; with `thisThreadOnly`, only a child of
    /// the calling thread (adopted orphans, when a `Spawner` with its own
    /// thread made the others). nil when none has ended; throws ECHILD when
    /// there are no such children.
    public static func reapAny(thisThreadOnly: Bool = false) throws(Errno) -> (pid: Int32, termination: Termination)? {
        var r = cls_wait_result()
        _ = try retryingEINTR { cls_wait_any(&r, thisThreadOnly ? 1 : 0) }
        guard let t = Termination(r) else { return nil }
        return (r.pid, t)
    }

    /// Whether any child (running or zombie) is left. Reaps nothing.
    public static func hasChildren() -> Bool {
        (try? retryingEINTR { cls_has_children() }) != 0
    }

    /// Makes room for `more` descriptors beyond those open now (counted,
    /// not guessed), raising the soft limit up to the hard one if needed.
    /// Returns nil, or the most that can be had.
    public static func reserveDescriptors(_ more: Int) -> Int? {
        var limit = 0
        return cls_reserve_descriptors(more, &limit) == 0 ? nil : limit
    }
}

/// Spawns children with clone(CLONE_VM|CLONE_VFORK|CLONE_FILES|CLONE_PIDFD)
/// in C (see cls_spawn): empty signal mask, default dispositions, own
/// process group, optionally stdio on /dev/null; each spawn costs the same
/// however many children already run.
public struct Spawner {
    let state: UnsafeMutablePointer<cls_spawner>

    /// With `ownThread`, children are spawned by a thread of their own, so
    /// that the kernel lists them apart from the orphans the main thread
    /// adopts (see cls_spawner_start_thread); without one, or if it cannot
    /// be started, by the calling thread. `stdioOverrides`: prepare
    /// per-spawn stdio (`spawn(_:stdio:)`), at the cost of four descriptors
    /// of dinit's own.
    public init(devNull: FileDescriptor?, ownThread: Bool = false, stdioOverrides: Bool = false) throws(Errno) {
        state = UnsafeMutablePointer<cls_spawner>.allocate(capacity: 1)
        let rc = cls_spawner_init(state, devNull?.rawValue ?? -1)
        if rc != 0 { throw Errno(rc) }
        if stdioOverrides {
            let rc = cls_spawner_init_stdio(state)
            if rc != 0 { throw Errno(rc) }
        }
        if ownThread { _ = cls_spawner_start_thread(state) }
    }

    /// Whether the children come from the spawner's own thread.
    public var hasOwnThread: Bool { state.pointee.has_thread != 0 }

    /// The descriptors a child gets as its stdin, stdout and stderr; -1
    /// inherits dinit's own.
    public typealias Stdio = (input: Int32, output: Int32, error: Int32)
    public static var inherited: Stdio { (-1, -1, -1) }

    /// Spawns `argv[0]` (PATH lookup, no shell). `argv` ends with nil;
    /// `environment` (nil-terminated) defaults to our own. Overriding
    /// `stdio` needs a spawner made with `stdioOverrides`; it allocates
    /// nothing either. Returns the pid and a pidfd for it.
    public func spawn(_ argv: UnsafePointer<UnsafeMutablePointer<CChar>?>,
                      environment: UnsafePointer<UnsafeMutablePointer<CChar>?>? = nil,
                      stdio: Stdio = Spawner.inherited) throws(Errno) -> (pid: Int32, pidfd: FileDescriptor) {
        var pid: pid_t = 0
        var fd: Int32 = -1
        guard let file = argv[0] else { throw Errno(EINVAL) }
        var fds = stdio
        while true {
            let rc = withUnsafePointer(to: &fds) { p in
                p.withMemoryRebound(to: Int32.self, capacity: 3) { cls_spawn(state, &pid, &fd, file, argv, environment, $0) }
            }
            if rc == 0 { return (pid, FileDescriptor(rawValue: fd)) }
            if rc != EINTR { throw Errno(rc) }
        }
    }
}

extension Processes {
    public static func exit(_ status: Int32) -> Never { CLinuxSys.exit(status) }
}

extension FileDescriptor {
    public static let standardOutput = FileDescriptor(rawValue: 1)

    public func write(_ s: StaticString) {
        s.withUTF8Buffer { writeAll($0) }
    }
}

/// The controlling terminal on stdin, for interactive use.
public enum Terminal {
    /// Whether stdin is a terminal whose foreground process group is ours.
    public static var inForeground: Bool {
        cls_isatty(0) == 1 && cls_tcgetpgrp(0) == cls_getpgrp()
    }

    /// Makes `pgrp` the terminal's foreground process group (we ignore
    /// SIGTTOU, so this works from the background too).
    public static func setForeground(_ pgrp: Int32) throws(Errno) {
        _ = try retryingEINTR { cls_tcsetpgrp(0, pgrp) }
    }

    public static var ownGroup: Int32 { cls_getpgrp() }
}
