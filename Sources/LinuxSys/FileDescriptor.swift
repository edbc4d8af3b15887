import CLinuxSys

/// An owned descriptor. Every descriptor we create is close-on-exec.
public struct FileDescriptor: Equatable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardError = FileDescriptor(rawValue: 2)

    public func close() { _ = CLinuxSys.close(rawValue) }

    /// Writes all of `bytes`, or gives up on the first error (a log line is
    /// never worth blocking or dying for).
    public func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            guard let n = try? retryingEINTR({ CLinuxSys.write(rawValue, p, left) }), n > 0 else { return }
            p += n
            left -= n
        }
    }

    /// Reads up to `count` bytes; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> Int {
        try retryingEINTR { CLinuxSys.read(rawValue, buffer, count) }
    }

    /// Puts /dev/null on each of descriptors 0, 1 and 2 that is closed (not
    /// close-on-exec: they are the children's stdio). Throws when /dev/null
    /// cannot be opened; the closed ones then stay closed.
    public static func fillStandardDescriptors() throws(Errno) {
        _ = try retryingEINTR { cls_fill_standard_descriptors() }
    }

    public static func openDevNull() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingEINTR { cls_open_devnull() })
    }

    public static func openForReading(_ path: UnsafePointer<CChar>) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingEINTR { cls_open_read(path) })
    }
}
