/// dinit's command prefixes: `[:key[=value]:]...[-]program`. Each prefix is
/// a colon, a key, optionally `=` and a value, and a colon; any number of
/// them in any order, each key at most once. The table below is the whole
/// grammar: one loop reads any prefix through it.
struct CommandPrefix: Sendable {
    /// The key as written between the colons.
    let key: StaticString
    /// The placeholder of the value in messages (`NAME`), or "" when the key
    /// takes none.
    let value: StaticString
    /// Stores what the prefix says into the command; `value` is where its
    /// value lies in argv (empty for a key without one). Throws for a value
    /// it cannot take.
    let apply: @Sendable (inout ParsedCommand, ArgRange, [UInt8]) throws(ArgumentError) -> Void

    var takesValue: Bool { value.utf8CodeUnitCount > 0 }

    /// Every known prefix. A new one is one line here (plus the field of
    /// ParsedCommand it sets).
    static let all: [CommandPrefix] = [
        CommandPrefix(key: "wait", value: "", apply: { c, _, _ in c.isWait = true }),
        CommandPrefix(key: "notify", value: "", apply: { c, _, _ in c.isNotify = true }),
        CommandPrefix(key: "name", value: "NAME", apply: { c, v, a throws(ArgumentError) in try c.setName(v, a) }),
        CommandPrefix(key: "stop", value: "SIGNAL", apply: { c, v, a throws(ArgumentError) in try c.setStopSignal(v, a) }),
    ]

    /// Reads the prefixes at the start of `arg` (argument `index` of argv)
    /// into `command`; returns the offset just past the last one.
    static func parse(_ arg: [UInt8], index: Int, into command: inout ParsedCommand) throws(ArgumentError) -> Int {
        let colon = UInt8(ascii: ":")
        var seen: UInt64 = 0
        var offset = 0
        while offset < arg.count, arg[offset] == colon {
            guard let close = arg[(offset + 1)...].firstIndex(of: colon) else {
                throw ArgumentError(.unterminatedPrefix, arg)
            }
            let written = Array(arg[offset...close])
            let eq = arg[(offset + 1)..<close].firstIndex(of: UInt8(ascii: "="))
            let key = arg[(offset + 1)..<(eq ?? close)]
            guard let k = all.firstIndex(where: { matches(key, $0.key) }) else {
                throw ArgumentError(.unknownPrefix, arg, detail: written)
            }
            let prefix = all[k]
            if seen & (1 << UInt64(k)) != 0 { throw ArgumentError(.repeatedPrefix, arg, detail: written) }
            seen |= 1 << UInt64(k)
            var value = ArgRange(index: index, start: close, end: close)
            if let eq {
                if !prefix.takesValue { throw ArgumentError(.prefixTakesNoValue, arg, detail: written) }
                value.start = eq + 1
            }
            if prefix.takesValue, value.start == value.end {
                throw ArgumentError(.prefixNeedsValue, arg, detail: written)
            }
            try prefix.apply(&command, value, arg)
            offset = close + 1
        }
        if command.isWait && command.isNotify { throw ArgumentError(.conflictingPrefixes, arg) }
        return offset
    }

    /// The known prefixes as written, for messages: `:wait:, :name=NAME:, ...`.
    static func writeKnown(to line: LineWriter) {
        for (k, prefix) in all.enumerated() {
            if k > 0 { line.text(", ") }
            line.text(":"); line.text(prefix.key)
            if prefix.takesValue { line.text("="); line.text(prefix.value) }
            line.text(":")
        }
    }

    /// How the key of `written` (a prefix as written, `:key=value:`) is
    /// used, for messages: `:name=NAME:`.
    static func writeUsage(of written: [UInt8], to line: LineWriter) {
        var end = 1
        while end < written.count, written[end] != UInt8(ascii: "="), written[end] != UInt8(ascii: ":") { end += 1 }
        guard end <= written.count, let prefix = all.first(where: { matches(written[1..<end], $0.key) }) else { return }
        line.text(":"); line.text(prefix.key)
        if prefix.takesValue { line.text("="); line.text(prefix.value) }
        line.text(":")
    }
}

/// Values of the prefixes.
extension ParsedCommand {
    /// The most bytes a `:name=NAME:` may have.
    public static let maxNameLength = 32

    /// `:name=NAME:`: 1-32 bytes of `[A-Za-z0-9._-]`, so that a name needs no
    /// escaping in a log line, a journal field or an output tag.
    mutating func setName(_ value: ArgRange, _ arg: [UInt8]) throws(ArgumentError) {
        let bytes = arg[value.start..<value.end]
        let valid = bytes.count <= Self.maxNameLength && bytes.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || SignalName.isDigit(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        if !valid { throw ArgumentError(.invalidName, arg, detail: Array(bytes)) }
        name = value
    }

    /// `:stop=SIGNAL:`: any signal but KILL and STOP, after which there is
    /// nothing to escalate to.
    mutating func setStopSignal(_ value: ArgRange, _ arg: [UInt8]) throws(ArgumentError) {
        let bytes = arg[value.start..<value.end]
        guard let signo = SignalName.parse(bytes) else { throw ArgumentError(.invalidSignal, arg, detail: Array(bytes)) }
        if signo == SignalNumber.kill || signo == SignalNumber.stop {
            throw ArgumentError(.unstoppableSignal, arg, detail: Array(bytes))
        }
        stopSignal = signo
    }
}
