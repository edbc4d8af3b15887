/// pid -> child index, for a child of ours that waitid(P_ALL) reaps
/// instead of its pidfd (see Reactor.reapAll). Open addressing with linear
/// probing and backward-shift deletion, sized at start-up to at least twice
/// the number of children: lookups stay O(1) however many children run,
/// and nothing allocates after start-up.
struct PidTable {
    /// 0 marks an empty slot (no process has pid 0).
    var keys: [Int32]
    var values: [Int32]
    let mask: Int

    init(capacity: Int) {
        var size = 8
        while size < 2 * capacity { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
    }

    func home(_ pid: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    mutating func insert(_ pid: Int32, _ child: Int) {
        var i = home(pid)
        while keys[i] != 0, keys[i] != pid { i = (i + 1) & mask }
        keys[i] = pid
        values[i] = Int32(truncatingIfNeeded: child)
    }

    func find(_ pid: Int32) -> Int? {
        var i = home(pid)
        while keys[i] != 0 {
            if keys[i] == pid { return Int(values[i]) }
            i = (i + 1) & mask
        }
        return nil
    }

    mutating func remove(_ pid: Int32) {
        var i = home(pid)
        while keys[i] != pid {
            if keys[i] == 0 { return }
            i = (i + 1) & mask
        }
        // Move back each later entry of the run that may not stay behind
        // the hole (its home is not cyclically in (i, j]).
        var j = i
        while true {
            j = (j + 1) & mask
            if keys[j] == 0 { break }
            let k = home(keys[j])
            let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if !stays {
                keys[i] = keys[j]
                values[i] = values[j]
                i = j
            }
        }
        keys[i] = 0
    }
}
