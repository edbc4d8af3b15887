import CLinuxSys

/// The children of this process as the kernel lists them in
/// /proc/self/task/<pid>/children (CONFIG_PROC_CHILDREN). Used when not PID 1
/// to signal adopted orphans: they are our unreaped children, so their PIDs
/// cannot have been recycled.
public struct ChildList {
    let buffer: UnsafeMutablePointer<UInt8>
    let capacity = 4096

    public init() {
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    /// Calls `body` with each child PID; false when the list is unavailable
    /// (no /proc).
    public func forEach(_ body: (Int32) -> Void) -> Bool {
        // Path: "/proc/self/task/" + pid + "/children", built in the buffer.
        var n = 0
        func put(_ s: StaticString) {
            s.withUTF8Buffer { for b in $0 { buffer[n] = b; n += 1 } }
        }
        put("/proc/self/task/")
        var pid = UInt32(getpid())
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var k = 0
        withUnsafeMutableBytes(of: &tmp) { d in
            repeat { d[k] = UInt8(48 + pid % 10); pid /= 10; k += 1 } while pid != 0
            while k > 0 { k -= 1; buffer[n] = d[k]; n += 1 }
        }
        put("/children")
        buffer[n] = 0
        let fd: FileDescriptor
        do {
            fd = try buffer.withMemoryRebound(to: CChar.self, capacity: n + 1) { p throws(Errno) in
                try FileDescriptor.openForReading(p)
            }
        } catch {
            return false
        }
        defer { fd.close() }
        var value: Int32 = 0
        var inNumber = false
        while true {
            guard let got = try? fd.read(into: buffer, count: capacity), got > 0 else { break }
            for i in 0..<got {
                let c = buffer[i]
                if c >= 48 && c <= 57 {
                    value = value &* 10 &+ Int32(c - 48)
                    inNumber = true
                } else if inNumber {
                    body(value)
                    value = 0
                    inNumber = false
                }
            }
        }
        if inNumber { body(value) }
        return true
    }
}
