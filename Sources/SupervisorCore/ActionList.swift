/// The actions produced for one event: a buffer with a fixed capacity, reserved
/// at start-up and reused, so that handling an event never allocates.
public struct ActionList {
    @usableFromInline var storage: [Action]
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
        storage = []
        storage.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { storage.count }
    @inlinable public subscript(i: Int) -> Action { storage[i] }
    @inlinable public var isEmpty: Bool { storage.isEmpty }

    /// Appends an action. A core sizes the buffer so this never grows it;
    /// growing would still be correct, only not allocation-free.
    @inlinable public mutating func append(_ a: Action) { storage.append(a) }

    @inlinable public mutating func removeAll() { storage.removeAll(keepingCapacity: true) }
}

extension ActionList {
    /// Appends a log action if `-q` lets it through: quiet 1 keeps errors
    /// only, quiet 2 and 3 keep nothing.
    @inlinable
    public mutating func log(_ record: LogRecord, quiet: Int) {
        if quiet >= 2 || (quiet == 1 && record.level == .info) { return }
        append(.log(record))
    }
}
