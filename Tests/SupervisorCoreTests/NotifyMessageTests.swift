import XCTest
import SupervisorCore

private func msg(_ s: String) -> NotifyMessage { NotifyMessage(Array(s.utf8)) }

final class NotifyMessageTests: XCTestCase {
    func testReadyAlone() {
        let m = msg("READY=1")
        XCTAssertTrue(m.ready)
        XCTAssertFalse(m.stopping)
        XCTAssertNil(m.status)
        XCTAssertFalse(m.isEmpty)
    }

    func testSeveralFieldsInOneDatagram() {
        // What php-fpm 8.2 sends when it is ready.
        let m = msg("READY=1\nSTATUS=Ready to handle connections\nMAINPID=4242\n")
        XCTAssertTrue(m.ready)
        XCTAssertEqual(m.status?.bytes, Array("Ready to handle connections".utf8))
        XCTAssertNil(m.errno)
        XCTAssertNil(m.extendTimeout)
    }

    func testEveryKnownField() {
        let m = msg("STOPPING=1\nRELOADING=1\nERRNO=2\nEXTEND_TIMEOUT_USEC=1500000\nSTATUS=x")
        XCTAssertFalse(m.ready)
        XCTAssertTrue(m.stopping)
        XCTAssertTrue(m.reloading)
        XCTAssertEqual(m.errno, 2)
        XCTAssertEqual(m.extendTimeout, 1_500_000_000)
        XCTAssertEqual(m.status?.bytes, [UInt8(ascii: "x")])
    }

    func testReadyMustBeOne() {
        XCTAssertFalse(msg("READY=0").ready)
        XCTAssertFalse(msg("READY=").ready)
        XCTAssertFalse(msg("READY=11").ready)
        XCTAssertFalse(msg("READY").ready)
        XCTAssertFalse(msg("ready=1").ready)
        XCTAssertFalse(msg(" READY=1").ready)
        XCTAssertFalse(msg("XREADY=1").ready)
        // The last assignment wins.
        XCTAssertFalse(msg("READY=1\nREADY=0").ready)
        XCTAssertTrue(msg("READY=0\nREADY=1").ready)
    }

    func testUnknownAndMalformedLinesAreIgnored() {
        let m = msg("FDSTORE=1\nWATCHDOG=1\ngarbage\n\n=1\nMAINPID=12\nREADY=1")
        XCTAssertTrue(m.ready)
        XCTAssertNil(m.status)
        XCTAssertTrue(msg("FDSTORE=1\nWATCHDOG=1\nMAINPID=7").isEmpty)
        XCTAssertTrue(msg("").isEmpty)
        XCTAssertTrue(msg("\n\n\n").isEmpty)
    }

    func testBadNumbersAreIgnored() {
        XCTAssertNil(msg("ERRNO=").errno)
        XCTAssertNil(msg("ERRNO=-1").errno)
        XCTAssertNil(msg("ERRNO=12a").errno)
        XCTAssertNil(msg("ERRNO=99999999999").errno)
        XCTAssertNil(msg("EXTEND_TIMEOUT_USEC=1e6").extendTimeout)
        XCTAssertNil(msg("EXTEND_TIMEOUT_USEC= 5").extendTimeout)
        XCTAssertNil(msg("EXTEND_TIMEOUT_USEC=99999999999999999999999").extendTimeout)
        XCTAssertEqual(msg("EXTEND_TIMEOUT_USEC=0").extendTimeout, 0)
        XCTAssertTrue(msg("ERRNO=x\nEXTEND_TIMEOUT_USEC=y").isEmpty)
    }

    func testStatusIsCutAtItsCapacity() {
        let long = String(repeating: "a", count: 5000)
        let m = msg("STATUS=\(long)\nREADY=1")
        XCTAssertTrue(m.ready)
        XCTAssertEqual(m.status?.count, StatusText.capacity)
        XCTAssertEqual(m.status?.wasCut, true)
        let exact = msg("STATUS=" + String(repeating: "b", count: StatusText.capacity))
        XCTAssertEqual(exact.status?.wasCut, false)
        XCTAssertEqual(exact.status?.count, StatusText.capacity)
    }

