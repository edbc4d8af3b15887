#if Journald
import CSystemd
#endif
import CLinuxSys

/// systemd-journald through libsystemd's sd_journal_sendv, in builds with the
/// Journald trait (`swift build --traits Journald`); without it, `available`
/// is false and nothing links libsystemd.
public struct Journal {
    public static var available: Bool {
        #if Journald
        return true
        #else
        return false
        #endif
    }

    /// Whether journald's socket exists. libsystemd silently drops entries
    /// when it does not, so callers check once and keep stderr otherwise.
    public static var reachable: Bool {
        available && access("/run/systemd/journal/socket", W_OK) == 0
    }

    #if Journald
    let vectors: UnsafeMutablePointer<iovec>
    #endif
    public static let maxFields = 16

    public init() {
        #if Journald
        vectors = UnsafeMutablePointer<iovec>.allocate(capacity: Self.maxFields)
        #endif
    }

    /// Sends one entry. `fields` holds `KEY=value` lines, each ended by a
    /// newline (values must not contain one). Returns false when the entry
    /// could not be sent (no journal socket), so the caller can fall back.
    public func send(_ fields: UnsafeBufferPointer<UInt8>) -> Bool {
        #if Journald
        guard let base = fields.baseAddress else { return false }
        var n = 0
        var start = 0
        for i in 0..<fields.count where fields[i] == 10 {
            if n == Self.maxFields { break }
            vectors[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + start), iov_len: i - start)
            n += 1
            start = i + 1
        }
        return csd_journal_sendv(vectors, Int32(n)) >= 0
        #else
        return false
        #endif
    }
}
