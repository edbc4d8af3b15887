import CLinuxSys

/// A sigset_t value.
public struct SignalSet {
    public var raw = sigset_t()

    public init() { cls_sigemptyset(&raw) }

    public static var empty: SignalSet { SignalSet() }

    public mutating func insert(_ signo: Int32) { cls_sigaddset(&raw, signo) }
    public mutating func remove(_ signo: Int32) { cls_sigdelset(&raw, signo) }
    public func contains(_ signo: Int32) -> Bool {
        var copy = raw
        return cls_sigismember(&copy, signo) == 1
    }

    /// The signals a supervisor takes through its signalfd: every signal
    /// except those that cannot be caught (KILL, STOP), the synchronous
    /// faults (blocking them is undefined behaviour when they happen), the
    /// terminal stop signals (ignored instead) and SIGPIPE (ignored, so that a
    /// closed stderr cannot stop the supervisor or be forwarded).
    public static var supervised: SignalSet {
        var s = SignalSet()
        for signo in Int32(1)...Int32(64) where !unsupervised(signo) { s.insert(signo) }
        return s
    }

    static func unsupervised(_ signo: Int32) -> Bool {
        switch signo {
        case SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT,
             SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE:
            return true
        default:
            // 32 and 33 are reserved by glibc and musl for threads.
            return signo == 32 || signo == 33
        }
    }

    /// The signals a supervisor ignores itself (its children get them back at
    /// the default disposition when spawned).
    public static let ignored: [Int32] = [SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE]
}

public enum Signals {
    /// Blocks `set` for the calling thread (the whole process, when it is
    /// single-threaded as dinit is); returns the previous mask.
    @discardableResult
    public static func block(_ set: SignalSet) throws(Errno) -> SignalSet {
        var s = set.raw
        var old = SignalSet()
        let rc = cls_pthread_sigmask(SIG_BLOCK, &s, &old.raw)
        if rc != 0 { throw Errno(rc) }
        return old
    }

    public static func setMask(_ set: SignalSet) throws(Errno) {
        var s = set.raw
        let rc = cls_pthread_sigmask(SIG_SETMASK, &s, nil)
        if rc != 0 { throw Errno(rc) }
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

    /// The next queued signal, or nil when none is queued.
    public func next() throws(Errno) -> Int32? {
        var signo: Int32 = 0
        let r = try retryingEINTR { cls_signalfd_read(fd.rawValue, &signo) }
        return r == 1 ? signo : nil
    }
}
