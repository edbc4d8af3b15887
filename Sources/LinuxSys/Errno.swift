import CLinuxSys

/// A failed system call's errno, thrown by every wrapper (typed throws: no
/// existential, no allocation).
public struct Errno: Error, Equatable {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno.
    public static var current: Errno { Errno(cls_errno()) }

    public static let interrupted = Errno(EINTR)
    public static let again = Errno(EAGAIN)
    public static let noChild = Errno(ECHILD)
    public static let noSuchProcess = Errno(ESRCH)
}

/// Runs a call that returns -1 with errno on failure, retrying on EINTR:
/// the one place in the project where EINTR is handled.
@inline(__always)
public func retryingEINTR<T: BinaryInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Errno.current
        if e != .interrupted { throw e }
    }
}
