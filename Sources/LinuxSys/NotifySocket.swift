import CLinuxSys

/// The sd_notify socket that `:notify:` children report to: an autobound
/// abstract datagram socket (no filesystem needed) whose messages carry the
/// sender's credentials. Datagrams are read into one buffer allocated here,
/// at start-up.
public struct NotifySocket {
    public let fd: FileDescriptor
    /// Whether the kernel attaches a pidfd of the sender (Linux 6.5+).
    public let passesPidfd: Bool
    /// `NOTIFY_SOCKET=@<name>`, NUL-terminated, for the children's
    /// environment; lives for the whole run.
    public let environmentEntry: UnsafeMutablePointer<CChar>
    let buffer: UnsafeMutablePointer<UInt8>
    /// The largest datagram accepted; longer ones are dropped as truncated.
    public static let capacity = 4096

    public init() throws(Errno) {
        let prefix: StaticString = "NOTIFY_SOCKET="
        let prefixLength = prefix.utf8CodeUnitCount
        let entry = UnsafeMutablePointer<CChar>.allocate(capacity: prefixLength + 110)
        prefix.withUTF8Buffer { p in
            for k in 0..<prefixLength { entry[k] = CChar(bitPattern: p[k]) }
        }
        var pidfd: Int32 = 0
        let raw = cls_notify_socket(entry + prefixLength, 110, &pidfd)
        if raw < 0 {
            let e = Errno.current
            entry.deallocate()
            throw e
        }
        fd = FileDescriptor(rawValue: raw)
        passesPidfd = pidfd != 0
        environmentEntry = entry
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.capacity)
    }

    /// One read from the socket.
    public enum Reception {
        /// Nothing (more) is queued.
        case empty
        /// A datagram that cannot count: truncated, without credentials, or
        /// from a process that is already gone.
        case dropped
        /// `length` bytes in `bytes`, sent by `sender`, whose process group
        /// was `group` while it still ran.
        case message(length: Int, sender: Int32, group: Int32)
    }

    /// Reads one datagram. The sender's process group is looked up by pid;
    /// with a pidfd the sender is then checked to be still alive, so that
    /// the pid (and its group) were still its own: a recycled pid cannot
    /// pass for it.
    public func receive() throws(Errno) -> Reception {
        var r = cls_notify_received()
        let got = try retryingEINTR { cls_notify_receive(fd.rawValue, buffer, Self.capacity, &r) }
        if got == 0 { return .empty }
        defer { if r.pidfd >= 0 { _ = CLinuxSys.close(r.pidfd) } }
        if r.truncated != 0 || r.pid <= 0 { return .dropped }
        if passesPidfd, r.pidfd < 0 { return .dropped }
        let group = cls_getpgid(r.pid)
        if group <= 0 { return .dropped }
        if r.pidfd >= 0, cls_pidfd_alive(r.pidfd) != 1 { return .dropped }
        return .message(length: Int(r.length), sender: r.pid, group: group)
    }

    /// The bytes of the datagram just received.
    public func bytes(_ length: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: buffer, count: length)
    }
}

/// Our own service manager's sd_notify socket (`NOTIFY_SOCKET` in our
/// environment: systemd with `Type=notify`, or another dinit).
public struct ParentNotifier {
    let fd: FileDescriptor

    /// Whether our environment names a notify socket.
    public static var requested: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// nil when NOTIFY_SOCKET is unset, malformed or cannot be reached.
    public init?() {
        guard let address = getenv("NOTIFY_SOCKET") else { return nil }
        guard let raw = try? retryingEINTR({ cls_notify_parent_open(address) }) else { return nil }
        fd = FileDescriptor(rawValue: raw)
    }

    /// Sends one message, never blocking; a lost message is not worth more.
    public func send(_ message: StaticString) {
        _ = message.withUTF8Buffer { b in
            try? retryingEINTR { cls_notify_parent_send(fd.rawValue, b.baseAddress, b.count) }
        }
    }
}

/// The environments children are spawned with, built once at start-up.
public enum ChildEnvironment {
    /// Our environment without `NOTIFY_SOCKET` (a child must never talk to
    /// our own service manager by accident), plus `extra` (a `KEY=value`
    /// string that lives for the whole run) when given. nil when that is
    /// exactly our environment: spawn with it as it is.
    public static func make(adding extra: UnsafeMutablePointer<CChar>?) -> UnsafePointer<UnsafeMutablePointer<CChar>?>? {
        let name: StaticString = "NOTIFY_SOCKET="
        let env = cls_environ()
        var count = 0
        var inherited = false
        if let env {
            while let entry = env[count] {
                if startsWith(entry, name) { inherited = true }
                count += 1
            }
        }
        if !inherited && extra == nil { return nil }
        let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: count + 2)
        var n = 0
        for k in 0..<count {
            guard let entry = env?[k], !startsWith(entry, name) else { continue }
            table[n] = entry
            n += 1
        }
        if let extra {
            table[n] = extra
            n += 1
        }
        table[n] = nil
        return UnsafePointer(table)
    }

    static func startsWith(_ s: UnsafeMutablePointer<CChar>, _ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { p in
            for k in 0..<p.count where UInt8(bitPattern: s[k]) != p[k] { return false }
            return true
        }
    }
}
