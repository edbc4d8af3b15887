/// Command-line parsing shared by dinit and dcrond: pure functions over argv
/// as bytes (no String, so no Unicode tables in the embedded build).

/// A position in argv: argument `index`, starting at byte `offset`. Commands
/// are never copied: the spawner points straight into argv (`offset` skips
/// the prefixes and `-`, or the backslash of an escaped `\--`).
public struct ArgRef: Equatable {
    public var index: Int
    public var offset: Int
    public init(index: Int, offset: Int) {
        self.index = index
        self.offset = offset
    }
}

/// A part of one argument: bytes `start..<end` of argument `index` (a
/// prefix's value, such as the NAME of `:name=NAME:`).
public struct ArgRange: Equatable {
    public var index: Int
    public var start: Int
    public var end: Int
    public init(index: Int, start: Int, end: Int) {
        self.index = index
        self.start = start
        self.end = end
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
        /// `-e` with something other than 0-255.
        case invalidStatus
        /// Command prefixes; `detail` is the prefix as written (`:key=value:`).
        case unknownPrefix
        case repeatedPrefix
        case prefixNeedsValue
        case prefixTakesNoValue
        /// A `:` that starts a prefix but no `:` that ends it.
        case unterminatedPrefix
        /// A program that starts with `:` after a `-` (`-:prog`).
        case colonProgram
        /// Prefix values; `detail` is the value.
        case invalidName
        case invalidSignal
        /// `:stop=KILL:` or `:stop=STOP:`.
        case unstoppableSignal
        /// `:wait:` and `:notify:` on one command.
        case conflictingPrefixes
    }

    public var kind: Kind
    /// The offending argument (or option), for the message.
    public var argument: [UInt8]
    /// The offending part of it (a prefix or a value), when there is one.
    public var detail: [UInt8]

