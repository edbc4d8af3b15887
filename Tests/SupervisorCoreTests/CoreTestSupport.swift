import XCTest
import SupervisorCore

// What every core test uses: time and signal numbers, a driver that feeds a
// core scripted events, and the argument-parser helpers. (The core tests
// need nothing but SupervisorCore: no process, no clock.)

let s: Nanoseconds = 1_000_000_000
let ms: Nanoseconds = 1_000_000
let HUP: Int32 = 1
let INT: Int32 = 2
let QUIT: Int32 = 3
let KILL: Int32 = 9
let USR1: Int32 = 10
let USR2: Int32 = 12
let TERM: Int32 = 15

/// Drives a core with scripted events and returns each event's actions. On
/// every event it checks the reactor's contract: no more actions than
/// `maxActionsPerEvent` (the buffer never grows), and a spawn is always the
/// last action of an event.
struct CoreScript<Core: SupervisorCore> {
    var core: Core
    var actions: ActionList

    init(core: Core) {
        self.core = core
        actions = ActionList(capacity: core.maxActionsPerEvent)
    }

    mutating func send(_ event: Event, at now: Nanoseconds,
                       file: StaticString = #filePath, line: UInt = #line) -> [Action] {
        actions.removeAll()
        core.handle(event, now: now, into: &actions)
        XCTAssertLessThanOrEqual(actions.count, core.maxActionsPerEvent, "action buffer must never grow",
                                 file: file, line: line)
        let list = (0..<actions.count).map { actions[$0] }
        if let k = list.firstIndex(where: { if case .spawn = $0 { return true }; return false }) {
            XCTAssertEqual(k, list.count - 1, "spawn must be the last action: \(list)", file: file, line: line)
        }
        return list
    }
}

/// dinit's core under a script.
typealias Script = CoreScript<Supervisor>

extension CoreScript where Core == Supervisor {
    init(_ commands: [SupervisedCommand], delay: Nanoseconds = 1 * s, kill: Nanoseconds = 5 * s, quiet: Int = 0) {
        self.init(core: Supervisor(commands: commands, startupDelay: delay, killTimeout: kill, quiet: quiet))
    }
}

/// dcrond's core under a script.
typealias CronScript = CoreScript<CronSchedule>

extension CoreScript where Core == CronSchedule {
    init(_ commandline: String = "echo hi", dash: Bool = false, delay: Nanoseconds = 0,
         interval: Nanoseconds = 60 * s, kill: Nanoseconds = 5 * s, quiet: Int = 0) {
        self.init(core: CronSchedule(commandline: Array(commandline.utf8), ignoresFailure: dash, delay: delay,
                                     interval: interval, killTimeout: kill, quiet: quiet))
    }

    /// start (delay 0) + spawned: a run in progress with this pid.
    mutating func running(pid: Int32, at now: Nanoseconds = 0) {
        XCTAssertEqual(send(.start(subreaper: false), at: now), [.spawn(child: 0)])
        XCTAssertEqual(send(.spawned(child: 0, pid: pid), at: now),
                       core.quiet == 0 ? [.log(.started(child: 0, pid: pid))] : [])
    }
}

/// What a LineWriter holds, as text.
func text(_ w: LineWriter) -> String {
    String(decoding: Array(w.bytes), as: UTF8.self)
}

// MARK: Argument parsers

/// argv as bytes, with argv[0] = `program` prepended.
func argv(_ args: [String], program: String = "dinit") -> [[UInt8]] {
    ([program] + args).map { Array($0.utf8) }
}

/// A parser of either program: `parseDinitArguments`, `parseDcrondArguments`.
typealias ArgumentParser<Configuration: Equatable> =
    ([[UInt8]]) throws(ArgumentError) -> Invocation<Configuration>

/// What `args` parse to, when that is a run; otherwise the test fails and
/// the result is nil.
func parsedRun<C>(_ parser: ArgumentParser<C>, _ argv: [[UInt8]], _ args: [String],
                  file: StaticString, line: UInt) -> C? {
    do {
        let inv = try parser(argv)
        guard case .run(let config) = inv else {
            XCTFail("expected .run for \(args), got \(inv)", file: file, line: line)
            return nil
        }
        return config
    } catch {
        XCTFail("unexpected error \(error.kind) for \(args)", file: file, line: line)
        return nil
    }
}

/// The error `args` are refused with; if they are accepted, the test fails
/// and the result is nil.
func parseFailure<C>(_ parser: ArgumentParser<C>, _ argv: [[UInt8]], _ args: [String], expected: String,
                     file: StaticString, line: UInt) -> ArgumentError? {
    do {
        let inv = try parser(argv)
        XCTFail("expected \(expected) for \(args), got \(inv)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// `e` is of `kind` and (if given) names `argument`.
func assertArgumentError(_ e: ArgumentError, is kind: ArgumentError.Kind, argument: String?, for args: [String],
                 file: StaticString, line: UInt) {
    XCTAssertEqual(e.kind, kind, "for \(args)", file: file, line: line)
    if let argument {
        XCTAssertEqual(String(decoding: e.argument, as: UTF8.self), argument, "for \(args)", file: file, line: line)
    }
}

/// The one-line message of an argument error.
func message(_ e: ArgumentError) -> String {
    let line = LineWriter()
    e.write(to: line)
    return text(line)
}
