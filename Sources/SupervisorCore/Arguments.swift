/// Command-line parsing shared by dinit and dcrond: pure functions over argv
/// as bytes (no String, so no Unicode tables in the embedded build).

/// A position in argv: argument `index`, starting at byte `offset`. Commands
/// are never copied: the spawner points straight into argv (`offset` skips a
/// `:wait:` or `-` prefix, or the backslash of an escaped `\--`).
public struct ArgRef: Equatable {
    public var index: Int
    public var offset: Int
    public init(index: Int, offset: Int) {
        self.index = index
        self.offset = offset
    }
}

/// A bad command line, reported as one line before anything starts.
public struct ArgumentError: Error, Equatable {
    public enum Kind: Equatable, Sendable {
        /// No command given: print the usage instead of a one-line error.
        case noCommand
        case unknownOption
        case missingValue
        case invalidValue
        case tooManyQuiet
        /// `--` followed by another `--` or by nothing.
        case emptyCommand
        /// `:wait:`, `-` or `:wait:-` with no program after it.
        case missingProgram
        case missingInterval
        case zeroInterval
        case missingCommandline
        case extraArgument
        /// `-j` in a build without the Journald trait.
        case noJournalSupport
    }

    public var kind: Kind
    /// The offending argument (or option), for the message.
    public var argument: [UInt8]

    public init(_ kind: Kind, _ argument: [UInt8] = []) {
        self.kind = kind
        self.argument = argument
    }

    /// Writes the message (without program prefix or newline).
    public func write(to line: LineWriter) {
        switch kind {
        case .noCommand: line.text("no command given")
        case .unknownOption: line.text("unknown option '"); line.escaped(argument); line.text("'")
        case .missingValue: line.text("option '"); line.escaped(argument); line.text("' needs a value")
        case .invalidValue:
            line.text("invalid number of seconds '"); line.escaped(argument)
            line.text("' (expected a non-negative decimal such as 1 or 0.25)")
        case .tooManyQuiet: line.text("-q can be given at most three times")
        case .emptyCommand: line.text("empty command: '--' must be followed by a program")
        case .missingProgram: line.text("no program after the prefix in '"); line.escaped(argument); line.text("'")
        case .missingInterval: line.text("missing -i interval (seconds between runs, greater than 0)")
        case .missingCommandline: line.text("no command line given")
        case .zeroInterval: line.text("the interval must be greater than 0, not '"); line.escaped(argument); line.text("'")
        case .noJournalSupport:
            line.text("-j: built without journald support (build with: swift build --traits Journald)")
        case .extraArgument:
            line.text("unexpected argument '"); line.escaped(argument)
            line.text("' (the command line must be a single argument; quote it)")
        }
    }
}

public enum Seconds {
    /// The largest accepted value: 999,999,999 s (about 31 years).
    public static let maxIntegerDigits = 9

    /// Parses `12`, `0.25`, `.5` or `5.` into nanoseconds. Rejects signs,
    /// exponents, `nan`, `inf`, empty strings and values of a billion seconds
    /// or more. Digits past nanoseconds are dropped.
    public static func parse(_ s: [UInt8]) -> Nanoseconds? {
        var whole: Int64 = 0
        var wholeDigits = 0
        var frac: Int64 = 0
        var fracScale: Int64 = 100_000_000
        var sawDot = false
        var digits = 0
        for c in s {
            if c == UInt8(ascii: ".") {
                if sawDot { return nil }
                sawDot = true
                continue
            }
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let d = Int64(c - UInt8(ascii: "0"))
            digits += 1
            if sawDot {
                frac += d * fracScale
                fracScale /= 10
            } else {
                if wholeDigits > 0 || d != 0 { wholeDigits += 1 }
                if wholeDigits > maxIntegerDigits { return nil }
                whole = whole * 10 + d
            }
        }
        if digits == 0 { return nil }
        return whole * 1_000_000_000 + frac
    }
}

/// Walks the options in front of the commands. Options may be clustered as
/// `-qq` and take their value attached (`-d0.5`) or as the next argument.
struct OptionScanner {
    let argv: [[UInt8]]
    var index = 1

    init(_ argv: [[UInt8]]) { self.argv = argv }

    static let dashDash: [UInt8] = [45, 45]

    enum Item {
        case end                 // `--`, a non-option, or the end of argv
        case help
        case version
        case flags(quiet: Int, letters: [UInt8])
        case value(option: UInt8, value: [UInt8])
    }

    /// `valueOptions`: the letters that take a value; `flagOptions`: the
    /// letters besides `q` that take none.
    mutating func next(valueOptions: [UInt8], flagOptions: [UInt8] = []) throws(ArgumentError) -> Item {
        guard index < argv.count else { return .end }
        let a = argv[index]
        if a == Self.dashDash { return .end }
        if a.count < 2 || a[0] != UInt8(ascii: "-") { return .end }
        if matches(a, "--help") || matches(a, "-h") { index += 1; return .help }
        if matches(a, "--version") || matches(a, "-V") { index += 1; return .version }
        let letter = a[1]
        if letter == UInt8(ascii: "q") || flagOptions.contains(letter) {
            // A cluster of flags: -qq, -qqg, -g.
            var quiet = 0
            var flags: [UInt8] = []
            for c in a.dropFirst() {
                if c == UInt8(ascii: "q") {
                    quiet += 1
                } else if flagOptions.contains(c) {
                    flags.append(c)
                } else {
                    throw ArgumentError(.unknownOption, a)
                }
            }
            index += 1
            return .flags(quiet: quiet, letters: flags)
        }
        if valueOptions.contains(letter) {
            index += 1
            if a.count > 2 { return .value(option: letter, value: Array(a[2...])) }
            guard index < argv.count else { throw ArgumentError(.missingValue, a) }
            let v = argv[index]
            index += 1
            return .value(option: letter, value: v)
        }
        throw ArgumentError(.unknownOption, a)
    }

