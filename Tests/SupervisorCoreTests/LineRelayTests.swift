import XCTest
import SupervisorCore

/// Feeds bytes into a relay as a read would.
private func feed(_ relay: LineRelay, _ s: String, _ sinkQueue: OutputQueue) {
    var bytes = Array(s.utf8)[...]
    while !bytes.isEmpty {
        let space = relay.readSpace
        XCTAssertGreaterThan(space.count, 0, "no room to read into: a full line was not taken out")
        let n = min(space.count, bytes.count)
        for (k, b) in bytes.prefix(n).enumerated() { space[k] = b }
        relay.received(n)
        bytes = bytes.dropFirst(n)
        if !bytes.isEmpty { XCTAssertTrue(relay.drain(into: sinkQueue)) }
    }
}

/// Empties a queue.
private func taken(_ q: OutputQueue) -> String {
    var out: [UInt8] = []
    while !q.isEmpty {
        let chunk = q.nextChunk(limit: 1 << 20)
        out += Array(chunk)
        q.consumed(chunk.count)
    }
    return String(decoding: out, as: UTF8.self)
}

private func bytesOf(_ s: String) -> [UInt8] { Array(s.utf8) }

final class LineRelayTests: XCTestCase {
    /// A queue large enough for every test here, emptied by `taken`.
    let sinkQueue = OutputQueue(relayCapacity: 1 << 20, capacity: 1 << 20)

    func testTagsEveryLinePaddedToTheWidth() {
        let relay = LineRelay(name: bytesOf("web"), width: 7)
        XCTAssertEqual(String(decoding: Array(relay.prefix), as: UTF8.self), "web     | ")
        feed(relay, "one\ntwo\n", sinkQueue)
        XCTAssertTrue(relay.drain(into: sinkQueue))
        XCTAssertEqual(taken(sinkQueue), "web     | one\nweb     | two\n")
        XCTAssertTrue(relay.isEmpty)
    }

    func testTheLongestNameIsNotPadded() {
        let relay = LineRelay(name: bytesOf("postgres"), width: 8)
        feed(relay, "x\n", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "postgres | x\n")
    }

    func testPartialLineWaitsForTheRest() {
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        feed(relay, "hel", sinkQueue)
        XCTAssertTrue(relay.drain(into: sinkQueue))
        XCTAssertEqual(taken(sinkQueue), "")
        XCTAssertEqual(relay.pendingCount, 3)
        feed(relay, "lo\nwor", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | hello\n")
        feed(relay, "ld\n", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | world\n")
    }

    func testEndOfInputFlushesALastLineWithoutNewline() {
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        feed(relay, "x\nno newline", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | x\n")
        relay.endOfInput()
        XCTAssertEqual(relay.readSpace.count, 0, "nothing is read after the end")
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | no newline\n")
        XCTAssertTrue(relay.isEmpty)
        // An empty end adds nothing.
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "")
    }

    func testEmptyLinesAreKept() {
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        feed(relay, "\n\nx\n", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | \na | \na | x\n")
    }

    /// A line longer than the buffer is cut where the tagged line reaches
    /// the line limit; the rest goes on with the same tag.
    func testLongLineIsCutAndContinuesWithTheSameTag() {
        let relay = LineRelay(name: bytesOf("job"), width: 3, lineLimit: 64)
        XCTAssertEqual(relay.capacity, 64 - 6 - 1)
        let long = String(repeating: "x", count: 150)
        feed(relay, long + "\nafter\n", sinkQueue)
        relay.drain(into: sinkQueue)
        let out = taken(sinkQueue)
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.map { $0.count }, [64 - 1, 64 - 1, 6 + 150 - 2 * 57, 6 + 5])
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("job | ") })
        XCTAssertEqual(lines.map { $0.dropFirst(6) }.prefix(3).joined(), long)
        XCTAssertEqual(lines.last, "job | after")
    }

    /// The default limit: a tagged line is at most PIPE_BUF (4096) bytes.
    func testDefaultLimitIsPipeBuf() {
        let relay = LineRelay(name: bytesOf("cat"), width: 3)
        feed(relay, String(repeating: "y", count: 10_000) + "\n", sinkQueue)
        relay.drain(into: sinkQueue)
        let lines = taken(sinkQueue).split(separator: "\n").map { $0.count + 1 }
        XCTAssertEqual(lines, [4096, 4096, 10_000 - 2 * (4096 - 7) + 7])
    }

    /// A line of exactly the longest length is one line, not a full line and
    /// an empty one; one byte more is cut.
    func testLineOfExactlyTheLimit() {
        let relay = LineRelay(name: bytesOf("a"), width: 1, lineLimit: 32)
        let exact = String(repeating: "e", count: relay.capacity)
        feed(relay, exact + "\n" + exact + "f\n", sinkQueue)
        relay.drain(into: sinkQueue)
        XCTAssertEqual(taken(sinkQueue), "a | \(exact)\na | \(exact)\na | f\n")
        // The same through nextLine (the journal's path).
        let other = LineRelay(name: bytesOf("a"), width: 1, lineLimit: 32, bufferSize: 64)
        feed(other, exact + "\n" + exact + "f\n", sinkQueue)
        var got: [String] = []
        while let line = other.nextLine() {
            got.append(String(decoding: Array(line), as: UTF8.self))
            other.consumeLine()
        }
        XCTAssertEqual(got, [exact, exact, "f"])
    }

