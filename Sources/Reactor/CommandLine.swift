import LinuxSys
import SupervisorCore

/// argv as the C runtime hands it to main.
public typealias CArgv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

/// The first thing dinit and dcrond do, before argv is even copied: block
/// every supervised signal, so that one sent right after exec stays pending
/// for the signalfd instead of killing us (default action) or, when we are
/// PID 1, being dropped by the kernel; then put /dev/null on any of
/// descriptors 0-2 that is closed, before anything else opens a descriptor
/// that would land there. Neither failure is worth stopping for: without
/// /dev/null the closed ones stay closed.
public func prepareProcess() {
    _ = try? Signals.block(SignalSet.supervised)
    try? FileDescriptor.fillStandardDescriptors()
}

/// argv as byte arrays for the parsers (copied once, at start-up).
public func argvBytes(argc: Int32, argv: CArgv) -> [[UInt8]] {
    var all: [[UInt8]] = []
    all.reserveCapacity(Int(argc))
    for i in 0..<Int(argc) {
        var bytes: [UInt8] = []
        if var p = argv[i] {
            while p.pointee != 0 {
                bytes.append(UInt8(bitPattern: p.pointee))
                p += 1
            }
        }
        all.append(bytes)
    }
    return all
}

/// A nil-terminated argv for posix_spawnp that points into the original
/// argv: nothing is copied, prefixes are skipped by offset.
public func spawnArgv(_ refs: [ArgRef], argv: CArgv) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
    let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: refs.count + 1)
    for (k, ref) in refs.enumerated() {
        table[k] = argv[ref.index]! + ref.offset
    }
    table[refs.count] = nil
    return UnsafePointer(table)
}

/// Writes "<prefix><message>\n" to stderr for a bad command line.
public func reportUsageError(_ prefix: StaticString, _ error: ArgumentError) {
    let line = LineWriter(capacity: 1024)
    line.text(prefix)
    error.write(to: line)
    line.newline()
    FileDescriptor.standardError.writeAll(line.bytes)
}

/// Writes "<prefix><what>: <errno text>\n" to stderr.
public func reportSetupError(_ prefix: StaticString, _ what: StaticString, _ errno: Errno) {
    let line = LineWriter(capacity: 256)
    line.text(prefix)
    line.text(what)
    line.text(": ")
    ErrnoText.write(errno.rawValue, to: line)
    line.newline()
    FileDescriptor.standardError.writeAll(line.bytes)
}

/// What to do after parsing the command line.
public enum Startup<Configuration: Equatable> {
    case run(Configuration)
    /// Leave at once with this status: help or version printed (0), or a
    /// bad command line reported (2).
    case exit(Int32)
}

/// The shared front of dinit and dcrond: runs the parser, prints the usage
/// for -h (stdout) or no command (stderr), the version for -V, and a one-line
/// error for anything else that is wrong, including -j in a build without
/// journald support.
public func interpretCommandLine<Configuration: Equatable>(
    prefix: StaticString, usage: StaticString, version: StaticString,
    wantsJournal: (Configuration) -> Bool,
    _ parse: () throws(ArgumentError) -> Invocation<Configuration>
) -> Startup<Configuration> {
    do throws(ArgumentError) {
        switch try parse() {
        case .help:
            FileDescriptor.standardOutput.write(usage)
            return .exit(0)
        case .version:
            FileDescriptor.standardOutput.write(version)
            return .exit(0)
        case .run(let config):
            if wantsJournal(config), !Journal.available { throw ArgumentError(.noJournalSupport) }
            return .run(config)
        }
    } catch {
        if error.kind == .noCommand {
            FileDescriptor.standardError.write(usage)
        } else {
            reportUsageError(prefix, error)
        }
        return .exit(2)
    }
}
