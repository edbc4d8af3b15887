import CMallocCounter
import Foundation
import LinuxSys
import Reactor
import SupervisorCore
import XCTest

/// Drives the real reactor, with the real supervisor core, through hundreds
/// of spawns, child exits, deadline expiries and signals, and counts the heap
/// allocations its thread makes after one warm-up event of each kind.
///
/// Meaningful in release builds only (`swift test -c release`): debug builds
/// allocate for reasons of their own, so there the test only reports.
final class ReactorAllocationTests: XCTestCase {
    var kept: [UInt8] = []

    override func setUpWithError() throws {
        if malloc_counter_available() == 0 {
            throw XCTSkip("the malloc counter is not installed under AddressSanitizer")
        }
    }

    /// Wraps a core: starts counting allocations on the reactor thread once
    /// every kind of event has been seen once, and records what happened.
    struct CountingCore<Inner: SupervisorCore>: SupervisorCore {
        var inner: Inner
        let state: SharedState

        var childSlots: Int { inner.childSlots }
        var maxActionsPerEvent: Int { inner.maxActionsPerEvent }

        mutating func handle(_ event: Event, now: Nanoseconds, into actions: inout ActionList) {
            state.note(event)
            inner.handle(event, now: now, into: &actions)
        }

        func format(_ record: LogRecord, into line: LineWriter) { inner.format(record, into: line) }
        var identifier: StaticString { inner.identifier }
        func programName(_ child: Int) -> [UInt8] { inner.programName(child) }
    }

    /// Counters shared between the reactor thread and the test thread; the
    /// reactor thread only writes preallocated memory.
    final class SharedState: @unchecked Sendable {
        let counters = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        enum Slot: Int { case tid, started, spawned, exited, deadlines, signals, counting, events }

        init() { counters.initialize(repeating: 0, count: 8) }

        subscript(_ s: Slot) -> Int {
            get { counters[s.rawValue] }
            set { counters[s.rawValue] = newValue }
        }

        func note(_ event: Event) {
            self[.events] += 1
            switch event {
            case .start:
                self[.tid] = Int(malloc_counter_gettid())
                self[.started] = 1
            case .spawned: self[.spawned] += 1
            case .childExited: self[.exited] += 1
            case .deadline: self[.deadlines] += 1
            case .signal: self[.signals] += 1
            default: break
            }
            // Warm-up done: one spawn, exit, deadline and signal seen.
            if self[.counting] == 0, self[.spawned] >= 2, self[.exited] >= 1,
               self[.deadlines] >= 1, self[.signals] >= 1 {
                self[.counting] = 1
                malloc_counter_start()
            }
        }
    }

    /// The counter itself must see allocations, or a zero above proves nothing.
    func testCounterSeesAllocations() {
        malloc_counter_start()
        let p = malloc_counter_probe(64)
        let countedC = malloc_counter_stop()
        free(p)
        XCTAssertEqual(countedC, 1)
        // A Swift array that escapes goes through the Swift runtime's
        // allocator, which must land in the counter too. Its size comes from
        // the process id so the optimizer cannot fold it away.
        malloc_counter_start()
        kept = Array(repeating: UInt8(7), count: 1000 + Int(getpid() % 2))
        let countedSwift = malloc_counter_stop()
        XCTAssertGreaterThanOrEqual(kept.count, 1000)
        XCTAssertGreaterThanOrEqual(countedSwift, 1)
    }

    /// Everything the reactor thread needs, handed over once; runs the
    /// reactor and records its exit status and the allocations counted.
    final class ReactorJob<Core: SupervisorCore>: @unchecked Sendable {
        let core: Core
        let argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>]
        let options: ReactorOptions
        var status: Int32 = -1
        var allocations: UInt64 = 0
        let finished = DispatchSemaphore(value: 0)

