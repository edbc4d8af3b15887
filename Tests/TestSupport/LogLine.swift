import Foundation
import XCTest

/// Parsed dinit log lines.
public enum LogLine: Equatable {
    case subreaper
    case started(pid: Int32, program: String)
    case childExited(pid: Int32, program: String, status: Int32)
    case stopped(pid: Int32, program: String, status: Int32)
    case exiting(status: Int32)
    case other(String)

    public init(_ line: String) {
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

    public var startedPid: Int32? { if case .started(let p, _) = self { return p }; return nil }
}

extension RunResult {
    public var log: [LogLine] { dinitLines.map(LogLine.init) }
    public var startedPids: [Int32] { log.compactMap(\.startedPid) }

    /// The pids of dinit's `Started` lines when there are exactly `count`;
    /// otherwise fails the test (saying so, with `context` and the run's
    /// summary) and returns nil, so the checks that need the pids are
    /// skipped: `guard let pids = r.startedPids(count: 2) else { return }`.
    public func startedPids(count: Int, _ context: String = "",
                            file: StaticString = #filePath, line: UInt = #line) -> [Int32]? {
        let pids = startedPids
        guard pids.count == count else {
            XCTFail("\(context)\(context.isEmpty ? "" : " ")expected \(count) Started lines, found \(pids.count)\n\(summary)",
                    file: file, line: line)
            return nil
        }
        return pids
    }
}

/// dinit's log ends with exactly `expected` (its last `expected.count`
/// lines).
public func assertLog(_ r: RunResult, endsWith expected: [LogLine], _ message: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Array(r.log.suffix(expected.count)), expected, message ?? r.summary, file: file, line: line)
}
