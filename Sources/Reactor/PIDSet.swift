import LinuxSys

/// A set of PIDs in a buffer allocated once and kept sorted: lookup by
/// binary search, nothing allocated after init. When full, `insert` refuses
/// (the caller then treats the PID as not recorded).
struct PIDSet {
    let buffer: UnsafeMutablePointer<Int32>
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        buffer = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
    }

    /// The first index whose PID is not below `pid`.
    func lowerBound(_ pid: Int32) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if buffer[mid] < pid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func contains(_ pid: Int32) -> Bool {
        let i = lowerBound(pid)
        return i < count && buffer[i] == pid
    }

    /// Adds `pid`; false when the set is full.
    @discardableResult
    mutating func insert(_ pid: Int32) -> Bool {
        let i = lowerBound(pid)
        if i < count && buffer[i] == pid { return true }
        guard count < capacity else { return false }
        var k = count
        while k > i { buffer[k] = buffer[k - 1]; k -= 1 }
        buffer[i] = pid
        count += 1
        return true
    }

    mutating func remove(_ pid: Int32) {
        let i = lowerBound(pid)
        guard i < count && buffer[i] == pid else { return }
        for k in i..<(count - 1) { buffer[k] = buffer[k + 1] }
        count -= 1
    }

    mutating func removeAll() { count = 0 }
}
