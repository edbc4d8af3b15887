import Foundation
import XCTest

/// dinit -p: children's stdout and stderr through dinit, every line tagged.
final class TaggedOutputTests: XCTestCase {
    /// Tags are the program as given, padded to the longest of the run.
    func testTaggingAndPadding() throws {
        let r = try runDinit(["-p", "-d", "0", "--", ":wait:sh", "-c", "echo one; echo two",
                              "--", ":wait:printf", "a\\nb\\n", "--", ":wait:/bin/echo", "three"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdout, """
            sh        | one
            sh        | two
            printf    | a
            printf    | b
            /bin/echo | three

            """, r.summary)
    }

    /// Each line goes to the stream the child wrote it to.
    func testStdoutAndStderrStaySeparate() throws {
        let r = try runDinit(["-p", "--", ":wait:sh", "-c",
                              "echo out1; echo err1 >&2; echo out2; echo err2 >&2"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdoutLines, ["sh | out1", "sh | out2"], r.summary)
        let childLines = r.stderrLines.filter { !$0.hasPrefix("dinit: ") }
        XCTAssertEqual(childLines, ["sh | err1", "sh | err2"], r.summary)
        // dinit's own lines are unchanged, and the child's last line comes
        // before the line reporting its exit.
        XCTAssertEqual(r.log.compactMap { if case .exiting(let s) = $0 { return s } else { return nil } }, [Int32(0)])
        let lines = r.stderrLines
        let err2 = try XCTUnwrap(lines.firstIndex(of: "sh | err2"))
        let exited = try XCTUnwrap(lines.firstIndex { $0.contains("'sh' exited with status 0") })
        XCTAssertLessThan(err2, exited, r.summary)
    }

    /// A line longer than the per-child buffer is cut (each tagged piece at
    /// most 4096 bytes with its newline); the rest goes on with the same tag.
    func testLongLinesAreCutAndKeepTheirTag() throws {
        let dir = try makeTempDir(self)
        var long = ""
        for i in 0..<2500 { long += String(format: "%04d", i) }  // 10,000 bytes, no newline inside
        try (long + "\nshort\n").write(toFile: "\(dir)/in", atomically: true, encoding: .utf8)
        let r = try runDinit(["-p", "--", ":wait:cat", "\(dir)/in"])
        XCTAssertEqual(r.status, 0, r.summary)
        let lines = r.stdoutLines
        XCTAssertEqual(lines.count, 4, r.summary)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("cat | ") })
        XCTAssertTrue(lines.allSatisfy { $0.utf8.count + 1 <= 4096 })
        XCTAssertEqual(lines[0].utf8.count + 1, 4096)
        XCTAssertEqual(lines.prefix(3).map { String($0.dropFirst(6)) }.joined(), long)
        XCTAssertEqual(lines[3], "cat | short")
    }

    /// A last line without a newline is written (with one) when the pipe
    /// closes.
    func testLastLineWithoutNewline() throws {
        let r = try runDinit(["-p", "--", ":wait:printf", "first\\nno newline"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdout, "printf | first\nprintf | no newline\n", r.summary)
    }

    /// A run that ends right after a child wrote a lot: what dinit has read
    /// but its stdout has not taken yet still goes out before it exits.
    func testNothingLostWhenTheRunEnds() throws {
        let line = String(repeating: "0123456789", count: 7) + "012345678"
        let lineCount = 100_000
        let r = try runDinit(["-p", "--", ":wait:sh", "-c", "yes \(line) | head -n \(lineCount)"], timeout: 60)
        XCTAssertEqual(r.status, 0, String(r.stderr.prefix(2000)))
        let lines = r.stdoutLines
        XCTAssertEqual(lines.count, lineCount, String(r.stderr.prefix(2000)))
        XCTAssertTrue(lines.allSatisfy { $0 == "sh | " + line })
    }

    /// Starts dinit with `options` and one `:wait:` command writing `lines`
    /// numbered 100-byte lines, with stdout a pipe nobody reads yet and
    /// stderr collected; returns once the command has exited (dinit's line
    /// says so) or after 20 s.
    private func startWithUnreadStdout(_ options: [String], lines: Int) throws -> (Process, Pipe, OutputBuffer) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DinitBinary.path)
        process.arguments = options + ["--", ":wait:sh", "-c",
                                       "i=0; while [ $i -lt \(lines) ]; do printf '%099d\\n' $i; i=$((i+1)); done"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stderr = OutputBuffer()
        OutputBuffer.drain(err.fileHandleForReading, into: stderr)
        let end = Date().addingTimeInterval(20)
        while Date() < end, !stderr.text.contains("'sh' exited with status 0") { usleep(10_000) }
        return (process, out, stderr)
    }

