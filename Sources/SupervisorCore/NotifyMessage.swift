/// One sd_notify datagram, parsed as bytes: newline-separated `KEY=VALUE`
/// assignments (see sd_notify(3)). Only what dinit acts on or logs is kept;
/// unknown keys, lines without `=` and malformed numbers are ignored, and a
/// key given twice keeps its last value. Parsing never allocates: the STATUS
/// text is copied into fixed inline storage, cut at `StatusText.capacity`.
public struct NotifyMessage: Equatable {
    /// `READY=1`: start-up of the service is finished.
    public var ready = false
    /// `STOPPING=1`: the service is beginning its shutdown.
    public var stopping = false
    /// `RELOADING=1`: the service is reloading its configuration.
    public var reloading = false
    /// `ERRNO=n`: the service failed with this errno (a non-negative decimal).
    public var errno: Int32? = nil
    /// `EXTEND_TIMEOUT_USEC=n`: extend the start-up deadline to now + n µs.
    public var extendTimeout: Nanoseconds? = nil
    /// `STATUS=text`: free-form status.
    public var status: StatusText? = nil

    public init() {}

    /// Parses the `count` bytes at `bytes`.
    public init(parsing bytes: UnsafeBufferPointer<UInt8>) {
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            assign(UnsafeBufferPointer(rebasing: bytes[start..<end]))
            start = end + 1
        }
    }

    /// Parses a byte array (for tests and callers outside the loop).
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { NotifyMessage(parsing: $0) }
    }

    /// Whether the message carries anything dinit acts on or logs.
    public var isEmpty: Bool {
        !ready && !stopping && !reloading && errno == nil && extendTimeout == nil && status == nil
    }

    mutating func assign(_ line: UnsafeBufferPointer<UInt8>) {
        guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { return }
        let key = UnsafeBufferPointer(rebasing: line[0..<eq])
        let value = UnsafeBufferPointer(rebasing: line[(eq + 1)...])
        if Self.equal(key, "READY") {
            ready = Self.equal(value, "1")
        } else if Self.equal(key, "STOPPING") {
            stopping = Self.equal(value, "1")
        } else if Self.equal(key, "RELOADING") {
            reloading = Self.equal(value, "1")
        } else if Self.equal(key, "STATUS") {
            status = StatusText(value)
        } else if Self.equal(key, "ERRNO") {
            if let n = Self.decimal(value, max: Int64(Int32.max)) { errno = Int32(n) }
        } else if Self.equal(key, "EXTEND_TIMEOUT_USEC") {
            // A billion seconds at most, like every other time in dinit.
            if let us = Self.decimal(value, max: 999_999_999_999_999) { extendTimeout = us * 1000 }
        }
    }

    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        s.withUTF8Buffer { b in
            guard a.count == b.count else { return false }
            for k in 0..<b.count where a[k] != b[k] { return false }
            return true
        }
    }

    /// A non-empty run of decimal digits no larger than `max`.
    static func decimal(_ s: UnsafeBufferPointer<UInt8>, max: Int64) -> Int64? {
        guard !s.isEmpty else { return nil }
        var n: Int64 = 0
        for c in s {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int64(c - UInt8(ascii: "0"))
            if n > max { return nil }
        }
        return n
    }
}

/// A STATUS= text of at most `capacity` bytes, stored inline (no heap): the
/// rest of a longer text is dropped.
public struct StatusText: Equatable {
    public static let capacity = 96
    var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count = 0
    /// The text given was longer than `capacity`.
    public private(set) var wasCut = false

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        count = Swift.min(bytes.count, Self.capacity)
        wasCut = bytes.count > Self.capacity
        let n = count
        withUnsafeMutableBytes(of: &storage) { raw in
            for k in 0..<n { raw[k] = bytes[k] }
        }
    }

    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { StatusText($0) }
    }

    /// Calls `body` with the text's bytes.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count))
        }
    }

    public var bytes: [UInt8] { withBytes { Array($0) } }

    public static func == (a: StatusText, b: StatusText) -> Bool {
        a.count == b.count && a.wasCut == b.wasCut && a.withBytes { x in b.withBytes { y in
            for k in 0..<x.count where x[k] != y[k] { return false }
            return true
        } }
    }
}
