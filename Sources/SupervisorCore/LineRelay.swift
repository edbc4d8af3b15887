/// Tagged output (`dinit -p`), the pure part: one child stream's bytes cut
/// into lines, each line handed out whole for "NAME | line\n". No syscalls:
/// the reactor reads into `readSpace` and takes the lines out.
///
/// One relay per child stream, with one buffer of `bufferSize` bytes
/// allocated at start-up (reads take up to that much at once). A line is at
/// most `lineLimit` bytes
/// with its tag and newline (4096, PIPE_BUF: one write of it into a pipe is
/// atomic even with other writers); a longer line is cut there, and the rest
/// goes on as a new line with the same tag. At the end of input a last line
/// without a newline is handed out as a line.
public final class LineRelay {
    /// PIPE_BUF on Linux.
    public static let defaultLineLimit = 4096
    public static let defaultBufferSize = 65536
    /// Names longer than this are cut in the tag (so a tag leaves room for
    /// a line).
    public static let maxNameWidth = 64

    /// "NAME<padding> | ".
    public let prefix: UnsafeBufferPointer<UInt8>
    /// The most bytes of a line (without tag and newline) handed out at once.
    public let capacity: Int
    public let bufferSize: Int
    let buffer: UnsafeMutablePointer<UInt8>
    /// Unconsumed input is buffer[start..<end].
    var start = 0
    var end = 0
    /// Bytes from `start` already searched for a newline.
    var scanned = 0
    /// The line `nextLine` found: its length, and 1 when a newline ends it.
    var lineLength = -1
    var lineTerminator = 0
    public private(set) var atEnd = false