    /// The reader stalls until the writing child has exited and the run is
    /// over: dinit waits (up to the kill timeout) for its stdout to take what
    /// it has read, instead of dropping it on exit.
    func testStalledReaderAtTheEndGetsEverything() throws {
        let lineCount = 1_200
        let (process, out, stderr) = try startWithUnreadStdout(["-p", "-k", "10"], lines: lineCount)
        defer { if process.isRunning { killTree(process.processIdentifier) } }
        XCTAssertTrue(stderr.text.contains("'sh' exited with status 0"), stderr.text)
        usleep(300_000)
        XCTAssertTrue(process.isRunning, "dinit exited with output still unwritten\n\(stderr.text)")
        let all = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: all, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, lineCount)
        let expected = (0..<lineCount).map { "sh | " + String(repeating: "0", count: 99 - String($0).count) + String($0) }
        XCTAssertTrue(lines == expected, "lines lost or out of order; first difference at "
                      + "\(Array(zip(lines, expected)).firstIndex { $0 != $1 } ?? min(lines.count, expected.count))")
        XCTAssertEqual(process.terminationStatus, 0)
    }

    /// The wait for a stalled reader at exit is bounded: a TERM ends it at
    /// once (and without one, the kill timeout would).
    func testATermEndsTheWaitForAStalledReaderAtExit() throws {
        let (process, out, stderr) = try startWithUnreadStdout(["-p", "-k", "30"], lines: 1200)
        defer { if process.isRunning { killTree(process.processIdentifier) } }
        usleep(500_000)
        XCTAssertTrue(process.isRunning, "dinit should wait for its stdout\n\(stderr.text)")
        let sent = Date()
        kill(process.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while Date() < end, process.isRunning { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "a TERM did not end the wait")
        XCTAssertLessThan(Date().timeIntervalSince(sent), 3)
        // Never read: nothing more is asked of the pipe than what it holds.
        _ = out
    }

    /// stdout and stderr into one pipe (2>&1) whose reader stalls: writes
    /// into the full pipe are partial, and still no line is mixed with
    /// another (the rest of a cut line goes first), none is lost, and each
    /// stream keeps its order.
    func testOneFileForBothStreamsNeverMixesLines() throws {
        let count = 3000
        let child = "i=0; while [ $i -lt \(count) ]; do printf 'O%0299d\\n' $i; printf 'E%0299d\\n' $i >&2; "
            + "i=$((i+1)); done"
        let r = try runProgram("/bin/sh", ["-c", "\(shQuote(DinitBinary.path)) -p -- :wait:sh -c \(shQuote(child)) 2>&1 "
                                          + "| (sleep 2; cat)"], timeout: 60)
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(2000)))
        var out: [String] = [], err: [String] = [], bad: [String] = []
        for line in r.stdoutLines {
            if line.hasPrefix("dinit: ") { continue }
            if line.hasPrefix("sh | O"), line.utf8.count == 5 + 300 { out.append(String(line.dropFirst(6))) }
            else if line.hasPrefix("sh | E"), line.utf8.count == 5 + 300 { err.append(String(line.dropFirst(6))) }
            else { bad.append(line) }
        }
        XCTAssertEqual(bad.count, 0, "mixed lines: \(bad.prefix(3).map { String($0.prefix(80)) })")
        let expected = (0..<count).map { String(repeating: "0", count: 299 - String($0).count) + String($0) }
        XCTAssertTrue(out == expected, "stdout lines lost or out of order (\(out.count))")
        XCTAssertTrue(err == expected, "stderr lines lost or out of order (\(err.count))")
        XCTAssertTrue(r.stdout.contains("dinit: Exiting, status 0"), String(r.stdout.suffix(500)))
    }

    /// A grandchild that inherited the pipe keeps it after its parent has
    /// exited: its lines are still relayed, with the parent's tag.
    func testGrandchildKeepsThePipeAfterItsParentExits() throws {
        let p = try startDinit(["-p", "-d", "0", "--",
                                ":wait:sh", "-c", "(sleep 1; echo late; echo late-err >&2) & echo early",
                                "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("'sh' exited with status 0"), p.stderr.text)
        XCTAssertTrue(p.waitForStdout("sh    | early"), p.stdout.text)
        XCTAssertFalse(p.stdout.text.contains("late"), p.stdout.text)
        XCTAssertTrue(p.waitForStdout("sh    | late\n", timeout: 10), p.stdout.text)
        XCTAssertTrue(p.waitForStderr("sh    | late-err\n", timeout: 10), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
    }

    /// A process outside dinit's tree holding a child's pipe (here: this
    /// test, through /proc) does not hold up the shutdown.
    func testAPipeHeldElsewhereDoesNotHoldUpShutdown() throws {
        let p = try startDinit(["-p", "-k", "5", "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("Started"), p.stderr.text)
        let child = try XCTUnwrap(descendants(of: p.pid).first)
        let held = open("/proc/\(child)/fd/1", O_WRONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(held, 0, "cannot open the child's stdout pipe")
        defer { close(held) }
        XCTAssertEqual(write(held, "from outside\n", 13), 13)
        XCTAssertTrue(p.waitForStdout("sleep | from outside\n"), p.stdout.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 4, "the held pipe delayed the exit\n\(r.summary)")
    }

    /// The log reader stalls for seconds (dinit's stdout pipe is full) while
    /// a TERM arrives: dinit still forwards the signal and relays stderr at
    /// once, the writing child blocks instead of dinit, and once the reader
    /// goes on every line arrives, in order.
    func testStalledReaderWhileTERMArrives() throws {
        let lineCount = 50_000
        let writer = """
            import os, signal
            signal.signal(signal.SIGTERM, lambda *a: os.write(2, b"got TERM\\n"))
            for i in range(\(lineCount)):
                os.write(1, b"line %d\\n" % i)
            os.write(2, b"done\\n")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DinitBinary.path)
        process.arguments = ["-p", "-d", "0", "-k", "20", "--", ":wait:python3", "-c", writer, "--", "sleep", "30"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { killTree(process.processIdentifier) } }
        let stderr = OutputBuffer()
        OutputBuffer.drain(err.fileHandleForReading, into: stderr)

        // Nobody reads stdout: the child fills the pipes and blocks.
        func waitFor(_ text: String, _ timeout: TimeInterval) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                if stderr.text.contains(text) { return true }
                usleep(10_000)
            }
            return false
        }
        XCTAssertTrue(waitFor("Started", 10), stderr.text)
        usleep(1_000_000)
        XCTAssertFalse(stderr.text.contains("python3 | done"), "the writer should be blocked\n\(stderr.text)")
        let sent = Date()
        kill(process.processIdentifier, SIGTERM)
        // The TERM is forwarded and the child's stderr line relayed while
        // stdout is still stalled.
        XCTAssertTrue(waitFor("python3 | got TERM", 3), stderr.text)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 3)
        XCTAssertFalse(stderr.text.contains("python3 | done"), "the writer should still be blocked\n\(stderr.text)")
        usleep(1_500_000)
        XCTAssertTrue(process.isRunning)

        // The reader goes on: everything arrives, in order.
        let all = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        _ = waitFor("Exiting", 5)
        let lines = String(decoding: all, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, lineCount)
        let expected = (0..<lineCount).map { "python3 | line \($0)" }
        XCTAssertTrue(lines == expected, "lines lost or out of order; first difference at "
                      + "\(Array(zip(lines, expected)).firstIndex { $0 != $1 } ?? min(lines.count, expected.count))")
        XCTAssertTrue(stderr.text.contains("python3 | done"), stderr.text)
        XCTAssertEqual(process.terminationStatus, 0, stderr.text)
    }

    /// -qqq: the children's output still goes to /dev/null (-p has no
    /// effect); -qq: dinit says nothing, the children's lines are tagged.
    func testQuietLevels() throws {
        let child = [":wait:sh", "-c", "echo out; echo err >&2"]
        let qqq = try runDinit(["-p", "-qqq", "--"] + child)
        XCTAssertEqual(qqq.status, 0, qqq.summary)
        XCTAssertEqual(qqq.stdout, "", qqq.summary)
        XCTAssertEqual(qqq.stderr, "", qqq.summary)
        let qq = try runDinit(["-qqp", "--"] + child)
        XCTAssertEqual(qq.status, 0, qq.summary)
        XCTAssertEqual(qq.stdout, "sh | out\n", qq.summary)
        XCTAssertEqual(qq.stderr, "sh | err\n", qq.summary)
        let q = try runDinit(["-q", "-p", "--"] + child)
        XCTAssertEqual(q.stdout, "sh | out\n", q.summary)
        XCTAssertEqual(q.stderr, "sh | err\n", q.summary)
    }

    /// Without -p a child writes straight to dinit's stdout (the same pipe);
    /// with -p to a pipe of its own.
    func testOnlyPUsesAPipe() throws {
        let show = [":wait:sh", "-c", "readlink /proc/$PPID/fd/1; readlink /proc/$$/fd/1"]
        let plain = try runDinit(["--"] + show)
        XCTAssertEqual(plain.stdoutLines.count, 2, plain.summary)
        XCTAssertEqual(plain.stdoutLines[0], plain.stdoutLines[1], plain.summary)
        let tagged = try runDinit(["-p", "--"] + show)
        let targets = tagged.stdoutLines.map { String($0.dropFirst("sh | ".count)) }
        XCTAssertEqual(targets.count, 2, tagged.summary)
        XCTAssertTrue(targets.allSatisfy { $0.hasPrefix("pipe:") }, tagged.summary)
        XCTAssertNotEqual(targets[0], targets[1], tagged.summary)
    }

    /// With -p no pipe end leaks: with dinit inheriting only 0, 1, 2, a
    /// child has exactly 0, 1, 2 while other children's pipes are open, and
    /// its stdout and stderr are two pipes of its own.
    func testNoPipeLeaksIntoOtherChildren() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/perl"), "needs perl to close descriptors")
        let launcher = ChildEnvironmentTests.closeFDs
        let r = try runProgram(launcher[0], Array(launcher.dropFirst()) + [DinitBinary.path,
            "-p", "-d", "0.1", "--", "sleep", "1", "--", "sleep", "1", "--", ":wait:ls", "-l", "/proc/self/fd"],
            timeout: 15)
        let listing = r.stdoutLines.filter { $0.hasPrefix("ls    | ") }.map { String($0.dropFirst(8)) }
        let fds = ChildEnvironmentTests.fdsFromLsL(listing.joined(separator: "\n"))
        XCTAssertEqual(Set(fds.keys), [0, 1, 2], r.summary)
        XCTAssertTrue(fds[1]?.hasPrefix("pipe:") == true, r.summary)
        XCTAssertTrue(fds[2]?.hasPrefix("pipe:") == true, r.summary)
        XCTAssertNotEqual(fds[1], fds[2], r.summary)
    }
}
