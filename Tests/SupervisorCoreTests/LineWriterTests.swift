import XCTest
import SupervisorCore

private var sleepCore: Supervisor { Supervisor(
    commands: [SupervisedCommand(name: Array("sleep".utf8)), SupervisedCommand(name: Array("sleep".utf8)),
               SupervisedCommand(name: Array("nope".utf8))],
    startupDelay: 1_000_000_000, killTimeout: 5_000_000_000, quiet: 0) }

private func formatted(_ record: LogRecord, _ core: Supervisor = sleepCore) -> String {
    let w = LineWriter()
    core.format(record, into: w)
    return text(w)
}

final class FormatTests: XCTestCase {
    func testSeedDocumentLines() {
        XCTAssertEqual(formatted(.started(child: 0, pid: 18289)), "dinit: Started 18289 'sleep'\n")
        XCTAssertEqual(formatted(.childExited(child: 1, pid: 18290, status: 0)),
                       "dinit: Child 18290 'sleep' exited with status 0\n")
        XCTAssertEqual(formatted(.stopped(child: 0, pid: 18289, status: 15)),
                       "dinit: Stopped child 18289 'sleep', exited with status 15\n")
        XCTAssertEqual(formatted(.exiting(status: 15)), "dinit: Exiting, status 15\n")
    }

    func testExecFailed() {
        XCTAssertEqual(formatted(.execFailed(child: 2, errno: 2)),
                       "dinit: Cannot execute 'nope': No such file or directory\n")
        XCTAssertEqual(formatted(.execFailed(child: 2, errno: 13)),
                       "dinit: Cannot execute 'nope': Permission denied\n")
        XCTAssertEqual(formatted(.execFailed(child: 2, errno: 999)),
                       "dinit: Cannot execute 'nope': error 999\n")
    }

    func testOtherLines() {
        XCTAssertEqual(formatted(.killing(child: 0, pid: 7)),
                       "dinit: Child 7 'sleep' still running after 5 s, sending SIGKILL\n")
        let fast = Supervisor(commands: [SupervisedCommand(name: Array("x".utf8))],
                              startupDelay: 0, killTimeout: 250_000_000, quiet: 0)
        XCTAssertEqual(formatted(.killing(child: 0, pid: 7), fast),
                       "dinit: Child 7 'x' still running after 0.25 s, sending SIGKILL\n")
        XCTAssertEqual(formatted(.abandoned(child: 0, pid: 7)),
                       "dinit: Child 7 'sleep' did not exit after SIGKILL, giving up on it\n")
        XCTAssertEqual(formatted(.subreaper), "dinit: Not PID 1, registered as child subreaper\n")
        for r in [LogRecord.killingAll, .killingDescendants, .descendantsRemain] {
            let line = formatted(r)
            XCTAssertTrue(line.hasPrefix("dinit: "), line)
            XCTAssertTrue(line.hasSuffix("\n"), line)
            XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, line)
            XCTAssertTrue(line.count > "dinit: \n".count, line)
        }
    }

    func testNegativeAndLargeNumbersInLines() {
        XCTAssertEqual(formatted(.exiting(status: 255)), "dinit: Exiting, status 255\n")
        XCTAssertEqual(formatted(.started(child: 1, pid: Int32.max)), "dinit: Started 2147483647 'sleep'\n")
    }

    func testNonASCIIProgramNameIsCopiedVerbatim() {
        let bytes: [UInt8] = [0x70, 0xC3, 0xA9, 0xFF]
        let core = Supervisor(commands: [SupervisedCommand(name: bytes)], startupDelay: 0, killTimeout: 0, quiet: 0)
        let w = LineWriter()
        core.format(.started(child: 0, pid: 1), into: w)
        XCTAssertEqual(Array(w.bytes), Array("dinit: Started 1 '".utf8) + bytes + Array("'\n".utf8))
    }
}

final class LineWriterTests: XCTestCase {
    func testInts() {
        let cases: [(Int64, String)] = [
            (0, "0"), (7, "7"), (10, "10"), (-1, "-1"), (-42, "-42"), (1234567890, "1234567890"),
            (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"),
        ]
        for (v, expected) in cases {
            let w = LineWriter()
            w.int(v)
            XCTAssertEqual(text(w), expected)
        }
        let w = LineWriter()
        w.int(Int32.min); w.byte(32); w.int(Int(-5)); w.byte(32); w.uint(UInt64.max)
        XCTAssertEqual(text(w), "-2147483648 -5 18446744073709551615")
    }

    func testSeconds() {
        let cases: [(Nanoseconds, String)] = [
            (0, "0"), (250_000_000, "0.25"), (1_000_000_000, "1"), (1_500_000_000, "1.5"),
            (5_000_000_000, "5"), (1, "0.000000001"), (10_000_000_001, "10.000000001"),
            (999_999_999_999_999_999, "999999999.999999999"), (100_000_000, "0.1"),
        ]
        for (ns, expected) in cases {
            let w = LineWriter()
            w.seconds(ns)
            XCTAssertEqual(text(w), expected, "for \(ns)")
        }
    }

    func testTextAndBytes() {
        let w = LineWriter()
        w.text("ab")
        w.bytes([0x63, 0x64])
        [UInt8]([0x65]).withUnsafeBufferPointer { w.bytes($0) }
        w.newline()
        XCTAssertEqual(text(w), "abcde\n")
        XCTAssertEqual(w.count, 6)
        w.reset()
        XCTAssertEqual(w.count, 0)
        w.text("x")
        w.newline()
        XCTAssertEqual(text(w), "x\n")
    }

    func testTruncationKeepsNewline() {
        let w = LineWriter(capacity: 16)
        w.text("0123456789abcdefghijklmnop")
        XCTAssertEqual(w.count, 15)
        w.int(Int64(123))
        w.seconds(1_500_000_000)
        XCTAssertEqual(w.count, 15)
        w.newline()
        XCTAssertEqual(w.count, 16)
        XCTAssertEqual(text(w), "0123456789abcde\n")
    }

    func testTruncatedNumberKeepsLeadingDigits() {
        let w = LineWriter(capacity: 16)
        w.text("0123456789ab")
        w.int(Int64(98765))
        w.newline()
        XCTAssertEqual(text(w), "0123456789ab987\n")
    }

    func testTruncatedLogLineEndsInNewline() {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 200)
        let core = Supervisor(commands: [SupervisedCommand(name: long)], startupDelay: 0, killTimeout: 0, quiet: 0)
        let w = LineWriter(capacity: 64)
        core.format(.childExited(child: 0, pid: 1, status: 3), into: w)
        XCTAssertEqual(w.count, 64)
        XCTAssertEqual(w.bytes.last, UInt8(ascii: "\n"))
        XCTAssertEqual(Array(w.bytes).filter { $0 == UInt8(ascii: "\n") }.count, 1)
        XCTAssertTrue(text(w).hasPrefix("dinit: Child 1 'xxx"))
    }
}
