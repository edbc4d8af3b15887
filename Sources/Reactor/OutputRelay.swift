import LinuxSys
import SupervisorCore

/// `dinit -p`: every child's stdout and stderr come through a pipe each,
/// whose read ends are in the reactor's epoll set; lines go out tagged on
/// dinit's own stdout and stderr (or to the journal).
///
/// dinit never waits on its own output. A write to stdout or stderr is made
/// with RWF_NOWAIT (pwritev2), so it fails with EAGAIN instead of waiting,
/// and O_NONBLOCK is never set on those descriptors: the flag belongs to the
/// open file description, which is shared with other processes (a terminal
/// that is also a child's stdin, the shell that started dinit). Where
/// RWF_NOWAIT is not supported (a terminal), a zero-timeout poll for POLLOUT
/// comes before each write instead; where epoll cannot wait on the
/// descriptor (a regular file, which never stalls), writes are plain.
///
/// When a stream cannot take more, its queue keeps what was not written
/// (whole lines, up to 64 KiB), the reactor waits for EPOLLOUT on it, and a
/// child whose lines no longer fit the queue is not read any more: its pipe
/// fills up and the child blocks in write, while dinit goes on handling
/// signals, exits and deadlines. When the stream drains, the waiting
/// children are read again. Nothing is dropped and each stream keeps its
/// order. Every chunk written ends at a line's end, so lines of different
/// children are never mixed; after a partial write (possible above
/// PIPE_BUF) the rest of that line goes next, and when stdout and stderr
/// are one file, before the other stream gets anything.
///
/// At exit dinit waits up to `ReactorOptions.outputGrace` (the kill timeout,
/// at least a second) for its streams to take what it has already read;
/// a shutdown signal during that wait ends it at once. It never waits for
/// a pipe to end: a descendant that keeps one open does not hold it up.
final class OutputRelay {
    enum WriteMode { case nowait, polled, plain }

    /// Relay `2 * child` is the child's stdout, `2 * child + 1` its stderr.
    let relays: [LineRelay]
    /// Read ends (-1 before the spawn and after the end of input).
    var fds: [Int32]
    /// In the epoll set (not paused for a stalled stream).
    var reading: [Bool]
    /// Paused: has lines the queue could not take.
    var waiting: [Bool]
    /// The child's pid, for journal entries.
    var pids: [Int32]
    /// dinit's stdout and stderr, and what waits to be written to them.
    let outputs: [FileDescriptor]
    let queues: [OutputQueue]
    var blocked: [Bool]
    var broken: [Bool]
    var modes: [WriteMode]
    let firstPipeTag: UInt64
    let firstOutputTag: UInt64
    let epoll: Epoll
    let sink: JournalSink

    /// The most bytes one write puts into a stream. Chunks end at a line's
    /// end; a write of at most PIPE_BUF into a pipe is all or nothing, a
    /// larger one may be partial (see `lineOwner`).
    static var chunkLimit: Int { 65536 }
    /// When stdout and stderr are the same file (`2>&1`, a terminal): the
    /// stream whose last write ended inside a line. Until the rest of that
    /// line is written the other stream is not written to, so lines never
    /// mix. (Two different files never hold each other up.)
    var lineOwner = -1
    let sharedOutput: Bool

    init(names: [[UInt8]], outputs: [FileDescriptor], firstPipeTag: UInt64, epoll: Epoll, sink: JournalSink) {
        self.epoll = epoll
        self.sink = sink
        sharedOutput = outputs[0].isSameFile(as: outputs[1])
        let width = names.reduce(0) { max($0, $1.count) }
        var relays: [LineRelay] = []
        relays.reserveCapacity(2 * names.count)
        for name in names {
            relays.append(LineRelay(name: name, width: width))
            relays.append(LineRelay(name: name, width: width))
        }
        self.relays = relays
        fds = Array(repeating: -1, count: relays.count)
        reading = Array(repeating: false, count: relays.count)
        waiting = Array(repeating: false, count: relays.count)
        pids = Array(repeating: 0, count: names.count)
        self.outputs = outputs
        queues = [OutputQueue(), OutputQueue()]
        // Not array literals: a constant literal may be a static, immortal
        // buffer, which the first write would copy (an allocation).
        blocked = Array(repeating: false, count: 2)
        broken = Array(repeating: false, count: 2)
        modes = Array(repeating: .nowait, count: 2)
        self.firstPipeTag = firstPipeTag
        firstOutputTag = firstPipeTag + UInt64(relays.count)
    }

