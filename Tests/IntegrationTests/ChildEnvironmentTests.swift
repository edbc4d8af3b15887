import Foundation
import XCTest

/// What a child inherits: descriptors, signal mask and dispositions, process
/// group.
final class ChildEnvironmentTests: XCTestCase {
    /// A launcher that closes every descriptor above 2 and execs its
    /// arguments, so that dinit inherits exactly stdin, stdout and stderr
    /// (Foundation's Process may pass others on).
    static let closeFDs = ["/usr/bin/perl", "-e",
                           "use POSIX (); POSIX::close($_) for 3..4095; exec {$ARGV[0]} @ARGV or die \"exec: $!\""]

    /// Descriptor numbers in `ls -l /proc/self/fd` output, without the one
    /// ls opened to read the directory itself.
    static func fdsFromLsL(_ out: String) -> [Int: String] {
        var fds: [Int: String] = [:]
        for line in lines(out) where !line.hasPrefix("total") {
            let parts = line.split(separator: " ").map(String.init)
            guard let arrow = parts.firstIndex(of: "->"), arrow > 0, let fd = Int(parts[arrow - 1]) else { continue }
            let target = parts[(arrow + 1)...].joined(separator: " ")
            if target.hasPrefix("/proc/") && target.hasSuffix("/fd") { continue }
            fds[fd] = target
        }
        return fds
    }

    /// dinit's descriptors without O_CLOEXEC (the ones a child inherits).
    static func inheritableFDs(of pid: Int32) -> Set<Int> {
        var result: Set<Int> = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? [] {
            guard let fd = Int(name) else { continue }
            let info = readFile("/proc/\(pid)/fdinfo/\(name)")
            guard let flagsLine = lines(info).first(where: { $0.hasPrefix("flags:") }),
                  let flags = Int(flagsLine.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) else { continue }
            if flags & 0o2000000 == 0 { result.insert(fd) }
        }
        return result
    }

