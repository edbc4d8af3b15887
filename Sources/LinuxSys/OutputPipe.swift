import CLinuxSys

/// A pipe carrying a child's stdout or stderr to dinit (`dinit -p`): both
/// ends close-on-exec, the read end non-blocking.
public struct OutputPipe {
    public let readEnd: FileDescriptor
    public let writeEnd: FileDescriptor

    public init() throws(Errno) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutablePointer(to: &fds) { (p) throws(Errno) in
            try p.withMemoryRebound(to: Int32.self, capacity: 2) { (q) throws(Errno) in
                try retryingEINTR { cls_output_pipe(q) }
            }
        }
        readEnd = FileDescriptor(rawValue: fds.0)
        writeEnd = FileDescriptor(rawValue: fds.1)
    }
}

/// What a write that must not wait did.
public enum WriteOutcome: Equatable {
    case wrote(Int)
    /// The descriptor cannot take more now (EAGAIN).
    case wouldBlock
    /// No RWF_NOWAIT for this descriptor (a terminal, an old kernel).
    case unsupported
    case failed(Errno)
}

extension FileDescriptor {
    /// One write that returns `wouldBlock` instead of waiting, without
    /// setting O_NONBLOCK on a description other processes may share.
    public func writeWithoutWaiting(_ bytes: UnsafeBufferPointer<UInt8>) -> WriteOutcome {
        guard let p = bytes.baseAddress else { return .wrote(0) }
        do throws(Errno) {
            return .wrote(try retryingEINTR { cls_write_nowait(rawValue, p, bytes.count) })
        } catch {
            if error == Errno.again { return .wouldBlock }
            if error == Errno(EOPNOTSUPP) || error == Errno(EINVAL) || error == Errno(ENOSYS) { return .unsupported }
            return .failed(error)
        }
    }

    /// One plain write (it may wait).
    public func writeOnce(_ bytes: UnsafeBufferPointer<UInt8>) -> WriteOutcome {
        guard let p = bytes.baseAddress else { return .wrote(0) }
        do throws(Errno) {
            return .wrote(try retryingEINTR { CLinuxSys.write(rawValue, p, bytes.count) })
        } catch {
            return error == Errno.again ? .wouldBlock : .failed(error)
        }
    }

    /// Whether both are the same file (one pipe or terminal for both).
    public func isSameFile(as other: FileDescriptor) -> Bool {
        cls_same_file(rawValue, other.rawValue) == 1
    }

    /// Whether a write would not wait now (poll with a zero timeout).
    public var isWritable: Bool {
        (try? retryingEINTR { cls_poll_writable(rawValue) }) != 0
    }

    /// Reads without waiting: nil when nothing is there (EAGAIN).
    public func readAvailable(into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> Int? {
        do throws(Errno) {
            return try read(into: buffer, count: count)
        } catch {
            if error == Errno.again { return nil }
            throw error
        }
    }
}