    public init(_ kind: Kind, _ argument: [UInt8] = [], detail: [UInt8] = []) {
        self.kind = kind
        self.argument = argument
        self.detail = detail
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
        case .conflictingPrefixes:
            line.text("':wait:' and ':notify:' cannot be combined, in '"); line.escaped(argument); line.text("'")
        case .noJournalSupport:
            line.text("-j: built without journald support (build with: swift build --traits Journald)")
        case .extraArgument:
            line.text("unexpected argument '"); line.escaped(argument)
            line.text("' (the command line must be a single argument; quote it)")
        case .invalidStatus:
            line.text("invalid exit status '"); line.escaped(argument); line.text("' for -e (expected 0 to 255)")
        case .unknownPrefix:
            line.text("unknown prefix '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' (known: "); CommandPrefix.writeKnown(to: line); line.text(")")
        case .repeatedPrefix:
            line.text("prefix '"); line.escaped(detail); line.text("' repeats a key in '"); line.escaped(argument)
            line.text("' (each key at most once)")
        case .prefixNeedsValue:
            line.text("prefix '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' needs a value: "); CommandPrefix.writeUsage(of: detail, to: line)
        case .prefixTakesNoValue:
            line.text("prefix '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' takes no value: "); CommandPrefix.writeUsage(of: detail, to: line)
        case .unterminatedPrefix:
            line.text("unterminated prefix in '"); line.escaped(argument)
            line.text("' (a prefix is :key: or :key=value:; a program whose name starts with ':' is written ./:prog)")
        case .colonProgram:
            line.text("program in '"); line.escaped(argument)
            line.text("' starts with ':' (prefixes go before '-'; a program whose name starts with ':' is written ./:prog)")
        case .invalidName:
            line.text("invalid name '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' (expected 1 to 32 of A-Z a-z 0-9 . _ -)")
        case .invalidSignal:
            line.text("invalid signal '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' (expected a name such as QUIT, SIGUSR1 or RTMIN+3, or a number 1 to 64)")
        case .unstoppableSignal:
            line.text("stop signal '"); line.escaped(detail); line.text("' in '"); line.escaped(argument)
            line.text("' refused: KILL and STOP leave nothing to escalate to (dinit sends SIGKILL after -k itself)")
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
    /// `:name=NAME:`: the name in log lines instead of the program.
    public var name: ArgRange?
    /// `:stop=SIGNAL:`: the signal that stops this command instead of the
    /// shutdown signal.
    public var stopSignal: Int32?
    /// `:notify:`: the next command starts when this one sends READY=1.
    public var isNotify: Bool

    public init(isWait: Bool, ignoresFailure: Bool, args: [ArgRef], isNotify: Bool = false, name: ArgRange? = nil,
                stopSignal: Int32? = nil) {
        self.isWait = isWait
        self.ignoresFailure = ignoresFailure
        self.args = args
        self.isNotify = isNotify
        self.name = name
        self.stopSignal = stopSignal
    }
}

public struct DinitConfiguration: Equatable {
    public var quiet = 0
    public var startupDelay: Nanoseconds = 1_000_000_000
    public var killTimeout: Nanoseconds = 5_000_000_000
    /// `-r`: seconds a `:notify:` command may take to send READY=1 (0: no
    /// limit; 90 like systemd's default start timeout).
    public var readyTimeout: Nanoseconds = 90_000_000_000
    /// `-g`: signals go to each child's process group.
    public var signalGroups = false
    /// `-j`: log to systemd-journald (builds with the Journald trait).
    public var journal = false
    /// `-e N`: child exit statuses that count as success for dinit's own.
    public var successStatuses = ExitStatusSet()
    /// `-t seconds`: the whole shutdown fits in this; nil: no budget.
    public var stopBudget: Nanoseconds? = nil
    /// `-p`: children's output comes through dinit, each line tagged.
    public var tagOutput = false
    public var commands: [ParsedCommand] = []
    public init() {}
}

/// `dinit [-q...] [-g] [-j] [-p] [-e status]... [-d startup_delay] [-k kill_timeout] [-r ready_timeout] [-t stop_budget]
/// -- command -- ...`
/// `command := [:key[=value]:]...[-]program [args...]` (see CommandPrefix).
/// The first `--` may be left out
/// when the first program does not start with `-`. A lone `--` always
/// separates commands; `\--` reaches the program as `--` (one backslash is
/// removed from any argument made of backslashes followed by `--`).
public func parseDinitArguments(_ argv: [[UInt8]]) throws(ArgumentError) -> Invocation<DinitConfiguration> {
    var config = DinitConfiguration()
    var scanner = OptionScanner(argv)
    scanning: while true {
        switch try scanner.next(valueOptions: [UInt8(ascii: "d"), UInt8(ascii: "k"), UInt8(ascii: "e"),
                                               UInt8(ascii: "t"), UInt8(ascii: "r")],
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
            if option == UInt8(ascii: "e") {
                guard let status = ExitStatusSet.parse(value) else { throw ArgumentError(.invalidStatus, value) }
                config.successStatuses.insert(status)
                continue
            }
            let ns = try OptionScanner.seconds(value)
            switch option {
            case UInt8(ascii: "d"): config.startupDelay = ns
            case UInt8(ascii: "t"): config.stopBudget = ns
            case UInt8(ascii: "r"): config.readyTimeout = ns
            default: config.killTimeout = ns
            }
        }
    }
    var i = scanner.index
    if i < argv.count, argv[i] == OptionScanner.dashDash { i += 1 }
    if i >= argv.count { throw ArgumentError(.noCommand) }

    var current: [ArgRef] = []
    var command = ParsedCommand(isWait: false, ignoresFailure: false, args: [])
    while true {
        let atEnd = i >= argv.count
        if atEnd || argv[i] == OptionScanner.dashDash {
            if current.isEmpty { throw ArgumentError(.emptyCommand) }
            command.args = current
            config.commands.append(command)
            current = []
            command = ParsedCommand(isWait: false, ignoresFailure: false, args: [])
            if atEnd { break }
            i += 1
            continue
        }
        let a = argv[i]
        if current.isEmpty {
            var offset = try CommandPrefix.parse(a, index: i, into: &command)
            if offset < a.count, a[offset] == UInt8(ascii: "-") {
                command.ignoresFailure = true
                offset += 1
            }
            if offset == a.count { throw ArgumentError(.missingProgram, a) }
            if a[offset] == UInt8(ascii: ":") { throw ArgumentError(.colonProgram, a) }
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

/// The bytes an ArgRange stands for.
public func argumentBytes(_ argv: [[UInt8]], _ range: ArgRange) -> [UInt8] {
    Array(argv[range.index][range.start..<range.end])
}

/// Byte-wise equality with a static string (argv is compared as bytes).
func matches(_ a: [UInt8], _ s: StaticString) -> Bool {
    s.withUTF8Buffer { b in a.count == b.count && hasPrefix(a, b) }
}

func matches(_ a: ArraySlice<UInt8>, _ s: StaticString) -> Bool {
    s.withUTF8Buffer { b in a.elementsEqual(b) }
}

func hasPrefix(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    if a.count < b.count { return false }
    for k in 0..<b.count where a[k] != b[k] { return false }
    return true
}