    /// `width`: the tag is padded to this many bytes (the longest name of the
    /// run). Control bytes in the name become `?`.
    public init(name: [UInt8], width: Int, lineLimit: Int = LineRelay.defaultLineLimit,
                bufferSize: Int = LineRelay.defaultBufferSize) {
        let shown = min(name.count, Self.maxNameWidth)
        let padded = max(shown, min(width, Self.maxNameWidth))
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: padded + 3)
        for k in 0..<padded {
            if k < shown {
                let b = name[k]
                p[k] = b < 0x20 || b == 0x7f ? UInt8(ascii: "?") : b
            } else {
                p[k] = UInt8(ascii: " ")
            }
        }
        p[padded] = UInt8(ascii: " ")
        p[padded + 1] = UInt8(ascii: "|")
        p[padded + 2] = UInt8(ascii: " ")
        prefix = UnsafeBufferPointer(start: p, count: padded + 3)
        capacity = max(lineLimit - prefix.count - 1, 16)
        // Room for a longest line and its newline.
        self.bufferSize = max(bufferSize, capacity + 1)
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: self.bufferSize)
    }

    deinit {
        buffer.deallocate()
        prefix.baseAddress.map { UnsafeMutablePointer(mutating: $0).deallocate() }
    }

    /// Bytes received and not yet handed out.
    public var pendingCount: Int { end - start }
    /// Whether nothing is left to hand out.
    public var isEmpty: Bool { start == end }

    /// Where the next read goes; empty while a full line waits to be taken
    /// out (or after the end of input).
    public var readSpace: UnsafeMutableRawBufferPointer {
        if atEnd { return UnsafeMutableRawBufferPointer(start: buffer, count: 0) }
        if start > 0 {
            let n = end - start
            if n > 0 { copyBytes(to: buffer, from: buffer + start, n) }
            start = 0
            end = n
            if lineLength >= 0 { lineLength = -1 }
        }
        return UnsafeMutableRawBufferPointer(start: buffer + end, count: bufferSize - end)
    }

    /// `n` bytes were read into `readSpace`.
    public func received(_ n: Int) {
        precondition(n >= 0 && end + n <= bufferSize)
        end += n
    }

    /// The input has ended: what is left goes out as a last line.
    public func endOfInput() {
        atEnd = true
        lineLength = -1
    }

    /// The next complete line (without its newline), or nil when only a
    /// partial line is left. Taken out with `consumeLine`.
    public func nextLine() -> UnsafeBufferPointer<UInt8>? {
        if lineLength >= 0 { return UnsafeBufferPointer(start: buffer + start, count: lineLength) }
        let n = end - start
        if n == 0 { return nil }
        // A newline after at most `capacity` bytes ends the line; without
        // one the line is cut there.
        let limit = start + min(n, capacity + 1)
        var i = start + scanned
        while i < limit, buffer[i] != 10 { i += 1 }
        if i < limit {
            lineLength = i - start
            lineTerminator = 1
        } else if n > capacity || atEnd {
            // Too long for one line (cut), or the last line without a newline.
            lineLength = min(n, capacity)
            lineTerminator = 0
        } else {
            scanned = limit - start
            return nil
        }
        return UnsafeBufferPointer(start: buffer + start, count: lineLength)
    }

    /// Takes out the line `nextLine` returned.
    public func consumeLine() {
        precondition(lineLength >= 0)
        start += lineLength + lineTerminator
        lineLength = -1
        scanned = 0
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Moves complete lines, tagged, into `queue` while they fit its relay
    /// room. Returns true when no complete line is left behind. (The same
    /// as `nextLine`, `queue.append` and `consumeLine` in a loop, in one
    /// pass over the buffer: this is the relay's hot path.)
    @discardableResult
    public func drain(into queue: OutputQueue) -> Bool {
        if lineLength >= 0 {
            // A line `nextLine` found before: hand it out first.
            guard let line = nextLine(), queue.append(prefix, line) else { return false }
            consumeLine()
        }
        guard let tag = prefix.baseAddress else { return true }
        let tagCount = prefix.count
        var out = queue.contiguousRoom()
        var room = out.count
        var at = out.baseAddress!
        var s = start
        var full = false
        while s < end {
            let limit = s + min(end - s, capacity + 1)
            let newline = Self.newline(in: buffer, from: s + scanned, to: limit)
            guard let i = newline ?? (end - s > capacity || atEnd ? s + min(end - s, capacity) : nil) else {
                scanned = limit - s
                break
            }
            let length = i - s
            let need = tagCount + length + 1
            if need > room {
                full = true
                break
            }
            copyShort(to: at, from: tag, tagCount)
            copyShort(to: at + tagCount, from: UnsafePointer(buffer + s), length)
            at[tagCount + length] = 10
            at += need
            room -= need
            s = newline == nil ? i : i + 1
            scanned = 0
        }
        queue.filled(out.count - room)
        start = s
        if start == end {
            start = 0
            end = 0
            scanned = 0
        }
        out = UnsafeMutableBufferPointer(start: nil, count: 0)
        return !full
    }

    /// The index of the first newline in buffer[from..<to], eight bytes at
    /// a time.
    @inline(__always)
    static func newline(in buffer: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
        var i = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let newlines: UInt64 = 0x0a0a_0a0a_0a0a_0a0a
        while i + 8 <= to {
            let x = UnsafeRawPointer(buffer + i).loadUnaligned(as: UInt64.self) ^ newlines
            // A byte of x is zero where a newline is; the lowest flagged
            // byte is the first zero byte (little-endian).
            let found = (x &- ones) & ~x & highs
            if found != 0 { return i + found.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < to {
            if buffer[i] == 10 { return i }
            i += 1
        }
        return nil
    }
}

/// Output waiting for one of dinit's own streams (stdout or stderr): whole
/// tagged lines, and dinit's own log lines, in the order they came, written
/// out in chunks that end at a line's end. Allocated once.
public final class OutputQueue {
    /// Relayed lines may fill the queue up to this; dinit's own lines may use
    /// the rest, so that they still find room while the stream is stalled.
    public let relayCapacity: Int
    public let capacity: Int
    let base: UnsafeMutablePointer<UInt8>
    var head = 0
    var tail = 0

    public init(relayCapacity: Int = 65536, capacity: Int = 73728) {
        precondition(capacity >= relayCapacity)
        self.relayCapacity = relayCapacity
        self.capacity = capacity
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    public var count: Int { tail - head }
    public var isEmpty: Bool { head == tail }

    /// Appends `prefix`, `line` and a newline if that fits the relay room.
    public func append(_ prefix: UnsafeBufferPointer<UInt8>, _ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = prefix.count + line.count + 1
        guard makeRoom(n, limit: relayCapacity) else { return false }
        copy(prefix)
        copy(line)
        base[tail] = 10
        tail += 1
        return true
    }

    /// The free room at the end that relayed lines may use, made
    /// contiguous; `filled` says how much of it was used.
    public func contiguousRoom() -> UnsafeMutableBufferPointer<UInt8> {
        let n = relayCapacity - count
        if n <= 0 { return UnsafeMutableBufferPointer(start: base + tail, count: 0) }
        if tail + n > capacity { _ = makeRoom(n, limit: relayCapacity) }
        return UnsafeMutableBufferPointer(start: base + tail, count: min(n, capacity - tail))
    }

    public func filled(_ n: Int) {
        precondition(n >= 0 && tail + n <= capacity)
        tail += n
    }

    /// Appends a whole line of dinit's own (ending in a newline) if it fits.
    public func appendOwn(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard makeRoom(line.count, limit: capacity) else { return false }
        copy(line)
        return true
    }

    /// The next bytes to write: at most `limit`, ending at the end of a line
    /// when one ends within `limit` bytes.
    public func nextChunk(limit: Int) -> UnsafeBufferPointer<UInt8> {
        var n = count
        if n > limit {
            n = limit
            var k = head + limit
            while k > head, base[k - 1] != 10 { k -= 1 }
            if k > head { n = k - head }
        }
        return UnsafeBufferPointer(start: base + head, count: n)
    }

    /// `n` bytes of `nextChunk` were written.
    public func consumed(_ n: Int) {
        precondition(n >= 0 && n <= count)
        head += n
        if head == tail {
            head = 0
            tail = 0
        }
    }

    public func removeAll() {
        head = 0
        tail = 0
    }

    func makeRoom(_ n: Int, limit: Int) -> Bool {
        if count + n > limit { return false }
        if tail + n > capacity {
            let c = count
            if c > 0 { copyBytes(to: base, from: base + head, c) }
            head = 0
            tail = c
        }
        return true
    }

    func copy(_ b: UnsafeBufferPointer<UInt8>) {
        guard let p = b.baseAddress, b.count > 0 else { return }
        copyBytes(to: base + tail, from: p, b.count)
        tail += b.count
    }
}

/// memmove. (`update(from:count:)` became a byte-at-a-time loop in the
/// Embedded -Osize build; raw `copyMemory` is the memmove intrinsic.)
@inline(__always)
func copyBytes(to: UnsafeMutablePointer<UInt8>, from: UnsafePointer<UInt8>, _ count: Int) {
    UnsafeMutableRawPointer(to).copyMemory(from: UnsafeRawPointer(from), byteCount: count)
}

@inline(__always)
func copyBytes(to: UnsafeMutablePointer<UInt8>, from: UnsafeMutablePointer<UInt8>, _ count: Int) {
    UnsafeMutableRawPointer(to).copyMemory(from: UnsafeRawPointer(from), byteCount: count)
}

/// A copy for tags and typical lines: eight bytes at a time inline, which
/// beats a call into memcpy for short lengths; long ones go to memmove.
@inline(__always)
func copyShort(to: UnsafeMutablePointer<UInt8>, from: UnsafePointer<UInt8>, _ count: Int) {
    if count > 256 {
        copyBytes(to: to, from: from, count)
        return
    }
    let d = UnsafeMutableRawPointer(to)
    let s = UnsafeRawPointer(from)
    var i = 0
    while i + 8 <= count {
        d.storeBytes(of: s.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
        i += 8
    }
    while i < count {
        to[i] = from[i]
        i += 1
    }
}