    /// Takes the read ends of a child just spawned.
    func attach(child: Int, pid: Int32, output: FileDescriptor, error: FileDescriptor) {
        pids[child] = pid
        watch(2 * child, output)
        watch(2 * child + 1, error)
    }

    func watch(_ r: Int, _ fd: FileDescriptor) {
        fds[r] = fd.rawValue
        if (try? epoll.add(fd, tag: firstPipeTag + UInt64(r))) != nil {
            reading[r] = true
        } else {
            // Cannot be watched: give up on this stream rather than leave
            // the child writing into a pipe no one reads.
            fd.close()
            fds[r] = -1
        }
    }

    /// Whether `tag` is one of ours; handles it if so.
    func handles(_ tag: UInt64) -> Bool {
        if tag >= firstPipeTag, tag < firstOutputTag {
            readable(Int(tag - firstPipeTag))
            return true
        }
        if tag >= firstOutputTag, tag < firstOutputTag + 2 {
            writable(Int(tag - firstOutputTag))
            return true
        }
        return false
    }

    /// One read from a child's pipe (epoll is level-triggered: the next wait
    /// reports what is left, so busy children take turns).
    func readable(_ r: Int) {
        guard fds[r] >= 0, reading[r] else { return }
        _ = readOnce(r)
        transfer(r)
    }

    enum ReadResult { case data, empty, ended, full }

    /// Reads once into relay `r`.
    func readOnce(_ r: Int) -> ReadResult {
        let relay = relays[r]
        let space = relay.readSpace
        guard space.count > 0, let base = space.baseAddress else { return .full }
        let fd = FileDescriptor(rawValue: fds[r])
        let n: Int?
        do throws(Errno) {
            n = try fd.readAvailable(into: base, count: space.count)
        } catch {
            n = 0  // an error ends this stream like an end of file
        }
        guard let n else { return .empty }
        if n == 0 {
            relay.endOfInput()
            close(r)
            return .ended
        }
        relay.received(n)
        return .data
    }

    func close(_ r: Int) {
        guard fds[r] >= 0 else { return }
        let fd = FileDescriptor(rawValue: fds[r])
        if reading[r] { try? epoll.remove(fd) }
        fd.close()
        fds[r] = -1
        reading[r] = false
    }

    /// Hands relay `r`'s complete lines on, writes what can be written, and
    /// pauses the relay when its stream's queue is full.
    func transfer(_ r: Int) {
        let s = r & 1
        let relay = relays[r]
        if sink.active {
            while let line = relay.nextLine() {
                sink.send(line, child: r >> 1, pid: pids[r >> 1], error: s == 1)
                relay.consumeLine()
            }
            return
        }
        while !relay.drain(into: queues[s]) {
            let before = queues[s].count
            flush(s)
            if queues[s].count == before { break }
        }
        flush(s)
        if relay.nextLine() != nil {
            pause(r)
        }
    }

    func pause(_ r: Int) {
        waiting[r] = true
        if reading[r] {
            try? epoll.remove(FileDescriptor(rawValue: fds[r]))
            reading[r] = false
        }
    }

    /// Writes queued output to stream `s` until it is empty or the stream
    /// cannot take more (then waits for EPOLLOUT). When that completes a
    /// line the other stream was held back for, the other stream goes on.
    func flush(_ s: Int) {
        let owned = lineOwner == s
        flushOne(s)
        if owned, lineOwner < 0 { service(1 - s) }
    }

    func flushOne(_ s: Int) {
        let queue = queues[s]
        while !queue.isEmpty, !blocked[s], lineOwner < 0 || lineOwner == s {
            if broken[s] {
                queue.removeAll()
                if lineOwner == s { lineOwner = -1 }
                return
            }
            // After a POLLOUT (a terminal) only PIPE_BUF is sure to fit.
            let chunk = queue.nextChunk(limit: modes[s] == .polled ? LineRelay.defaultLineLimit : Self.chunkLimit)
            switch write(s, chunk) {
            case .wrote(let n):
                queue.consumed(n)
                if sharedOutput {
                    lineOwner = n > 0 && chunk[n - 1] != 10 ? s : (lineOwner == s ? -1 : lineOwner)
                }
            case .wouldBlock:
                if (try? epoll.addOutput(outputs[s], tag: firstOutputTag + UInt64(s))) != nil {
                    blocked[s] = true
                } else {
                    // epoll cannot wait on it (a regular file): it never
                    // stalls for long, so plain writes it is.
                    modes[s] = .plain
                }
            case .unsupported:
                modes[s] = .polled
            case .failed:
                // No reader any more (EPIPE) or a broken descriptor: what
                // would go there is dropped, so children are never held up.
                broken[s] = true
            }
        }
    }

