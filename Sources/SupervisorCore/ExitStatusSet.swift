/// A set of exit statuses 0-255 in four words: what `-e` declares a success.
/// Fixed size, so asking it never allocates.
public struct ExitStatusSet: Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public init(_ statuses: [UInt8]) {
        for s in statuses { insert(s) }
    }

    public mutating func insert(_ status: UInt8) {
        let bit = UInt64(1) << UInt64(status & 63)
        switch status >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    /// Whether `status` (an exit code, or the number of the signal that
    /// killed the child) is in the set.
    public func contains(_ status: Int32) -> Bool {
        guard status >= 0, status <= 255 else { return false }
        let bit = UInt64(1) << UInt64(status & 63)
        switch status >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    public var isEmpty: Bool { words == (0, 0, 0, 0) }

    public static func == (a: ExitStatusSet, b: ExitStatusSet) -> Bool { a.words == b.words }

    /// `0` to `255`, decimal digits only.
    public static func parse(_ s: [UInt8]) -> UInt8? {
        guard !s.isEmpty, s.count <= 3 else { return nil }
        var n = 0
        for c in s {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
        }
        return n <= 255 ? UInt8(n) : nil
    }
}