        init(_ core: Core, _ argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>], _ options: ReactorOptions) {
            self.core = core
            self.argvs = argvs
            self.options = options
        }

        func run() {
            do {
                var reactor = try Reactor(core: core, argvs: argvs, options: options)
                status = reactor.run()
            } catch {
                status = -2
            }
            allocations = malloc_counter_stop()
            finished.signal()
        }
    }

    struct Timeout: Error { let what: String }

    /// Polls until `condition` holds; a timeout fails the test.
    func waitFor(_ what: String, timeout: TimeInterval = 60, _ condition: () -> Bool) throws {
        let end = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > end { throw Timeout(what: "timed out waiting for \(what)") }
            usleep(500)
        }
    }

    /// Makes sure a reactor thread is gone when a test ends, even a failed
    /// one: a reactor left running would go on reaping and signalling while
    /// later tests run. SIGTERM, then SIGTERM again (kills what is left).
    func stopReactor(_ finished: DispatchSemaphore, _ state: SharedState) {
        guard state[.started] == 1 else {
            _ = finished.wait(timeout: .now() + 10)
            return
        }
        for _ in 0..<3 {
            if finished.wait(timeout: .now()) == .success {
                finished.signal()
                return
            }
            _ = malloc_counter_tgkill(Int32(state[.tid]), SIGTERM)
            if finished.wait(timeout: .now() + 10) == .success {
                finished.signal()
                return
            }
        }
        XCTFail("the reactor thread did not stop")
    }

    func cString(_ s: String) -> UnsafeMutablePointer<CChar> { strdup(s)! }

    func testReactorLoopDoesNotAllocate() throws {
        let waits = 100, daemons = 100, signalsToSend = 300
        var commands: [SupervisedCommand] = []
        var argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>] = []
        for i in 0..<(waits + daemons) {
            // Alternate: :wait: true, then a daemon, so every daemon's
            // startup delay (1 ms) is a deadline expiry.
            let isWait = i % 2 == 0 && i / 2 < waits
            let words = isWait ? ["/bin/true"] : ["/bin/sleep", "1000"]
            let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: words.count + 1)
            for (k, w) in words.enumerated() { table[k] = cString(w) }
            table[words.count] = nil
            argvs.append(UnsafePointer(table))
            commands.append(SupervisedCommand(name: Array((isWait ? "true" : "sleep").utf8), isWait: isWait))
        }
        let state = SharedState()
        let core = CountingCore(inner: Supervisor(commands: commands, startupDelay: 1_000_000,
                                                  killTimeout: 2_000_000_000, quiet: 0),
                                state: state)
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        var options = ReactorOptions()
        options.becomeSubreaper = false
        options.collectsOrphans = false
        options.logDescriptor = FileDescriptor(rawValue: devNull)

        let job = ReactorJob(core, argvs, options)
        Thread { job.run() }.start()
        defer { stopReactor(job.finished, state) }

        try waitFor("start") { state[.started] == 1 }
        let tid = Int32(state[.tid])
        // Warm-up signal (SIGWINCH: forwarded to the sleeping children, which
        // ignore it by default).
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
        try waitFor("startup") { state[.spawned] == waits + daemons }
        for _ in 0..<signalsToSend {
            let before = state[.signals]
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("signal") { state[.signals] > before }
        }
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGTERM), 0)
        XCTAssertEqual(job.finished.wait(timeout: .now() + 60), .success)
        job.finished.signal()  // stays "finished" for stopReactor

        let allocations = job.allocations
        print("allocation test: events=\(state[.events]) spawned=\(state[.spawned]) exited=\(state[.exited]) "
            + "deadlines=\(state[.deadlines]) signals=\(state[.signals]) allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        XCTAssertEqual(state[.spawned], waits + daemons)
        XCTAssertEqual(state[.exited], waits + daemons)
        XCTAssertGreaterThanOrEqual(state[.deadlines], daemons)
        XCTAssertEqual(state[.signals], signalsToSend + 2)
        // Every daemon was stopped by SIGTERM: the exit status is 15.
        XCTAssertEqual(job.status, 15)
        #if DEBUG
        if allocations != 0 {
            throw XCTSkip("debug build allocated \(allocations) times; the zero-allocation check runs with -c release")
        }
        #else
        XCTAssertEqual(allocations, 0, "the reactor allocated after warm-up")
        #endif
    }

    /// Reads two pipes on a thread of its own, stalling now and then (so
    /// the reactor's output backs up and it waits for EPOLLOUT), and counts
    /// the lines that start with a given tag.
    final class StallingReader: @unchecked Sendable {
        let fds: [Int32]
        let tags: [[UInt8]]
        let lock = NSLock()
        var counts = [0, 0]
        var bytes = 0
        var pending: [[UInt8]] = [[], []]

        init(fds: [Int32], tags: [String]) {
            self.fds = fds
            self.tags = tags.map { Array($0.utf8) }
        }

        func start() {
            for s in 0..<2 { Thread { self.run(s) }.start() }
        }

        func run(_ s: Int) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var sinceStall = 0
            // A long stall first: the children's output fills the pipes.
            usleep(300_000)
            while true {
                let n = read(fds[s], &buffer, buffer.count)
                if n <= 0 { return }
                lock.lock()
                bytes += n
                for b in buffer[0..<n] {
                    if b == 10 {
                        if pending[s].starts(with: tags[s]) { counts[s] += 1 }
                        pending[s].removeAll(keepingCapacity: true)
                    } else if pending[s].count < 64 {
                        pending[s].append(b)
                    }
                }
                lock.unlock()
                sinceStall += n
                if sinceStall >= 65536 {
                    sinceStall = 0
                    usleep(30_000)
                }
            }
        }

        var lineCounts: [Int] { lock.lock(); defer { lock.unlock() }; return counts }
    }

    /// dinit -p: the same loop with every child's stdout and stderr relayed
    /// (tagged lines, lines longer than the buffer, last lines without a
    /// newline, descendants' output after a child's exit, dinit's own lines
    /// queued behind them) to pipes whose reader stalls now and then.
    func testRelayedOutputDoesNotAllocate() throws {
        let waits = 60, daemons = 20, signalsToSend = 100, linesPerStream = 40
        let script = "i=0; while [ $i -lt \(linesPerStream) ]; do echo \"out $i\"; echo \"err $i\" >&2; "
            + "i=$((i+1)); done; head -c 9000 /dev/zero | tr '\\0' x; echo; (sleep 0.05; echo late >&2) & printf partial"
        var commands: [SupervisedCommand] = []
        var argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>] = []
        for i in 0..<(waits + daemons) {
            let isWait = i % 4 != 3
            let words = isWait ? ["/bin/sh", "-c", script] : ["/bin/sleep", "1000"]
            let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: words.count + 1)
            for (k, w) in words.enumerated() { table[k] = cString(w) }
            table[words.count] = nil
            argvs.append(UnsafePointer(table))
            commands.append(SupervisedCommand(name: Array((isWait ? "sh" : "sleep").utf8), isWait: isWait))
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&outPipe), 0)
        XCTAssertEqual(pipe(&errPipe), 0)
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let reader = StallingReader(fds: [outPipe[0], errPipe[0]], tags: ["sh    | ", "sh    | err"])
        reader.start()
        let state = SharedState()
        let core = CountingCore(inner: Supervisor(commands: commands, startupDelay: 1_000_000,
                                                  killTimeout: 2_000_000_000, quiet: 0),
                                state: state)
        var options = ReactorOptions()
        options.becomeSubreaper = false
        options.collectsOrphans = false
        options.relayOutput = true
        options.relayOutputs = [FileDescriptor(rawValue: outPipe[1]), FileDescriptor(rawValue: errPipe[1])]
        options.logDescriptor = FileDescriptor(rawValue: errPipe[1])

        let job = ReactorJob(core, argvs, options)
        Thread { job.run() }.start()
        defer { stopReactor(job.finished, state) }

        try waitFor("start") { state[.started] == 1 }
        let tid = Int32(state[.tid])
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
        try waitFor("startup") { state[.spawned] == waits + daemons }
        for _ in 0..<signalsToSend {
            let before = state[.signals]
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("signal") { state[.signals] > before }
        }
        // Every :wait: command's stdout lines: the long one is three, the
        // partial one goes out when its descendant closes the pipe too.
        let perWait = linesPerStream + 3 + 1
        try waitFor("output") { reader.lineCounts[0] >= waits * perWait }
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGTERM), 0)
        XCTAssertEqual(job.finished.wait(timeout: .now() + 60), .success)
        job.finished.signal()  // stays "finished" for stopReactor
        close(outPipe[1])
        close(errPipe[1])
        try waitFor("stderr lines") { reader.lineCounts[1] >= waits * linesPerStream }

        let allocations = job.allocations
        print("relay allocation test: events=\(state[.events]) spawned=\(state[.spawned]) "
            + "relayed-bytes=\(reader.bytes) stdout-lines=\(reader.lineCounts[0]) stderr-lines=\(reader.lineCounts[1]) "
            + "allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        XCTAssertEqual(reader.lineCounts, [waits * perWait, waits * linesPerStream])
        XCTAssertEqual(job.status, 15)
        #if DEBUG
        if allocations != 0 {
            throw XCTSkip("debug build allocated \(allocations) times; the zero-allocation check runs with -c release")
        }
        #else
        XCTAssertEqual(allocations, 0, "the relay allocated after warm-up")
        #endif
    }

    /// dcrond's loop: one run after another (spawn, exit, interval deadline)
    /// and forwarded signals, through the real reactor and CronSchedule.
    func testCronLoopDoesNotAllocate() throws {
        let runsWanted = 300
        let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 4)
        table[0] = cString("/bin/sh")
        table[1] = cString("-c")
        table[2] = cString("exit 0")
        table[3] = nil
        let state = SharedState()
        let core = CountingCore(inner: CronSchedule(commandline: Array("exit 0".utf8), ignoresFailure: false,
                                                    delay: 0, interval: 1_000_000, killTimeout: 2_000_000_000,
                                                    quiet: 0),
                                state: state)
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        var options = ReactorOptions()
        options.becomeSubreaper = false
        options.collectsOrphans = false
        options.sweepStoppedGroups = true
        options.logDescriptor = FileDescriptor(rawValue: devNull)

        let job = ReactorJob(core, [UnsafePointer(table)], options)
        Thread { job.run() }.start()
        defer { stopReactor(job.finished, state) }

        try waitFor("start") { state[.started] == 1 }
        let tid = Int32(state[.tid])
        // Warm-up: a run, its exit, an interval deadline and a signal.
        try waitFor("first runs") { state[.exited] >= 2 }
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
        try waitFor("runs") { state[.exited] >= runsWanted }
        for _ in 0..<100 {
            let before = state[.signals]
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("signal") { state[.signals] > before }
        }
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGTERM), 0)
        XCTAssertEqual(job.finished.wait(timeout: .now() + 30), .success)
        job.finished.signal()  // stays "finished" for stopReactor

        let allocations = job.allocations
        print("cron allocation test: events=\(state[.events]) runs=\(state[.spawned]) exits=\(state[.exited]) "
            + "deadlines=\(state[.deadlines]) signals=\(state[.signals]) allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        XCTAssertGreaterThanOrEqual(state[.spawned], runsWanted)
        XCTAssertGreaterThanOrEqual(state[.deadlines], runsWanted - 1)
        // A signal is a clean stop.
        XCTAssertEqual(job.status, 0)
        #if DEBUG
        if allocations != 0 {
            throw XCTSkip("debug build allocated \(allocations) times; the zero-allocation check runs with -c release")
        }
        #else
        XCTAssertEqual(allocations, 0, "dcrond's loop allocated after warm-up")
        #endif
    }
}
