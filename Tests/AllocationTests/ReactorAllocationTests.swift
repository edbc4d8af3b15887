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
        let counters = UnsafeMutablePointer<Int>.allocate(capacity: 10)
        enum Slot: Int { case tid, started, spawned, exited, deadlines, signals, counting, events, notifies, wantsNotify }

        init() { counters.initialize(repeating: 0, count: 10) }

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
            case .notify: self[.notifies] += 1
            default: break
            }
            // Warm-up done: one spawn, exit, deadline and signal seen (and
            // a burst of notify messages, when the test sends them).
            if self[.counting] == 0, self[.spawned] >= 2, self[.exited] >= 1,
               self[.deadlines] >= 1, self[.signals] >= 1,
               self[.wantsNotify] == 0 || self[.notifies] >= 6 {
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

    /// A NULL-terminated argv table for the reactor (it lives as long as
    /// the test process, as the real one does).
    func argvTable(_ words: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: words.count + 1)
        for (k, w) in words.enumerated() { table[k] = strdup(w)! }
        table[words.count] = nil
        return UnsafePointer(table)
    }

    /// Runs `inner` in the real reactor on a thread of its own, counting
    /// (log to /dev/null, no subreaper, no orphan collection); `drive` gets
    /// the reactor thread's id once it has started. Then SIGTERM ends the
    /// run, which must finish within `stopTimeout`; the job tells its exit
    /// status and the allocations counted after warm-up.
    func runCounted<Inner: SupervisorCore>(_ inner: Inner, _ argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>],
                                           state: SharedState, sweepStoppedGroups: Bool = false,
                                           notifyChildren: [Bool]? = nil,
                                           stopTimeout: Double,
                                           configure: (inout ReactorOptions) -> Void = { _ in },
                                           _ drive: (Int32) throws -> Void) throws
        -> ReactorJob<CountingCore<Inner>> {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        var options = ReactorOptions()
        options.becomeSubreaper = false
        options.collectsOrphans = false
        if sweepStoppedGroups { options.sweepStoppedGroups = true }
        if let notifyChildren { options.notifyChildren = notifyChildren }
        options.logDescriptor = FileDescriptor(rawValue: devNull)
        configure(&options)

        let job = ReactorJob(CountingCore(inner: inner, state: state), argvs, options)
        Thread { job.run() }.start()
        defer { stopReactor(job.finished, state) }

        try waitFor("start") { state[.started] == 1 }
        let tid = Int32(state[.tid])
        try drive(tid)
        XCTAssertEqual(malloc_counter_tgkill(tid, SIGTERM), 0)
        XCTAssertEqual(job.finished.wait(timeout: .now() + stopTimeout), .success)
        job.finished.signal()  // stays "finished" for stopReactor
        return job
    }

    /// `count` SIGWINCHes to the reactor thread, each one seen by the core
    /// before the next is sent (SIGWINCH: forwarded to the children, which
    /// ignore it by default).
    func sendSignals(_ count: Int, to tid: Int32, _ state: SharedState) throws {
        for _ in 0..<count {
            let before = state[.signals]
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("signal") { state[.signals] > before }
        }
    }

    /// None in a release build; a debug build allocates for reasons of its
    /// own, so there a nonzero count only skips.
    func assertNoAllocations(_ allocations: UInt64, _ message: String) throws {
        #if DEBUG
        if allocations != 0 {
            throw XCTSkip("debug build allocated \(allocations) times; the zero-allocation check runs with -c release")
        }
        #else
        XCTAssertEqual(allocations, 0, message)
        #endif
    }

    func testReactorLoopDoesNotAllocate() throws {
        let waits = 100, daemons = 100, signalsToSend = 300
        var commands: [SupervisedCommand] = []
        var argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>] = []
        for i in 0..<(waits + daemons) {
            // Alternate: :wait: true, then a daemon, so every daemon's
            // startup delay (1 ms) is a deadline expiry.
            let isWait = i % 2 == 0 && i / 2 < waits
            argvs.append(argvTable(isWait ? ["/bin/true"] : ["/bin/sleep", "1000"]))
            commands.append(SupervisedCommand(name: Array((isWait ? "true" : "sleep").utf8), isWait: isWait))
        }
        let state = SharedState()
        let supervisor = Supervisor(commands: commands, startupDelay: 1_000_000, killTimeout: 2_000_000_000, quiet: 0)
        let job = try runCounted(supervisor, argvs, state: state, stopTimeout: 60) { tid in
            // Warm-up signal.
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("startup") { state[.spawned] == waits + daemons }
            try sendSignals(signalsToSend, to: tid, state)
        }

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
        try assertNoAllocations(allocations, "the reactor allocated after warm-up")
    }

    /// The operator controls on the same loop: `:stop=SIGNAL:` children,
    /// `-e` statuses, and a stop budget that runs out (SIGKILL to the last
    /// child, which ignores its stop signal, and the exit) all after warm-up.
    func testOperatorControlsDoNotAllocate() throws {
        let waits = 50, daemons = 50, signalsToSend = 100
        // Child 0 ignores every stop signal: it is stopped last and still
        // runs when the budget is spent.
        var argvs = [argvTable(["/bin/sh", "-c", "trap '' TERM INT; while :; do /bin/sleep 0.2; done"])]
        var commands = [SupervisedCommand(name: Array("stubborn".utf8), stopSignal: SIGINT)]
        for i in 0..<(waits + daemons) {
            let isWait = i % 2 == 0 && i / 2 < waits
            argvs.append(argvTable(isWait ? ["/bin/true"] : ["/bin/sleep", "1000"]))
            // Half the daemons are stopped with SIGINT instead of SIGTERM.
            commands.append(SupervisedCommand(name: Array((isWait ? "true" : "sleep").utf8), isWait: isWait,
                                              stopSignal: isWait || i % 4 == 1 ? nil : SIGINT))
        }
        let state = SharedState()
        let supervisor = Supervisor(commands: commands, startupDelay: 1_000_000, killTimeout: 5_000_000_000, quiet: 0,
                                    successStatuses: ExitStatusSet([2, 15]), stopBudget: 1_000_000_000)
        let job = try runCounted(supervisor, argvs, state: state, stopTimeout: 60) { tid in
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("startup") { state[.spawned] == 1 + waits + daemons }
            try sendSignals(signalsToSend, to: tid, state)
        }

        let allocations = job.allocations
        print("operator-controls allocation test: events=\(state[.events]) spawned=\(state[.spawned]) "
            + "exited=\(state[.exited]) deadlines=\(state[.deadlines]) signals=\(state[.signals]) "
            + "allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        XCTAssertEqual(state[.spawned], 1 + waits + daemons)
        // Every daemon but the stubborn one was stopped and reaped (INT or
        // TERM, both -e statuses); the stubborn one got SIGKILL when the
        // budget ran out (-k 5 s is longer), so the run ends with 9.
        XCTAssertGreaterThanOrEqual(state[.exited], waits + daemons)
        XCTAssertEqual(job.status, 9)
        try assertNoAllocations(allocations, "the reactor allocated after warm-up")
    }

    /// sd_notify traffic through the real reactor and Supervisor: a
    /// `:notify:` child that answers every SIGWINCH with a burst of messages
    /// (READY=1 again, STATUS, EXTEND, STOPPING/RELOADING/ERRNO, a passed
    /// descriptor, an oversized datagram), and between bursts datagrams from
    /// a sender that is not the child (this very process): rejected.
    func testNotifyTrafficDoesNotAllocate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dinit-alloc-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let envFile = dir + "/address"
        let script = """
            import array, os, signal, socket, sys
            addr = '\\0' + os.environ['NOTIFY_SOCKET'][1:]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            fd = os.open('/dev/null', os.O_RDONLY)
            def burst(*_):
                s.sendto(b'STATUS=busy\\nREADY=1', addr)
                s.sendto(b'EXTEND_TIMEOUT_USEC=1000000\\nSTOPPING=1\\nRELOADING=1\\nERRNO=5', addr)
                s.sendmsg([b'FDSTORE=1'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [fd]).tobytes())], 0, addr)
                s.sendto(b'STATUS=' + b'x' * 5000, addr)
                s.sendto(b'READY=1', addr)
            signal.signal(signal.SIGWINCH, burst)
            with open(sys.argv[1], 'w') as f: f.write(os.environ['NOTIFY_SOCKET'])
            s.sendto(b'STATUS=starting', addr)
            s.sendto(b'READY=1', addr)
            while True: signal.pause()
            """
        let argvs = [argvTable(["/bin/true"]), argvTable(["python3", "-c", script, envFile]),
                     argvTable(["/bin/sleep", "1000"])]
        let commands = [SupervisedCommand(name: Array("true".utf8), isWait: true),
                        SupervisedCommand(name: Array("python3".utf8), isNotify: true),
                        SupervisedCommand(name: Array("sleep".utf8))]
        let state = SharedState()
        state[.wantsNotify] = 1
        let supervisor = Supervisor(commands: commands, startupDelay: 1_000_000, killTimeout: 2_000_000_000,
                                    quiet: 0, readyTimeout: 60_000_000_000)
        let bursts = 100
        let job = try runCounted(supervisor, argvs, state: state, notifyChildren: [false, true, false],
                                 stopTimeout: 60) { tid in
            try waitFor("startup") { state[.spawned] == 3 && state[.notifies] >= 2 }
            let address = try String(contentsOfFile: envFile, encoding: .utf8)
            XCTAssertTrue(address.hasPrefix("@"), address)
            let forger = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(forger) }
            func forge(_ text: String) {
                var sa = sockaddr_un()
                sa.sun_family = sa_family_t(AF_UNIX)
                let name = Array(address.utf8.dropFirst())
                withUnsafeMutableBytes(of: &sa.sun_path) { p in
                    p[0] = 0
                    for (i, b) in name.enumerated() { p[i + 1] = b }
                }
                let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.count)
                _ = text.withCString { t in
                    withUnsafePointer(to: &sa) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(forger, t, strlen(t), Int32(MSG_DONTWAIT), $0, length)
                        }
                    }
                }
            }
            // Warm-up: a signal and the burst it causes.
            forge("READY=1")
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("warm-up") { state[.counting] == 1 }
            for _ in 0..<bursts {
                let before = state[.notifies]
                for _ in 0..<5 { forge("READY=1\nSTATUS=forged") }
                XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
                try waitFor("burst") { state[.notifies] >= before + 4 }
            }
        }

        let allocations = job.allocations
        print("notify allocation test: events=\(state[.events]) notifies=\(state[.notifies]) "
            + "signals=\(state[.signals]) allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        // 2 at start-up, 4 per burst (the oversized one is dropped, the
        // forged ones are not events).
        XCTAssertEqual(state[.notifies], 2 + 4 * (bursts + 1))
        try assertNoAllocations(allocations, "the reactor allocated while handling notify traffic")
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
            argvs.append(argvTable(isWait ? ["/bin/sh", "-c", script] : ["/bin/sleep", "1000"]))
            commands.append(SupervisedCommand(name: Array((isWait ? "sh" : "sleep").utf8), isWait: isWait))
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&outPipe), 0)
        XCTAssertEqual(pipe(&errPipe), 0)
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let reader = StallingReader(fds: [outPipe[0], errPipe[0]], tags: ["sh    | ", "sh    | err"])
        reader.start()
        let state = SharedState()
        let supervisor = Supervisor(commands: commands, startupDelay: 1_000_000, killTimeout: 2_000_000_000, quiet: 0)
        // Every :wait: command's stdout lines: the long one is three, the
        // partial one goes out when its descendant closes the pipe too.
        let perWait = linesPerStream + 3 + 1
        let job = try runCounted(supervisor, argvs, state: state, stopTimeout: 60, configure: { options in
            options.relayOutput = true
            options.relayOutputs = [FileDescriptor(rawValue: outPipe[1]), FileDescriptor(rawValue: errPipe[1])]
            options.logDescriptor = FileDescriptor(rawValue: errPipe[1])
        }) { tid in
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("startup") { state[.spawned] == waits + daemons }
            try sendSignals(signalsToSend, to: tid, state)
            try waitFor("output") { reader.lineCounts[0] >= waits * perWait }
        }
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
        try assertNoAllocations(allocations, "the relay allocated after warm-up")
    }

    /// dcrond's loop: one run after another (spawn, exit, interval deadline)
    /// and forwarded signals, through the real reactor and CronSchedule.
    func testCronLoopDoesNotAllocate() throws {
        let runsWanted = 300
        let state = SharedState()
        let schedule = CronSchedule(commandline: Array("exit 0".utf8), ignoresFailure: false,
                                    delay: 0, interval: 1_000_000, killTimeout: 2_000_000_000, quiet: 0)
        let job = try runCounted(schedule, [argvTable(["/bin/sh", "-c", "exit 0"])], state: state,
                                 sweepStoppedGroups: true, stopTimeout: 30) { tid in
            // Warm-up: a run, its exit, an interval deadline and a signal.
            try waitFor("first runs") { state[.exited] >= 2 }
            XCTAssertEqual(malloc_counter_tgkill(tid, SIGWINCH), 0)
            try waitFor("runs") { state[.exited] >= runsWanted }
            try sendSignals(100, to: tid, state)
        }

        let allocations = job.allocations
        print("cron allocation test: events=\(state[.events]) runs=\(state[.spawned]) exits=\(state[.exited]) "
            + "deadlines=\(state[.deadlines]) signals=\(state[.signals]) allocations-after-warm-up=\(allocations)")
        XCTAssertEqual(state[.counting], 1, "warm-up never completed")
        XCTAssertGreaterThanOrEqual(state[.spawned], runsWanted)
        XCTAssertGreaterThanOrEqual(state[.deadlines], runsWanted - 1)
        // A signal is a clean stop.
        XCTAssertEqual(job.status, 0)
        try assertNoAllocations(allocations, "dcrond's loop allocated after warm-up")
    }
}
