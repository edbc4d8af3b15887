import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// What /proc says about processes (as seen from our PID namespace).

/// /proc/PID/stat: the command name, state letter, parent and process group.
public struct ProcStat: CustomStringConvertible {
    public var pid: Int32
    public var comm: String
    public var state: Character
    public var ppid: Int32
    public var pgrp: Int32

    /// Reads /proc/`pid`/stat; nil if there is no such process.
    public init?(pid: Int32) {
        guard let s = readFileIfPresent("/proc/\(pid)/stat") else { return nil }
        self.init(line: s)
    }

    /// Parses a stat line: `pid (comm) state ppid pgrp ...`.
    public init?(line s: String) {
        guard let lp = s.firstIndex(of: "("), let rp = s.lastIndex(of: ")"),
              let pid = Int32(s[..<lp].trimmingCharacters(in: .whitespaces)) else { return nil }
        let rest = s[s.index(after: rp)...].split(separator: " ")
        guard rest.count >= 3, let st = rest[0].first, let ppid = Int32(rest[1]), let pgrp = Int32(rest[2]) else {
            return nil
        }
        self.pid = pid
        comm = String(s[s.index(after: lp)..<rp])
        state = st
        self.ppid = ppid
        self.pgrp = pgrp
    }

    public var isZombie: Bool { state == "Z" }
    public var description: String { "\(pid) (\(comm)) \(state) ppid \(ppid) pgrp \(pgrp)" }
}

/// Whether a process with this pid exists (zombies count).
public func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// The process exists and is neither a zombie nor dead (state Z or X).
public func isLive(_ pid: Int32) -> Bool {
    guard let st = ProcStat(pid: pid) else { return false }
    return st.state != "Z" && st.state != "X"
}

/// Every process in /proc.
public func allProcesses() -> [ProcStat] {
    guard let d = opendir("/proc") else { return [] }
    defer { closedir(d) }
    var result: [ProcStat] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let pid = Int32(name), let p = ProcStat(pid: pid) else { continue }
        result.append(p)
    }
    return result
}

/// Every process (zombies included) whose process group is `pgid`.
public func processes(inGroup pgid: Int32) -> [ProcStat] {
    allProcesses().filter { $0.pgrp == pgid }
}

/// Zombies whose parent is `parent`: a full scan of /proc.
public func zombies(parent: Int32) -> [Int32] {
    allProcesses().filter { $0.ppid == parent && $0.isZombie }.map(\.pid)
}

/// Children of `pid` (zombies included), from /proc/PID/task/*/children.
public func children(of pid: Int32) -> [Int32] {
    var result: [Int32] = []
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    for t in tasks {
        guard let s = readFileIfPresent("/proc/\(pid)/task/\(t)/children") else { continue }
        result += s.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
    }
    return result
}

/// Descendants of `pid`, recursively.
public func descendants(of pid: Int32) -> [Int32] {
    var result: [Int32] = []
    var queue = [pid]
    while let p = queue.popLast() {
        let c = children(of: p)
        result += c
        queue += c
    }
    return result
}

/// SIGKILLs `pid` and every descendant.
public func killTree(_ pid: Int32) {
    // kill(0) or kill(-1) would hit the test runner's own group or everything.
    guard pid > 1 else { return }
    let all = descendants(of: pid)
    kill(pid, SIGKILL)
    for d in all where d > 1 { kill(d, SIGKILL) }
}

/// Those of `pids` still there after `timeout` (each gets its own
/// `timeout`); they are SIGKILLed so that nothing outlives the test.
public func survivors(_ pids: [Int32], within timeout: TimeInterval) -> [Int32] {
    let left = pids.filter { pid in !waitFor(timeout: timeout) { !processExists(pid) } }
    for pid in left { kill(pid, SIGKILL) }
    return left
}

/// `pid` is gone within `timeout` (a zombie handed to an init is reaped
/// quickly: give it a moment); if not, the test fails and it is SIGKILLed.
public func assertGone(_ pid: Int32, within timeout: TimeInterval = 2, _ message: @autoclosure () -> String,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(survivors([pid], within: timeout).isEmpty, message(), file: file, line: line)
}

/// A field of /proc/PID/status in kB (VmRSS, ...).
public func statusKB(_ pid: Int32, _ key: String) -> Int? {
    guard let s = readFileIfPresent("/proc/\(pid)/status") else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix(key + ":") {
        return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

/// Open descriptors of `pid`: all of them, and how many are pidfds.
public func openDescriptors(_ pid: Int32) -> (total: Int, pidfds: Int) {
    let dir = "/proc/\(pid)/fd"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    let pidfds = names.filter {
        ((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)")) ?? "").contains("pidfd")
    }.count
    return (names.count, pidfds)
}

/// RSS and descriptors of a supervisor.
public struct Footprint: CustomStringConvertible {
    public var rssKB: Int
    public var fds: Int
    public var nonPidfdFds: Int
    public var pidfds: Int
    public var description: String { "VmRSS \(rssKB) kB, \(fds) fds (\(pidfds) pidfds)" }

    /// Several samples, keeping the smallest of each: a sample taken in the
    /// middle of a spawn may see the spawn's transient stack pages or (musl)
    /// its error pipe.
    public init(of pid: Int32, samples: Int = 1) {
        var best: Footprint?
        for k in 0..<samples {
            if k > 0 { usleep(7_000) }
            let rss = statusKB(pid, "VmRSS") ?? -1
            let f = openDescriptors(pid)
            let s = Footprint(rssKB: rss, fds: f.total, nonPidfdFds: f.total - f.pidfds, pidfds: f.pidfds)
            if let b = best {
                best = Footprint(rssKB: min(b.rssKB, s.rssKB), fds: min(b.fds, s.fds),
                                 nonPidfdFds: min(b.nonPidfdFds, s.nonPidfdFds), pidfds: min(b.pidfds, s.pidfds))
            } else {
                best = s
            }
        }
        self = best!
    }

    public init(rssKB: Int, fds: Int, nonPidfdFds: Int, pidfds: Int) {
        self.rssKB = rssKB
        self.fds = fds
        self.nonPidfdFds = nonPidfdFds
        self.pidfds = pidfds
    }
}

/// Writes a Python script to `dir` that records where descriptors 0, 1 and 2
/// of itself and of its parent point ("closed" when not open), one per line
/// (self 0, parent 0, self 1, ...), into the file named by its first
/// argument; returns the script's path. Python reads them itself, with no
/// shell redirection in between.
public func writeStandardDescriptorProbe(in dir: String) throws -> String {
    let probe = "\(dir)/probe.py"
    try """
    import os, sys
    def link(p):
        try:
            return os.readlink(p)
        except OSError:
            return "closed"
    with open(sys.argv[1], "w") as f:
        for fd in (0, 1, 2):
            for who in ("self", str(os.getppid())):
                f.write(link("/proc/%s/fd/%d" % (who, fd)) + "\\n")
    """.write(toFile: probe, atomically: true, encoding: .utf8)
    return probe
}