    func testEmptyStatusAndBinaryBytes() {
        XCTAssertEqual(msg("STATUS=").status?.count, 0)
        let bytes: [UInt8] = Array("STATUS=".utf8) + [0, 1, 0xff, 0x1b] + Array("\nREADY=1".utf8)
        let m = NotifyMessage(bytes)
        XCTAssertEqual(m.status?.bytes, [0, 1, 0xff, 0x1b])
        XCTAssertTrue(m.ready)
    }

    func testOversizedGarbageDoesNotCrash() {
        var bytes = [UInt8](repeating: UInt8(ascii: "="), count: 70_000)
        for i in stride(from: 0, to: bytes.count, by: 7) { bytes[i] = 10 }
        XCTAssertTrue(NotifyMessage(bytes).isEmpty)
        var random = [UInt8](repeating: 0, count: 4096)
        var x: UInt32 = 12345
        for i in random.indices {
            x = x &* 1_103_515_245 &+ 12345
            random[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        _ = NotifyMessage(random)
    }
}

final class NotifyArgumentTests: XCTestCase {
    private func argv(_ args: [String]) -> [[UInt8]] { (["dinit"] + args).map { Array($0.utf8) } }

    private func config(_ args: [String]) throws -> DinitConfiguration {
        guard case .run(let c) = try parseDinitArguments(argv(args)) else { throw ArgumentError(.noCommand) }
        return c
    }

    private func kind(_ args: [String]) -> ArgumentError.Kind? {
        do { _ = try parseDinitArguments(argv(args)); return nil } catch { return error.kind }
    }

    func testNotifyPrefix() throws {
        let c = try config(["--", ":notify:php-fpm", "-F", "--", ":notify:-pg", "--", "-x", "--", "nginx"])
        XCTAssertEqual(c.commands.map(\.isNotify), [true, true, false, false])
        XCTAssertEqual(c.commands.map(\.ignoresFailure), [false, true, true, false])
        XCTAssertEqual(c.commands.map(\.isWait), [false, false, false, false])
        XCTAssertEqual(c.commands[0].args[0], ArgRef(index: 2, offset: 8))
        XCTAssertEqual(c.commands[1].args[0], ArgRef(index: 5, offset: 9))
        // Only in front of the program.
        XCTAssertEqual(try config(["a", ":notify:"]).commands[0].isNotify, false)
    }

    func testWaitAndNotifyTogetherIsABadCommandLine() {
        XCTAssertEqual(kind([":wait::notify:x"]), .conflictingPrefixes)
        XCTAssertEqual(kind([":notify::wait:x"]), .conflictingPrefixes)
        XCTAssertEqual(kind(["--", "a", "--", ":wait::notify:-x"]), .conflictingPrefixes)
        XCTAssertEqual(kind([":notify:"]), .missingProgram)
        XCTAssertEqual(kind([":notify:-"]), .missingProgram)
        let line = LineWriter(capacity: 256)
        ArgumentError(.conflictingPrefixes, Array(":wait::notify:x".utf8)).write(to: line)
        XCTAssertEqual(String(decoding: Array(line.bytes), as: UTF8.self),
                       "':wait:' and ':notify:' cannot be combined, in ':wait::notify:x'")
    }

    func testReadyTimeoutOption() throws {
        XCTAssertEqual(try config(["a"]).readyTimeout, 90_000_000_000)
        XCTAssertEqual(try config(["-r", "2.5", "a"]).readyTimeout, 2_500_000_000)
        XCTAssertEqual(try config(["-r0", "a"]).readyTimeout, 0)
        XCTAssertEqual(kind(["-r", "x", "a"]), .invalidValue)
        XCTAssertEqual(kind(["-r", "-1", "a"]), .invalidValue)
        XCTAssertEqual(kind(["-r"]), .missingValue)
    }
}