    func write(_ s: Int, _ chunk: UnsafeBufferPointer<UInt8>) -> WriteOutcome {
        let fd = outputs[s]
        switch modes[s] {
        case .nowait:
            return fd.writeWithoutWaiting(chunk)
        case .polled:
            return fd.isWritable ? fd.writeOnce(chunk) : .wouldBlock
        case .plain:
            return fd.writeOnce(chunk)
        }
    }

    /// Stream `s` can take output again.
    func writable(_ s: Int) {
        guard blocked[s] else { return }
        try? epoll.remove(outputs[s])
        blocked[s] = false
        service(s)
    }

    /// Writes stream `s`'s queue, then reads the children that were paused
    /// for it.
    func service(_ s: Int) {
        flush(s)
        var r = s
        while r < relays.count, !blocked[s] {
            if waiting[r] {
                transfer(r)
                if relays[r].nextLine() == nil {
                    waiting[r] = false
                    resume(r)
                }
            }
            r += 2
        }
    }

    func resume(_ r: Int) {
        guard fds[r] >= 0, !reading[r] else { return }
        if (try? epoll.add(FileDescriptor(rawValue: fds[r]), tag: firstPipeTag + UInt64(r))) != nil {
            reading[r] = true
        }
    }

    /// A child ended: what it wrote before is in its pipes now; relay it
    /// before its exit is reported (a bounded number of reads: a descendant
    /// that keeps the pipe may go on writing).
    func drainChild(_ child: Int) {
        for r in (2 * child)...(2 * child + 1) {
            var reads = 0
            while reads < 32, fds[r] >= 0, reading[r], readOnce(r) == .data {
                transfer(r)
                reads += 1
            }
            transfer(r)
        }
    }

    /// dinit is exiting: a pass that waits for nothing. What the pipes hold
    /// is read, a pipe found empty is closed (a descendant that still holds
    /// it does not keep dinit), its partial line goes out as a line, and
    /// whatever the streams take without waiting is written. Repeated while
    /// `hasPendingOutput`, as the streams drain.
    func finish() {
        for r in relays.indices {
            var reads = 0
            while fds[r] >= 0, !waiting[r], reads < 64 {
                let result = readOnce(r)
                transfer(r)
                reads += 1
                if result != .data { break }
            }
            if fds[r] >= 0, !waiting[r] { close(r) }
            if fds[r] < 0, !relays[r].atEnd {
                relays[r].endOfInput()
                transfer(r)
            }
        }
    }

    /// Output read from the children that dinit's streams have not taken yet.
    var hasPendingOutput: Bool {
        if !queues[0].isEmpty || !queues[1].isEmpty { return true }
        for r in relays.indices where waiting[r] || fds[r] >= 0 { return true }
        return false
    }

    /// Queues one of dinit's own log lines behind the tagged lines on
    /// stderr, so that it is never written into the middle of one and never
    /// waits for a stalled stderr. False when the line is not for stderr.
    func queueOwnLine(_ line: UnsafeBufferPointer<UInt8>, to fd: FileDescriptor) -> Bool {
        guard fd == outputs[1] else { return false }
        // A line that finds no room (stderr stalled with 8 KiB of dinit's
        // own lines queued) is dropped.
        _ = queues[1].appendOwn(line)
        flush(1)
        return true
    }
}

/// Sends children's lines to the journal (with `-j`), one entry per line.
struct JournalSink {
    let active: Bool
    let journal: Journal
    let fields: LineWriter
    let names: [[UInt8]]

    func send(_ line: UnsafeBufferPointer<UInt8>, child: Int, pid: Int32, error: Bool) {
        fields.reset()
        fields.text("MESSAGE="); fields.bytes(line); fields.newline()
        fields.text("PRIORITY="); fields.int(error ? 3 : 6); fields.newline()
        fields.text("SYSLOG_IDENTIFIER="); fields.escaped(names[child]); fields.newline()
        fields.text("CHILD_PID="); fields.int(pid); fields.newline()
        fields.text("CHILD_PROGRAM="); fields.escaped(names[child]); fields.newline()
        _ = journal.send(fields.bytes)
    }
}
