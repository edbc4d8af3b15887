import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Where the dinit binary under test is: `$DINIT_BIN` if set, else the
/// `dinit` executable next to the test bundle (SwiftPM puts both in
/// `.build*/debug/`).
enum DinitBinary {
    static let path: String = {
        if let env = ProcessInfo.processInfo.environment["DINIT_BIN"], !env.isEmpty {
            return env
        }
        var candidates: [URL] = []
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(arg0.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        for dir in candidates {
            let p = dir.appendingPathComponent("dinit").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return candidates[0].appendingPathComponent("dinit").path
    }()
}

/// Whether DINIT_BIN and DCROND_BIN run under a user-mode emulator
/// (`DINIT_UNDER_QEMU=1`, set by CI for the aarch64 binaries under
/// qemu-user on x86_64). The emulated process has the PID of the program,
/// but the emulator's name (comm, exe), and qemu owns the host's signal
/// handling: it keeps host signals for itself, turns a fault signal sent
/// with kill(2) into a fault of its own, and what a child inherits as
/// blocked or ignored is qemu's host state, not dinit's. Tests that depend
/// on those call `Emulation.skipIfEmulated` with the reason; everything else
/// runs unchanged. Tests find dinit by PID, never by process name.
enum Emulation {
    static let active = ProcessInfo.processInfo.environment["DINIT_UNDER_QEMU"] == "1"

    static func skipIfEmulated(_ reason: String) throws {
        if active {
            throw XCTSkip("under qemu-user (DINIT_UNDER_QEMU=1): \(reason); only real hardware can show this")
        }
    }
}

/// Children of `pid`, from /proc/<pid>/task/*/children.
func children(of pid: Int32) -> [Int32] {
    var result: [Int32] = []
    for t in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8) else { continue }
        result += s.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    return result
}

/// dinit's PID when a launcher that forks exactly one child runs it
/// (`unshare --fork`, `strace`, tests-hardening/subreaper_wrapper.py): the
/// launcher's only child. Found by PID, not by name: under an emulator the
/// process is named after the emulator, and a wrapper script that execs
/// dinit keeps its PID. nil if the launcher has no single child.
func launchedDinit(by launcher: Int32) -> Int32? {
    let c = children(of: launcher)
    return c.count == 1 ? c[0] : nil
}

/// Thread-safe growing byte buffer fed by a reader thread.
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var eof = false

    func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    func finish() { lock.lock(); eof = true; lock.unlock() }
    var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return eof }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// What a finished run looked like.
struct RunResult {
    /// Exit code, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
    /// Seconds from launch to exit.
    var elapsed: TimeInterval
    /// The process did not exit in time and was SIGKILLed (with its
    /// descendants).
    var timedOut: Bool
    var pid: Int32

    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    /// dinit's own log lines (children may write to stderr too).
    var dinitLines: [String] { stderrLines.filter { $0.hasPrefix("dinit: ") } }

    var summary: String {
        "status \(status)\(signaled ? " (signal)" : "")\(timedOut ? " TIMED OUT" : ""), " +
        "elapsed \(String(format: "%.2f", elapsed)) s\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)---"
    }
}

/// A running process (dinit, or unshare/sh wrapping it) whose stdout and
/// stderr are captured separately.
final class RunningProcess {
    let process = Process()
    let stdout = OutputBuffer()
    let stderr = OutputBuffer()
    let started: Date
    private var stdinPipe: Pipe?
    private(set) var killedForTimeout = false

    init(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let p = Pipe()
            process.standardInput = p
            stdinPipe = p
            p.fileHandleForWriting.write(stdin)
            try? p.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        started = Date()
        try process.run()
        Self.drain(out.fileHandleForReading, into: stdout)
        Self.drain(err.fileHandleForReading, into: stderr)
    }

    private static func drain(_ handle: FileHandle, into buffer: OutputBuffer) {
        let t = Thread {
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                buffer.append(d)
            }
            buffer.finish()
        }
        t.start()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ signo: Int32) {
        guard pid > 1 else { return XCTFail("no pid to signal") }
        kill(pid, signo)
    }

    /// Polls until `condition` holds or `timeout` passes; true if it held.
    @discardableResult
    func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Waits until stderr contains `text` at least `count` times.
    @discardableResult
    func waitForStderr(_ text: String, count: Int = 1, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { self.stderr.text.components(separatedBy: text).count - 1 >= count }
    }

    @discardableResult
    func waitForStdout(_ text: String, count: Int = 1, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { self.stdout.text.components(separatedBy: text).count - 1 >= count }
    }

    /// Waits for exit; after `timeout` SIGKILLs the process and every
    /// descendant. Then collects output (giving the pipes a moment to reach
    /// EOF; a leftover descendant holding them open does not block us).
    func wait(timeout: TimeInterval = 10) -> RunResult {
        if !waitUntil(timeout: timeout, { !self.process.isRunning }) {
            killedForTimeout = true
            killTree(pid)
            waitUntil(timeout: 5) { !self.process.isRunning }
        }
        let elapsed = Date().timeIntervalSince(started)
        waitUntil(timeout: 2) { self.stdout.isFinished && self.stderr.isFinished }
        let signaled = process.terminationReason == .uncaughtSignal
        return RunResult(status: process.terminationStatus, signaled: signaled,
                         stdout: stdout.text, stderr: stderr.text,
                         elapsed: elapsed, timedOut: killedForTimeout, pid: pid)
    }
}

