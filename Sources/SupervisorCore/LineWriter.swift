/// Assembles one log line in a buffer allocated once, from static strings,
/// byte strings and integers: no String, no interpolation, no allocation.
/// Output that does not fit is cut, and the line still ends in a newline.
public final class LineWriter {
    public let capacity: Int
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    public private(set) var count: Int = 0

    public init(capacity: Int = 1024) {
        precondition(capacity >= 16)
        self.capacity = capacity
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    public func reset() { count = 0 }

    /// The bytes written so far.
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// Room is kept for the final newline.
    @inlinable var room: Int { capacity - 1 - count }

    public func byte(_ b: UInt8) {
        if room > 0 { base[count] = b; count += 1 }
    }

    public func text(_ s: StaticString) {
        s.withUTF8Buffer { buf in
            for b in buf { byte(b) }
        }
    }

    public func bytes(_ s: [UInt8]) {
        for b in s { byte(b) }
    }

    /// Bytes from the command line, with control characters escaped
    /// (`\n`, `\t`, `\xNN`) so that a message stays one line.
    public func escaped(_ s: [UInt8]) {
        for b in s { escapedByte(b) }
    }

    /// The same for bytes that came from a child (a STATUS= text).
    public func escaped(_ s: UnsafeBufferPointer<UInt8>) {
        for b in s { escapedByte(b) }
    }

    func escapedByte(_ b: UInt8) {
        let hex: StaticString = "0123456789abcdef"
        switch b {
        case UInt8(ascii: "\n"): byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "n"))
        case UInt8(ascii: "\t"): byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "t"))
        case 0..<0x20, 0x7f:
            byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "x"))
            byte(hex.utf8Start[Int(b >> 4)]); byte(hex.utf8Start[Int(b & 15)])
        default: byte(b)
        }
    }

    public func bytes(_ s: UnsafeBufferPointer<UInt8>) {
        for b in s { byte(b) }
    }

    public func int(_ value: Int64) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            // -(Int64.min) overflows; print its magnitude through UInt64.
            uint(UInt64(bitPattern: 0 &- value))
        } else {
            uint(UInt64(value))
        }
    }

    public func int(_ value: Int32) { int(Int64(value)) }
    public func int(_ value: Int) { int(Int64(value)) }

    public func uint(_ value: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            } while v != 0
            while n > 0 {
                n -= 1
                byte(d[n])
            }
        }
    }

    /// Seconds given in nanoseconds, as the shortest decimal: 5, 0.25, 1.5.
    public func seconds(_ ns: Nanoseconds) {
        uint(UInt64(ns / 1_000_000_000))
        var frac = ns % 1_000_000_000
        if frac == 0 { return }
        byte(UInt8(ascii: "."))
        var scale: Int64 = 100_000_000
        while frac != 0 {
            byte(UInt8(ascii: "0") + UInt8(frac / scale))
            frac %= scale
            scale /= 10
        }
    }

    /// Ends the line with a newline: `byte` always leaves room for one. A
    /// buffer of several lines (journal fields) that has filled up gets no
    /// more.
    public func newline() {
        guard count < capacity else { return }
        base[count] = UInt8(ascii: "\n")
        count += 1
    }
}
