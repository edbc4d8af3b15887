/// Signal names as `kill -l` spells them, with Linux numbering (the same on
/// x86_64 and aarch64; the numbers are the kernel's, not a libc's).
public enum SignalName {
    /// The classic signals, with the aliases util-linux `kill` accepts.
    static let table: [(name: StaticString, number: Int32)] = [
        ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
        ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13),
        ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17), ("CONT", 18),
        ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24),
        ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("POLL", 29),
        ("PWR", 30), ("SYS", 31),
    ]

    /// SIGRTMIN as glibc, procps and util-linux report it: the kernel's 32
    /// and 33 are taken by glibc's threads (musl also takes 34, but a
    /// program built against glibc, and `kill -l`, count from 34).
    public static let realtimeMin: Int32 = 34
    public static let realtimeMax: Int32 = 64

    /// Parses a signal: a name with or without `SIG`, in any case (`QUIT`,
    /// `sigquit`, `RTMIN+3`, `RTMAX-2`), or a number 1-64. nil if it is none.
    public static func parse(_ s: ArraySlice<UInt8>) -> Int32? {
        if let first = s.first, isDigit(first) {
            return number(s).flatMap { $0 >= 1 && $0 <= realtimeMax ? $0 : nil }
        }
        var name = s
        if hasPrefixIgnoringCase(name, "SIG") { name = name.dropFirst(3) }
        for entry in table where equalsIgnoringCase(name, entry.name) { return entry.number }
        return realtime(name, "RTMIN", base: realtimeMin, sign: UInt8(ascii: "+"))
            ?? realtime(name, "RTMAX", base: realtimeMax, sign: UInt8(ascii: "-"))
    }

    /// `RTMIN`, `RTMIN+n` (sign `+`) or `RTMAX`, `RTMAX-n` (sign `-`),
    /// within SIGRTMIN...SIGRTMAX.
    static func realtime(_ name: ArraySlice<UInt8>, _ spelling: StaticString, base: Int32, sign: UInt8) -> Int32? {
        guard hasPrefixIgnoringCase(name, spelling) else { return nil }
        let rest = name.dropFirst(spelling.utf8CodeUnitCount)
        if rest.isEmpty { return base }
        guard rest.first == sign, let n = number(rest.dropFirst()) else { return nil }
        let signo = sign == UInt8(ascii: "+") ? base + n : base - n
        return signo >= realtimeMin && signo <= realtimeMax ? signo : nil
    }

    /// Up to three decimal digits and nothing else.
    static func number(_ s: ArraySlice<UInt8>) -> Int32? {
        guard !s.isEmpty, s.count <= 3 else { return nil }
        var n: Int32 = 0
        for c in s {
            guard isDigit(c) else { return nil }
            n = n * 10 + Int32(c - UInt8(ascii: "0"))
        }
        return n
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static func upper(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") ? c - 32 : c
    }

    static func hasPrefixIgnoringCase(_ a: ArraySlice<UInt8>, _ s: StaticString) -> Bool {
        s.withUTF8Buffer { b in
            if a.count < b.count { return false }
            var i = a.startIndex
            for c in b {
                if upper(a[i]) != c { return false }
                i += 1
            }
            return true
        }
    }

    static func equalsIgnoringCase(_ a: ArraySlice<UInt8>, _ s: StaticString) -> Bool {
        a.count == s.utf8CodeUnitCount && hasPrefixIgnoringCase(a, s)
    }
}