    func testControlBytesInTheNameAreReplacedAndLongNamesCut() {
        let relay = LineRelay(name: bytesOf("a\nb"), width: 3)
        XCTAssertEqual(String(decoding: Array(relay.prefix), as: UTF8.self), "a?b | ")
        let long = LineRelay(name: Array(repeating: UInt8(ascii: "n"), count: 200), width: 200)
        XCTAssertEqual(long.prefix.count, LineRelay.maxNameWidth + 3)
    }

    /// A full queue stops the relay; what it keeps goes out later, in order.
    func testFullQueueHoldsLinesBackInOrder() {
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        let q = OutputQueue(relayCapacity: 16, capacity: 64)
        feed(relay, "111\n222\n333\n", sinkQueue)
        XCTAssertFalse(relay.drain(into: q))
        XCTAssertEqual(taken(q), "a | 111\na | 222\n")
        XCTAssertTrue(relay.drain(into: q))
        XCTAssertEqual(taken(q), "a | 333\n")
    }

    /// dinit's own lines may use the room kept beyond the relay capacity.
    func testOwnLinesUseTheReservedRoom() {
        let q = OutputQueue(relayCapacity: 10, capacity: 24)
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        feed(relay, "1234\n", sinkQueue)
        XCTAssertTrue(relay.drain(into: q))
        feed(relay, "5\n", sinkQueue)
        XCTAssertFalse(relay.drain(into: q), "the relay room is full")
        let own = Array("dinit: hello\n".utf8)
        XCTAssertTrue(own.withUnsafeBufferPointer { q.appendOwn($0) })
        XCTAssertFalse(own.withUnsafeBufferPointer { q.appendOwn($0) }, "no room left")
        XCTAssertEqual(taken(q), "a | 1234\ndinit: hello\n")
        XCTAssertTrue(relay.drain(into: q))
        XCTAssertEqual(taken(q), "a | 5\n")
    }

    /// Chunks end at a line's end, so a write never splits a line that fits.
    func testChunksEndAtLineEnds() {
        let q = OutputQueue(relayCapacity: 100, capacity: 100)
        let relay = LineRelay(name: bytesOf("a"), width: 1)
        feed(relay, "aaaa\nbbbb\ncccc\n", sinkQueue)
        relay.drain(into: q)
        let chunk = q.nextChunk(limit: 20)
        XCTAssertEqual(String(decoding: Array(chunk), as: UTF8.self), "a | aaaa\na | bbbb\n")
        // A partial write leaves the rest first in line.
        q.consumed(4)
        XCTAssertEqual(String(decoding: Array(q.nextChunk(limit: 100)), as: UTF8.self), "aaaa\na | bbbb\na | cccc\n")
    }

    /// Many lines through a small buffer: nothing lost, nothing reordered,
    /// whatever the read sizes.
    func testStreamSurvivesAnyReadSizes() {
        let relay = LineRelay(name: bytesOf("n"), width: 1, lineLimit: 48)
        var expected = ""
        var input = ""
        for i in 0..<500 {
            let l = String(repeating: "z", count: i % 30) + "\(i)"
            input += l + "\n"
            expected += "n | " + l + "\n"
        }
        var bytes = Array(input.utf8)[...]
        var size = 1
        var out = ""
        while !bytes.isEmpty {
            let space = relay.readSpace
            let n = min(space.count, bytes.count, size)
            for (k, b) in bytes.prefix(n).enumerated() { space[k] = b }
            relay.received(n)
            bytes = bytes.dropFirst(n)
            relay.drain(into: sinkQueue)
            out += taken(sinkQueue)
            size = size % 37 + 1
        }
        relay.endOfInput()
        relay.drain(into: sinkQueue)
        out += taken(sinkQueue)
        XCTAssertEqual(out, expected)
    }
}

final class TaggedOutputArgumentTests: XCTestCase {
    func parse(_ args: [String]) throws -> DinitConfiguration {
        guard case .run(let c) = try parseDinitArguments((["dinit"] + args).map { Array($0.utf8) }) else {
            throw XCTSkip("not a run")
        }
        return c
    }

    func testPIsOffByDefaultAndAFlag() throws {
        XCTAssertFalse(try parse(["--", "true"]).tagOutput)
        XCTAssertTrue(try parse(["-p", "--", "true"]).tagOutput)
        let clustered = try parse(["-qqp", "--", "true"])
        XCTAssertTrue(clustered.tagOutput)
        XCTAssertEqual(clustered.quiet, 2)
        XCTAssertTrue(try parse(["-gp", "-d", "0", "true"]).tagOutput)
        XCTAssertThrowsError(try parse(["-px", "--", "true"]))
    }
}
