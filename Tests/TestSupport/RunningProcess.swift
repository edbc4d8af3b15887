import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Thread-safe growing byte buffer fed by a reader thread.
public final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var eof = false

    public init() {}

    public func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    public func finish() { lock.lock(); eof = true; lock.unlock() }
    public var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return eof }
    public var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// What a finished run looked like.
public struct RunResult {
    /// Exit code, or the signal number when `signaled`.
    public var status: Int32
    public var signaled: Bool
    public var stdout: String
    public var stderr: String
    /// Seconds from launch to exit.
    public var elapsed: TimeInterval
    /// The process did not exit in time and was SIGKILLed (with its
    /// descendants).
    public var timedOut: Bool
    public var pid: Int32

    public var stderrLines: [String] { lines(stderr) }
    public var stdoutLines: [String] { lines(stdout) }
    /// dinit's own log lines (children may write to stderr too).
    public var dinitLines: [String] { stderrLines.filter { $0.hasPrefix("dinit: ") } }

    public var summary: String {
        "status \(status)\(signaled ? " (signal)" : "")\(timedOut ? " TIMED OUT" : ""), " +
        "elapsed \(String(format: "%.2f", elapsed)) s\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)---"
    }
}

/// A running process (dinit, dcrond, or unshare/sh wrapping them) whose
/// stdout and stderr are captured separately.
public final class RunningProcess {
    public let process = Process()
    public let stdout = OutputBuffer()
    public let stderr = OutputBuffer()
    public let started: Date
    private var stdinPipe: Pipe?
    public private(set) var killedForTimeout = false

    public init(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                environment: [String: String]? = nil) throws {
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
        OutputBuffer.drain(out.fileHandleForReading, into: stdout)
        OutputBuffer.drain(err.fileHandleForReading, into: stderr)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ signo: Int32) {
        guard pid > 1 else { return XCTFail("no pid to signal") }
        kill(pid, signo)
    }

    /// Polls until `condition` holds or `timeout` passes; true if it held.
    @discardableResult
    public func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        waitFor(timeout: timeout, condition)
    }

    /// Waits until stderr contains `text` at least `count` times.
    @discardableResult
    public func waitForStderr(_ text: String, count: Int = 1, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { occurrences(of: text, in: self.stderr.text) >= count }
    }

    @discardableResult
    public func waitForStdout(_ text: String, count: Int = 1, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { occurrences(of: text, in: self.stdout.text) >= count }
    }

    /// Waits for exit; after `timeout` SIGKILLs the process and every
    /// descendant. Then collects output (giving the pipes a moment to reach
    /// EOF; a leftover descendant holding them open does not block us).
    public func wait(timeout: TimeInterval = 10) -> RunResult {
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

/// Polls every 10 ms until `condition` holds or `timeout` passes; true if it
/// held.
@discardableResult
public func waitFor(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Runs any program to completion (e.g. unshare or sh wrapping dinit); a
/// run that outlives `timeout` is killed and fails the test.
public func runProgram(_ executable: String, _ args: [String], timeout: TimeInterval = 10, stdin: Data? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    let r = try RunningProcess(executable, args, stdin: stdin).wait(timeout: timeout)
    let name = executable == DinitBinary.path ? "dinit" : executable == DcrondBinary.path ? "dcrond" : executable
    XCTAssertFalse(r.timedOut, "\(name) \(args) did not exit within \(timeout) s\n\(r.summary)", file: file, line: line)
    return r
}

/// Runs the dinit under test to completion.
public func runDinit(_ args: [String], timeout: TimeInterval = 10, stdin: Data? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    try runProgram(DinitBinary.path, args, timeout: timeout, stdin: stdin, file: file, line: line)
}

public func startDinit(_ args: [String]) throws -> RunningProcess {
    try RunningProcess(DinitBinary.path, args)
}

/// Runs the dcrond under test to completion.
public func runDcrond(_ args: [String], timeout: TimeInterval = 10, stdin: Data? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    try runProgram(DcrondBinary.path, args, timeout: timeout, stdin: stdin, file: file, line: line)
}

public func startDcrond(_ args: [String], stdin: Data? = nil) throws -> RunningProcess {
    try RunningProcess(DcrondBinary.path, args, stdin: stdin)
}

/// dinit as PID 1 of a fresh PID namespace: `unshare --pid --fork
/// --mount-proc dinit args...` (the process we see is unshare).
public func startDinitAsPID1(_ args: [String]) throws -> RunningProcess {
    try RunningProcess(PIDNamespace.unshare, PIDNamespace.unshareArguments + [DinitBinary.path] + args)
}

public func runDinitAsPID1(_ args: [String], timeout: TimeInterval = 10,
                           file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
    try runProgram(PIDNamespace.unshare, PIDNamespace.unshareArguments + [DinitBinary.path] + args,
                   timeout: timeout, file: file, line: line)
}

extension OutputBuffer {
    /// Reads `handle` to its end on a thread of its own, into `buffer`.
    public static func drain(_ handle: FileHandle, into buffer: OutputBuffer) {
        Thread {
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                buffer.append(d)
            }
            buffer.finish()
        }.start()
    }
}
