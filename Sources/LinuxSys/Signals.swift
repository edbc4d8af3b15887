import CLinuxSys

/// A sigset_t value.
public struct SignalSet {
    public var raw = sigset_t()

    public init() { cls_sigemptyset(&raw) }

    public static var empty: SignalSet { SignalSet() }

    // Bits are set by hand: sigaddset refuses 32-34 (see the shim).
    public mutating func insert(_ signo: Int32) { cls_sigset_add_raw(&raw, signo) }
    public mutating func remove(_ signo: Int32) { cls_sigset_del_raw(&raw, signo) }
    public func contains(_ signo: Int32) -> Bool {
        var copy = raw
        return cls_sigset_has_raw(&copy, signo) == 1
    }

    /// The signals a supervisor takes through its signalfd: every signal
    /// except those that cannot be caught (KILL, STOP) and the terminal stop
    /// signals (ignored instead). That includes 32 to 34, which the libc
    /// keeps for its threads (dinit cancels no thread and changes no ids, so
    /// its spawner thread needs none of them): left unblocked they would be
    /// fatal (default action) or, for PID 1, dropped instead of forwarded.
    ///
    /// The fault signals (SEGV, BUS, ILL, FPE, TRAP, SYS) and ABRT are
    /// blocked too, so that one sent with kill(2) is forwarded rather than
    /// fatal: a real fault is still fatal, because Linux force-delivers a
    /// fault signal that is blocked, at its default action. SIGPIPE is
    /// blocked as well: a write to a closed stderr then fails with EPIPE, and
    /// the SIGPIPE it raises (sent by ourselves) is dropped, not forwarded.
    public static var supervised: SignalSet {
        var s = SignalSet()
        for signo in Int32(1)...Int32(64) where !unsupervised(signo) { s.insert(signo) }
        return s
    }

    static func unsupervised(_ signo: Int32) -> Bool {
        switch signo {
        case SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU:
            return true
        default:
            return false
        }
    }

    /// The signals a supervisor ignores itself (its children get them back at
    /// the default disposition when spawned).
    public static let ignored: [Int32] = [SIGTSTP, SIGTTIN, SIGTTOU]
}

public enum Signals {
    /// Blocks `set` for the calling thread (the whole process, when it is
    /// single-threaded as dinit is); returns the previous mask. Through the
    /// raw rt_sigprocmask: glibc's wrappers silently leave out 32 and 33.
    @discardableResult
    public static func block(_ set: SignalSet) throws(Errno) -> SignalSet {
        var s = set.raw
        var old = SignalSet()
        _ = try retryingEINTR { cls_rt_sigprocmask(SIG_BLOCK, &s, &old.raw) }
        return old
    }

    public static func setMask(_ set: SignalSet) throws(Errno) {
        var s = set.raw
        _ = try retryingEINTR { cls_rt_sigprocmask(SIG_SETMASK, &s, nil) }
    }

    public static func ignore(_ signo: Int32) throws(Errno) {
        if cls_sigdisposition(signo, 1) != 0 { throw Errno.current }
    }

    public static func setDefault(_ signo: Int32) throws(Errno) {
        if cls_sigdisposition(signo, 0) != 0 { throw Errno.current }
    }
}

/// A nonblocking, close-on-exec signalfd.
public struct SignalDescriptor {
    public let fd: FileDescriptor

    public init(_ set: SignalSet) throws(Errno) {
        var s = set.raw
        fd = FileDescriptor(rawValue: try retryingEINTR { cls_signalfd(&s) })
    }

    /// The next queued signal and the pid of its sender (0: the kernel), or
    /// nil when none is queued.
    public func next() throws(Errno) -> (signo: Int32, sender: Int32)? {
        var signo: Int32 = 0
        var sender: Int32 = 0
        let r = try retryingEINTR { cls_signalfd_read(fd.rawValue, &signo, &sender) }
        return r == 1 ? (signo, sender) : nil
    }
}