    /// With dinit inheriting only 0, 1, 2, a child sees exactly 0, 1, 2 (plus
    /// the descriptor ls opens itself): none of dinit's epoll, signalfd,
    /// timerfd or pidfds leaks, even with daemons running (pidfds open).
    func testNoLeakedDescriptors() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/perl"), "needs perl to close descriptors")
        let dir = try makeTempDir(self)
        let out = "\(dir)/fds"
        let p = try RunningProcess(Self.closeFDs[0], Array(Self.closeFDs.dropFirst()) + [DinitBinary.path,
            "-d", "0.1", "--", "sleep", "5", "--", "sleep", "5",
            "--", ":wait:sh", "-c", "exec ls -l /proc/self/fd > \(out)",
            "--", ":wait:ls", "-l", "/proc/self/fd"])
        XCTAssertTrue(p.waitForStderr("'ls' exited with status 0"), p.stderr.text)
        // dinit's own descriptors (>= 3) are all close-on-exec.
        XCTAssertEqual(Self.inheritableFDs(of: p.pid), [0, 1, 2], "dinit holds descriptors without O_CLOEXEC")
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
        let viaShell = Self.fdsFromLsL(readFile(out))
        XCTAssertEqual(Set(viaShell.keys), [0, 1, 2], "descriptors leaked into the child:\n\(readFile(out))")
        let direct = Self.fdsFromLsL(r.stdout)
        XCTAssertEqual(Set(direct.keys), [0, 1, 2], "descriptors leaked into the child:\n\(r.stdout)")
    }

    /// Descriptors dinit inherited (without close-on-exec) are passed on:
    /// the child has exactly dinit's inheritable set.
    func testInheritedDescriptorsPassedOn() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/perl"), "needs perl to close descriptors")
        let r = try runProgram(Self.closeFDs[0], Array(Self.closeFDs.dropFirst()) + ["/bin/sh", "-c",
            "exec 7</dev/null; exec \(shQuote(DinitBinary.path)) -- :wait:ls -l /proc/self/fd"])
        XCTAssertEqual(r.status, 0, r.summary)
        let fds = Self.fdsFromLsL(r.stdout)
        XCTAssertEqual(Set(fds.keys), [0, 1, 2, 7], r.stdout)
        XCTAssertEqual(fds[7], "/dev/null", r.stdout)
    }

    /// Without a launcher: the child has exactly the descriptors dinit could
    /// pass on (its non-close-on-exec ones), whatever the test process leaks.
    func testChildDescriptorsMatchDinitsInheritable() throws {
        let p = try startDinit(["-d", "0.1", "--", "sleep", "5", "--", ":wait:ls", "-l", "/proc/self/fd"])
        XCTAssertTrue(p.waitForStderr("'ls' exited with status 0"), p.stderr.text)
        let inheritable = Self.inheritableFDs(of: p.pid)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
        let fds = Self.fdsFromLsL(r.stdout)
        XCTAssertEqual(Set(fds.keys), inheritable, r.stdout)
        for (fd, target) in fds {
            XCTAssertFalse(target.contains("anon_inode"), "dinit descriptor \(fd) -> \(target) leaked")
        }
    }

    /// With -qqq (dinit holds /dev/null open) nothing extra leaks either,
    /// and the child's stdio is /dev/null.
    func testNoLeakedDescriptorsQQQ() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/perl"), "needs perl to close descriptors")
        let dir = try makeTempDir(self)
        let out = "\(dir)/fds"
        let r = try runProgram(Self.closeFDs[0], Array(Self.closeFDs.dropFirst()) + [DinitBinary.path,
            "-qqq", "--", ":wait:sh", "-c", "ls -l /proc/self/fd/ > \(out)"])
        XCTAssertEqual(r.status, 0, r.summary)
        let fds = Self.fdsFromLsL(readFile(out))
        XCTAssertEqual(Set(fds.keys), [0, 1, 2], readFile(out))
        XCTAssertEqual(fds[0], "/dev/null", readFile(out))
        XCTAssertEqual(fds[2], "/dev/null", readFile(out))
    }

    static func sigFields(_ status: String) -> [String: UInt64] {
        var d: [String: UInt64] = [:]
        for l in lines(status) {
            for key in ["SigBlk", "SigIgn", "SigPnd", "ShdPnd"] where l.hasPrefix(key + ":") {
                d[key] = UInt64(l.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
            }
        }
        return d
    }

    /// Signals 32 and 33 are the C library's internal ones (SIGCANCEL,
    /// SIGSETXID): glibc's posix_spawn leaves them ignored in every child,
    /// which the test process (Foundation) passes on to dinit too.
    static let libcInternal: UInt64 = 0x1_8000_0000

    static func assertClean(_ status: String, _ context: String, strict: Bool = false,
                            file: StaticString = #filePath, line: UInt = #line) {
        let f = sigFields(status)
        XCTAssertEqual(f["SigBlk"], 0, "blocked signals in the child: \(context)\n\(status)", file: file, line: line)
        guard let ign = f["SigIgn"] else { return XCTFail("no SigIgn in \(status)", file: file, line: line) }
        let mask = strict ? UInt64.max : ~libcInternal
        XCTAssertEqual(ign & mask, 0, "ignored signals in the child: SigIgn \(String(ign, radix: 16)) (\(context))",
                       file: file, line: line)
    }

    /// The child's signal mask is empty and it ignores no standard or
    /// real-time signal.
    func testCleanSignalMask() throws {
        let r = try runDinit(["--", ":wait:cat", "/proc/self/status"])
        XCTAssertEqual(r.status, 0, r.summary)
        Self.assertClean(r.stdout, "cat")
    }

    /// ... also when dinit itself was started with signals ignored (HUP,
    /// INT, QUIT, USR1, PIPE, TERM, as `nohup` or a shell's background job
    /// would), for a shell and a direct child.
    func testCleanSignalMaskWhenDinitInheritedIgnoredSignals() throws {
        let dir = try makeTempDir(self)
        let out = "\(dir)/status"
        let p = try RunningProcess("/bin/sh", ["-c", """
            trap '' HUP INT QUIT USR1 PIPE TERM
            exec \(shQuote(DinitBinary.path)) -d 0.1 -- :wait:sh -c 'while IFS= read -r l; do echo "$l"; done < /proc/self/status > \(out)' -- :wait:cat /proc/self/status -- sleep 5
            """])
        XCTAssertTrue(p.waitForStderr("Started", count: 3), p.stderr.text)
        // Sanity check of the setup: dinit itself did inherit HUP ignored.
        let dinitIgn = Self.sigFields(readFile("/proc/\(p.pid)/status"))["SigIgn"] ?? 0
        XCTAssertNotEqual(dinitIgn & 1, 0, "dinit should have inherited SIGHUP ignored")
        p.signal(SIGUSR2)
        let r = p.wait()
        XCTAssertEqual(r.status, 12, r.summary)
        Self.assertClean(readFile(out), "sh child")
        Self.assertClean(r.stdout, "cat child")
    }

    /// Sanity check of the setup above: without dinit in between, the same
    /// shell trick does leave signals ignored (so the previous test can fail).
    func testIgnoredSignalsInheritedWithoutDinit() throws {
        let r = try runProgram("/bin/sh", ["-c", "trap '' HUP INT; exec cat /proc/self/status"])
        XCTAssertEqual((Self.sigFields(r.stdout)["SigIgn"] ?? 0) & 3, 3, r.stdout)
    }

    /// Strictly every disposition at default, signals 32 and 33 included
    /// (the spec: "SigIgn all zeros").
    func testSignalIgnoredSetStrictlyEmpty() throws {
        try Emulation.skipIfEmulated("qemu keeps some host signals for itself (32 here, inherited ignored from the test runner) " +
            "and maps the guest's signals onto others, so the child inherits qemu's host SigIgn, which dinit cannot reset")
        let r = try runDinit(["--", ":wait:cat", "/proc/self/status"])
        XCTAssertEqual(r.status, 0, r.summary)
        let dinitIgn = Self.sigFields(readFile("/proc/self/status"))["SigIgn"] ?? 0
        Self.assertClean(r.stdout, "strict; the test process itself has SigIgn \(String(dinitIgn, radix: 16)), " +
                         "and dinit was spawned by Foundation's posix_spawn", strict: true)
    }

    /// Each child leads its own process group (not dinit's, not each other's).
    func testChildrenInOwnProcessGroups() throws {
        let r = try runDinit(["-d", "0.1", "--", ":wait:cat", "/proc/self/stat", "--", ":wait:cat", "/proc/self/stat"])
        XCTAssertEqual(r.status, 0, r.summary)
        let stats = r.stdoutLines
        XCTAssertEqual(stats.count, 2, r.summary)
        var groups: [Int32] = []
        for s in stats {
            // pid (comm) state ppid pgrp ...
            guard let close = s.lastIndex(of: ")") else { XCTFail(s); continue }
            let pid = Int32(s.split(separator: " ")[0])!
            let rest = s[s.index(after: close)...].split(separator: " ")
            let ppid = Int32(rest[1])!, pgrp = Int32(rest[2])!
            XCTAssertEqual(pgrp, pid, "child \(pid) is not its own process group leader: \(s)")
            XCTAssertEqual(ppid, r.pid, "child's parent is dinit")
            XCTAssertNotEqual(pgrp, getpgrp())
            groups.append(pgrp)
        }
        XCTAssertEqual(Set(groups).count, groups.count)
        XCTAssertEqual(Set(r.startedPids), Set(groups), r.summary)
    }

    /// Because each child has its own group, a signal to dinit's group (as a
    /// terminal's Ctrl-C would send) reaches only dinit, which then stops the
    /// children in order.
    func testGroupSignalReachesOnlyDinit() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/order"
        var args = ["-d", "0.1"]
        for n in 1...2 {
            args += ["--", "sh", "-c", "trap 'echo \(n) >> \(f); sleep 0.2; exit 0' INT; echo ready; while :; do sleep 0.05; done"]
        }
        // Signal dinit's process group (if Foundation put dinit in ours,
        // signalling it would hit the test runner: then signal dinit alone).
        let p = try startDinit(args)
        XCTAssertTrue(p.waitForStdout("ready", count: 2), p.stderr.text)
        let stat = readFile("/proc/\(p.pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { return XCTFail(stat) }
        let pgrp = Int32(stat[stat.index(after: close)...].split(separator: " ")[2])!
        if pgrp == getpgrp() {
            p.signal(SIGINT)
        } else {
            kill(-pgrp, SIGINT)
        }
        let r = p.wait()
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(lines(readFile(f)), ["2", "1"], r.summary)
    }
}
