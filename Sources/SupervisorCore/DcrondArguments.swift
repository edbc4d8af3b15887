/// dcrond's command line:
/// `dcrond [-q...] [-d delay] [-k kill_timeout] -i interval [--] [-]commandline`.
public struct DcrondConfiguration: Equatable {
    public var quiet = 0
    public var delay: Nanoseconds = 0
    public var interval: Nanoseconds = 0
    public var killTimeout: Nanoseconds = 5_000_000_000
    /// The command line as given, with a leading `-` stripped.
    public var commandline = ArgRef(index: 0, offset: 0)
    /// The command line started with `-`: failures are only logged.
    public var ignoresFailure = false
    /// `-j`: log to systemd-journald (builds with the Journald trait).
    public var journal = false
    public init() {}
}

/// The `--` is optional and needed only when the command line starts with
/// `-`. Exactly one command line argument: it goes to `/bin/sh -c` as is.
public func parseDcrondArguments(_ argv: [[UInt8]]) throws(ArgumentError) -> Invocation<DcrondConfiguration> {
    var config = DcrondConfiguration()
    var sawInterval = false
    var scanner = OptionScanner(argv)
    scanning: while true {
        let letters: [UInt8] = [UInt8(ascii: "d"), UInt8(ascii: "i"), UInt8(ascii: "k")]
        switch try scanner.next(valueOptions: letters, flagOptions: [UInt8(ascii: "j")]) {
        case .end: break scanning
        case .help: return .help
        case .version: return .version
        case .flags(let quiet, let flags):
            if !flags.isEmpty { config.journal = true }
            config.quiet += quiet
            if config.quiet > 3 { throw ArgumentError(.tooManyQuiet) }
        case .value(let option, let value):
            let ns = try OptionScanner.seconds(value)
            switch option {
            case UInt8(ascii: "d"): config.delay = ns
            case UInt8(ascii: "k"): config.killTimeout = ns
            default:
                if ns == 0 { throw ArgumentError(.zeroInterval, value) }
                config.interval = ns
                sawInterval = true
            }
        }
    }
    var i = scanner.index
    if i < argv.count, argv[i] == OptionScanner.dashDash { i += 1 }
    if i >= argv.count {
        // No arguments at all asks for the usage; options without a command
        // line are a mistake.
        throw ArgumentError(argv.count <= 1 ? .noCommand : .missingCommandline)
    }
    if i + 1 < argv.count { throw ArgumentError(.extraArgument, argv[i + 1]) }
    if !sawInterval { throw ArgumentError(.missingInterval) }
    let line = argv[i]
    var offset = 0
    if line.first == UInt8(ascii: "-") {
        config.ignoresFailure = true
        offset = 1
    }
    if offset == line.count { throw ArgumentError(.missingProgram, line) }
    config.commandline = ArgRef(index: i, offset: offset)
    return .run(config)
}