/// Descendants of `pid`, from /proc/<pid>/task/*/children, recursively.
func descendants(of pid: Int32) -> [Int32] {
    var result: [Int32] = []
    var queue = [pid]
    while let p = queue.popLast() {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? []
        for t in tasks {
            guard let s = try? String(contentsOfFile: "/proc/\(p)/task/\(t)/children", encoding: .utf8) else { continue }
            for c in s.split(separator: " ").compactMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                result.append(c)
                queue.append(c)
            }
        }
    }
    return result
}

func killTree(_ pid: Int32) {
    // kill(0) or kill(-1) would hit the test runner's own group or everything.
    guard pid > 1 else { return }
    let all = descendants(of: pid)
    kill(pid, SIGKILL)
    for d in all where d > 1 { kill(d, SIGKILL) }
}

/// Whether a process with this pid exists (zombies count).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// Runs the binary under test to completion.
func runDinit(_ args: [String], timeout: TimeInterval = 10, stdin: Data? = nil,
              file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    let p = try RunningProcess(DinitBinary.path, args, stdin: stdin)
    let r = p.wait(timeout: timeout)
    XCTAssertFalse(r.timedOut, "dinit \(args) did not exit within \(timeout) s\n\(r.summary)", file: file, line: line)
    return r
}

func startDinit(_ args: [String]) throws -> RunningProcess {
    try RunningProcess(DinitBinary.path, args)
}

/// Runs any program to completion (e.g. unshare or sh wrapping dinit).
func runProgram(_ executable: String, _ args: [String], timeout: TimeInterval = 10,
                file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    let p = try RunningProcess(executable, args)
    let r = p.wait(timeout: timeout)
    XCTAssertFalse(r.timedOut, "\(executable) \(args) did not exit within \(timeout) s\n\(r.summary)", file: file, line: line)
    return r
}

/// A fresh temporary directory, removed at the end of the test.
func makeTempDir(_ test: XCTestCase) throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("dinit-integ-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

func readFile(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

func lines(_ s: String) -> [String] {
    s.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// Parsed dinit log lines.
enum LogLine: Equatable {
    case subreaper
    case started(pid: Int32, program: String)
    case childExited(pid: Int32, program: String, status: Int32)
    case stopped(pid: Int32, program: String, status: Int32)
    case exiting(status: Int32)
    case other(String)

    init(_ line: String) {
        func m(_ regex: String) -> [String]? {
            guard let re = try? NSRegularExpression(pattern: "^" + regex + "$"),
                  let match = re.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else { return nil }
            return (1..<match.numberOfRanges).map { i in
                Range(match.range(at: i), in: line).map { String(line[$0]) } ?? ""
            }
        }
        if line == "dinit: Not PID 1, registered as child subreaper" {
            self = .subreaper
        } else if let g = m("dinit: Started (\\d+) '(.*)'") {
            self = .started(pid: Int32(g[0])!, program: g[1])
        } else if let g = m("dinit: Child (\\d+) '(.*)' exited with status (\\d+)") {
            self = .childExited(pid: Int32(g[0])!, program: g[1], status: Int32(g[2])!)
        } else if let g = m("dinit: Stopped child (\\d+) '(.*)', exited with status (\\d+)") {
            self = .stopped(pid: Int32(g[0])!, program: g[1], status: Int32(g[2])!)
        } else if let g = m("dinit: Exiting, status (\\d+)") {
            self = .exiting(status: Int32(g[0])!)
        } else {
            self = .other(line)
        }
    }

    var startedPid: Int32? { if case .started(let p, _) = self { return p }; return nil }
}

extension RunResult {
    var log: [LogLine] { dinitLines.map(LogLine.init) }
    var startedPids: [Int32] { log.compactMap(\.startedPid) }
}

/// Single-quotes a string for /bin/sh.
func shQuote(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
