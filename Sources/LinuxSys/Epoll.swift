import CLinuxSys

/// An epoll set whose events carry a 64-bit tag, with an event buffer
/// allocated once.
public struct Epoll {
    public let fd: FileDescriptor
    let buffer: UnsafeMutableRawPointer
    public let capacity: Int

    public init(capacity: Int) throws(Errno) {
        fd = FileDescriptor(rawValue: try retryingEINTR { cls_epoll_create() })
        self.capacity = capacity
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity * cls_epoll_event_size(), alignment: 8)
    }

    public func add(_ target: FileDescriptor, tag: UInt64) throws(Errno) {
        _ = try retryingEINTR { cls_epoll_add(fd.rawValue, target.rawValue, tag) }
    }

    /// Waits for `target` to take output (EPOLLOUT); level-triggered, so
    /// it is added only while output is held back, and removed after.
    public func addOutput(_ target: FileDescriptor, tag: UInt64) throws(Errno) {
        _ = try retryingEINTR { cls_epoll_add_output(fd.rawValue, target.rawValue, tag) }
    }

    public func remove(_ target: FileDescriptor) throws(Errno) {
        _ = try retryingEINTR { cls_epoll_del(fd.rawValue, target.rawValue) }
    }

    /// Sleeps until something is ready, with no timeout: an idle supervisor
    /// never wakes up. Returns the number of ready events (0 after EINTR).
    public func wait() throws(Errno) -> Int {
        let n = cls_epoll_wait(fd.rawValue, buffer, Int32(capacity), -1)
        if n >= 0 { return Int(n) }
        let e = Errno.current
        if e == .interrupted { return 0 }
        throw e
    }

    public func tag(at i: Int) -> UInt64 { cls_epoll_event_tag(buffer, Int32(i)) }
}

/// A one-shot CLOCK_MONOTONIC timer armed at absolute times.
public struct Timer {
    public let fd: FileDescriptor

    public init() throws(Errno) {
        fd = FileDescriptor(rawValue: try retryingEINTR { cls_timerfd_create() })
    }

    /// Fires once at `at` (monotonic nanoseconds); `nil` disarms.
    public func set(_ at: Int64?) throws(Errno) {
        // 0 would mean "disarm" to the kernel: a deadline at 0 fires at 1 ns.
        let value: Int64 = at.map { $0 < 1 ? 1 : $0 } ?? 0
        _ = try retryingEINTR { cls_timerfd_set(fd.rawValue, value) }
    }

    /// Consumes an expiry; false when the timer had not fired.
    public func drain() throws(Errno) -> Bool {
        try retryingEINTR { cls_timerfd_drain(fd.rawValue) } == 1
    }
}