    static func seconds(_ v: [UInt8]) throws(ArgumentError) -> Nanoseconds {
        guard let ns = Seconds.parse(v) else { throw ArgumentError(.invalidValue, v) }
        return ns
    }
}

/// What a command line asks for.
public enum Invocation<Configuration: Equatable>: Equatable {
    case run(Configuration)
    case help
    case version
}

// MARK: - dinit

/// One command of dinit's list.
public struct ParsedCommand: Equatable {
    /// `:wait:`: must run to completion before the next command starts.
    public var isWait: Bool
    /// `-`: a nonzero exit status is no error.
    public var ignoresFailure: Bool
    /// argv of the program; the first is the program itself.
    public var args: [ArgRef]

    public init(isWait: Bool, ignoresFailure: Bool, args: [ArgRef]) {
        self.isWait = isWait
        self.ignoresFailure = ignoresFailure
        self.args = args
    }
}

public struct DinitConfiguration: Equatable {
    public var quiet = 0
    public var startupDelay: Nanoseconds = 1_000_000_000
    public var killTimeout: Nanoseconds = 5_000_000_000
    /// `-g`: signals go to each child's process group.
    public var signalGroups = false
    /// `-j`: log to systemd-journald (builds with the Journald trait).
    public var journal = false
    /// `-p`: children's output comes through dinit, each line tagged.
    public var tagOutput = false
    public var commands: [ParsedCommand] = []
    public init() {}
}

/// `dinit [-q...] [-g] [-j] [-p] [-d startup_delay] [-k kill_timeout] -- command -- command ...`
/// `command := [:wait:][-]program [args...]`. The first `--` may be left out
/// when the first program does not start with `-`. A lone `--` always
/// separates commands; `\--` reaches the program as `--` (one backslash is
/// removed from any argument made of backslashes followed by `--`).
public func parseDinitArguments(_ argv: [[UInt8]]) throws(ArgumentError) -> Invocation<DinitConfiguration> {
    var config = DinitConfiguration()
    var scanner = OptionScanner(argv)
    scanning: while true {
        switch try scanner.next(valueOptions: [UInt8(ascii: "d"), UInt8(ascii: "k")],
                                flagOptions: [UInt8(ascii: "g"), UInt8(ascii: "j"), UInt8(ascii: "p")]) {
        case .end: break scanning
        case .help: return .help
        case .version: return .version
        case .flags(let quiet, let letters):
            config.quiet += quiet
            if config.quiet > 3 { throw ArgumentError(.tooManyQuiet) }
            if letters.contains(UInt8(ascii: "g")) { config.signalGroups = true }
            if letters.contains(UInt8(ascii: "j")) { config.journal = true }
            if letters.contains(UInt8(ascii: "p")) { config.tagOutput = true }
        case .value(let option, let value):
            let ns = try OptionScanner.seconds(value)
            if option == UInt8(ascii: "d") { config.startupDelay = ns } else { config.killTimeout = ns }
        }
    }
    var i = scanner.index
    if i < argv.count, argv[i] == OptionScanner.dashDash { i += 1 }
    if i >= argv.count { throw ArgumentError(.noCommand) }

    var current: [ArgRef] = []
    var isWait = false
    var ignores = false
    while true {
        let atEnd = i >= argv.count
        if atEnd || argv[i] == OptionScanner.dashDash {
            if current.isEmpty { throw ArgumentError(.emptyCommand) }
            config.commands.append(ParsedCommand(isWait: isWait, ignoresFailure: ignores, args: current))
            current = []
            isWait = false
            ignores = false
            if atEnd { break }
            i += 1
            continue
        }
        let a = argv[i]
        if current.isEmpty {
            var offset = 0
            if hasPrefix(a, ":wait:") {
                isWait = true
                offset = 6
            }
            if offset < a.count, a[offset] == UInt8(ascii: "-") {
                ignores = true
                offset += 1
            }
            if offset == a.count { throw ArgumentError(.missingProgram, a) }
            offset += escapeLength(a, from: offset)
            current.append(ArgRef(index: i, offset: offset))
        } else {
            current.append(ArgRef(index: i, offset: escapeLength(a, from: 0)))
        }
        i += 1
    }
    return .run(config)
}

/// 1 when `arg[from...]` is one or more backslashes followed by `--` (the
/// escape for a literal `--`), else 0.
func escapeLength(_ arg: [UInt8], from: Int) -> Int {
    var j = from
    while j < arg.count, arg[j] == UInt8(ascii: "\\") { j += 1 }
    if j == from || arg.count - j != 2 { return 0 }
    return arg[j] == UInt8(ascii: "-") && arg[j + 1] == UInt8(ascii: "-") ? 1 : 0
}

/// The bytes an ArgRef stands for.
public func argumentBytes(_ argv: [[UInt8]], _ ref: ArgRef) -> [UInt8] {
    Array(argv[ref.index][ref.offset...])
}

/// Byte-wise equality with a static string (argv is compared as bytes).
func matches(_ a: [UInt8], _ s: StaticString) -> Bool {
    s.withUTF8Buffer { b in a.count == b.count && hasPrefix(a, b) }
}

func hasPrefix(_ a: [UInt8], _ s: StaticString) -> Bool {
    s.withUTF8Buffer { b in hasPrefix(a, b) }
}

func hasPrefix(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    if a.count < b.count { return false }
    for k in 0..<b.count where a[k] != b[k] { return false }
    return true
}
