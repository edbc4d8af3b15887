import LinuxSys
import SupervisorCore

/// What the reactor does besides driving its core.
public struct ReactorOptions {
    /// Children's stdin, stdout and stderr go to /dev/null (-qqq).
    public var silenceChildren = false
    /// Register as child subreaper when not PID 1.
    public var becomeSubreaper = true
    /// Reap adopted descendants (waitid(P_ALL) on SIGCHLD) and signal them
    /// when the core asks to collect orphans. dcrond and in-process tests
    /// turn this off: then only the reactor's own children are reaped, each
    /// through its pidfd.
    public var collectsOrphans = true
    /// Where log lines go.
    public var logDescriptor = FileDescriptor.standardError
    /// Send log lines to systemd-journald instead, with structured fields
    /// (needs a build with the Journald trait; lines go to `logDescriptor`
    /// when journald's socket is missing at start-up or a send fails).
    public var journal = false
    /// Interactive use: make the last child the foreground process group of
    /// the terminal on stdin, and take the terminal back when it ends.
    public var terminalForLastChild = false
    /// Once a child's process group has been sent a stop signal (TERM, INT,
    /// QUIT or KILL), SIGKILL what is left of the group when the child exits,
    /// before reaping it (the zombie still pins the group id). For dcrond,
    /// which leaves nothing of a stopped run behind and has no orphan phase.
    public var sweepStoppedGroups = false

    public init() {}
}

/// The event loop under dinit and dcrond: one epoll set holding a signalfd
/// (every supervised signal is blocked before anything else happens), one
/// timerfd armed to the core's single pending deadline, and one pidfd per
/// running child. It sleeps in epoll_wait with no timeout, so an idle
/// supervisor never wakes up, and after start-up it allocates nothing: every
/// table is sized from the command line.
public struct Reactor<Core: SupervisorCore> {
    public private(set) var core: Core
    let options: ReactorOptions
    let epoll: Epoll
    let signals: SignalDescriptor
    let timer: Timer
    let spawner: Spawner
    /// Per child: its argv (nil-terminated), pid and pidfd (-1 when not
    /// running). A child is only ever signalled through its pidfd.
    let argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>]
    var pids: [Int32]
    var pidfds: [Int32]
    var sweep: [Bool]
    /// pid -> child for the running children (see reapAll).
    var pidTable: PidTable
    var actions: ActionList
    /// Events produced while performing actions (spawn results,
    /// orphansGone), handled in order after the current event.
    var queue: [Event]
    var queueHead = 0
    let line: LineWriter
    let fields: LineWriter
    let journal = Journal()
    /// -j and journald's socket exists (checked once, at start-up).
    let usesJournal: Bool
    let childList = ChildList()
    let isPID1: Bool
    let ownPID: Int32
    var registeredSubreaper = false
    var collecting = false
    var deadline: Int64? = nil
    var exitStatus: Int32? = nil
    var terminalGiven = false

    // epoll tags: the signalfd, the timerfd, then child i as firstChildTag + i.
    // A child's index is never reused, so an event already fetched for a
    // pidfd that has since been closed names a child that no longer runs and
    // is ignored: no generation counter is needed.
    static var signalTag: UInt64 { 0 }
    static var timerTag: UInt64 { 1 }
    static var firstChildTag: UInt64 { 2 }

    /// Above this many children the spawner gets a thread of its own (see
    /// reapAll). Below it waitid(P_ALL)'s walk of the children costs a few
    /// microseconds at most, and the thread would cost a task (it counts
    /// against RLIMIT_NPROC), some memory and a thread switch per spawn.
    static var ownSpawnThreadAbove: Int { 64 }

    /// Sets everything up; throws before any child is started. `argvs[i]` is
    /// child i's argv; dcrond passes one entry for its repeated runs.
    public init(core: Core, argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>], options: ReactorOptions) throws(Errno) {
        precondition(argvs.count >= core.childSlots)
        self.core = core
        self.options = options
        self.argvs = argvs
        for signo in SignalSet.ignored { try Signals.ignore(signo) }
        // An inherited SIG_IGN for SIGCHLD would make the kernel reap our
        // children itself: their exit statuses would be lost.
        try Signals.setDefault(SignalNumber.chld)
        let supervised = SignalSet.supervised
        try Signals.block(supervised)
        signals = try SignalDescriptor(supervised)
        timer = try Timer()
        epoll = try Epoll(capacity: 64)
        try epoll.add(signals.fd, tag: Self.signalTag)
        try epoll.add(timer.fd, tag: Self.timerTag)
        let devNull: FileDescriptor? = options.silenceChildren ? try FileDescriptor.openDevNull() : nil
        spawner = try Spawner(devNull: devNull,
                              ownThread: options.collectsOrphans && core.childSlots > Self.ownSpawnThreadAbove)
        pids = Array(repeating: 0, count: core.childSlots)
        pidfds = Array(repeating: -1, count: core.childSlots)
        sweep = Array(repeating: false, count: core.childSlots)
        pidTable = PidTable(capacity: core.childSlots)
        actions = ActionList(capacity: core.maxActionsPerEvent)
        queue = []
        queue.reserveCapacity(8)
        line = LineWriter(capacity: 1024)
        usesJournal = options.journal && Journal.reachable
        fields = LineWriter(capacity: usesJournal ? 2048 : 16)
        isPID1 = Processes.isPID1
        ownPID = Processes.ownPID
        if options.becomeSubreaper, !isPID1 {
            try Processes.becomeChildSubreaper()
            registeredSubreaper = true
        }
    }

    /// Runs until the core asks to exit; returns the exit status.
    public mutating func run() -> Int32 {
        deliver(.start(subreaper: registeredSubreaper))
        while exitStatus == nil {
            // Only EBADF/EFAULT/EINVAL can fail here, none of which a retry
            // would cure; there is nothing better to do than wait again.
            let ready = (try? epoll.wait()) ?? 0
            for k in 0..<ready {
                dispatch(epoll.tag(at: k))
            }
            if collecting, !Processes.hasChildren() {
                collecting = false
                deliver(.orphansGone)
            }
        }
        takeTerminalBack()
        return exitStatus ?? 0
    }

    mutating func dispatch(_ tag: UInt64) {
        switch tag {
        case Self.signalTag:
            while let received = try? signals.next() {
                if received.signo == SignalNumber.chld {
                    reapAll()
                } else if received.signo != SignalNumber.pipe || received.sender != ownPID {
                    // The SIGPIPE of our own write to a closed stderr is not
                    // forwarded; one sent by another process is.
                    deliver(.signal(received.signo))
                }
            }
        case Self.timerTag:
            // A timer re-armed since it fired reads as not fired, and the
            // deadline check drops an expiry that raced with a re-arm.
            guard (try? timer.drain()) == true, let at = deadline, MonotonicClock.now() >= at else { return }
            deadline = nil
            deliver(.deadline)
        default:
            let child = Int(tag - Self.firstChildTag)
            guard child < pidfds.count else { return }
            reapTracked(child)
        }
    }

    /// Reaps child `child` through its pidfd if it has ended, sweeping its
    /// process group first when asked to.
    mutating func reapTracked(_ child: Int) {
        guard pidfds[child] >= 0 else { return }
        let fd = FileDescriptor(rawValue: pidfds[child])
        if sweep[child], Processes.hasExited(pidfd: fd) {
            try? Processes.signalGroup(pidfd: fd, pid: pids[child], SignalNumber.kill)
        }
        if let t = try? Processes.reap(pidfd: fd) {
            gone(child, t)
        }
    }

    /// SIGCHLD: reap every child that has ended, ours or adopted (signals
    /// coalesce, so one SIGCHLD may stand for many exits). When the spawner
    /// has its own thread, our children are on that thread's list in the
    /// kernel and are reaped through their pidfds when epoll reports them
    /// (reapTracked); waitid(P_ALL) here then walks only the main thread's
    /// list, the adopted orphans, so an exit of ours costs the same whatever
    /// the number of children. Otherwise P_ALL reaps ours too, and the pid
    /// table maps them back in O(1). Without orphan collection (dcrond,
    /// in-process tests) only our own children are reaped, through their
    /// pidfds: waitid(P_ALL) would take other threads' children too.
    mutating func reapAll() {
        guard options.collectsOrphans else {
            for i in pidfds.indices where pidfds[i] >= 0 { reapTracked(i) }
            return
        }
        // A group to sweep must be swept before P_ALL reaps its leader.
        if options.sweepStoppedGroups {
            for i in sweep.indices where sweep[i] { reapTracked(i) }
        }
        while let reaped = try? Processes.reapAny(thisThreadOnly: spawner.hasOwnThread) {
            if let i = pidTable.find(reaped.pid), pidfds[i] >= 0 {
                gone(i, reaped.termination)
            }
        }
    }

    mutating func gone(_ child: Int, _ t: Termination) {
        if pidfds[child] >= 0 {
            let fd = FileDescriptor(rawValue: pidfds[child])
            try? epoll.remove(fd)
            fd.close()
        }
        pidfds[child] = -1
        sweep[child] = false
        pidTable.remove(pids[child])
        if child == argvs.count - 1 { takeTerminalBack() }
        deliver(.childExited(child: child, status: t.status))
    }

    /// Hands an event to the core and performs the actions it returns;
    /// events those actions produce are handled next, in order.
    mutating func deliver(_ event: Event) {
        queue.append(event)
        if queue.count > 1 { return }
        while queueHead < queue.count {
            let e = queue[queueHead]
            queueHead += 1
            actions.removeAll()
            core.handle(e, now: MonotonicClock.now(), into: &actions)
            for k in 0..<actions.count {
                perform(actions[k])
            }
        }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
    }

    mutating func perform(_ action: Action) {
        switch action {
        case .spawn(let child):
            spawn(child)
        case .signal(let child, let signo, let group):
            let fd = pidfds[child]
            if fd < 0 { return }
            if group {
                if options.sweepStoppedGroups, SignalNumber.isShutdown(signo) || signo == SignalNumber.kill {
                    sweep[child] = true
                }
                try? Processes.signalGroup(pidfd: FileDescriptor(rawValue: fd), pid: pids[child], signo)
            } else {
                try? Processes.signal(pidfd: FileDescriptor(rawValue: fd), signo)
            }
        case .collectOrphans(let signo):
            collectOrphans(signo)
        case .armDeadline(let at):
            deadline = at
            try? timer.set(at)
        case .cancelDeadline:
            deadline = nil
            try? timer.set(nil)
        case .log(let record):
            line.reset()
            core.format(record, into: line)
            if !usesJournal || !sendToJournal(record) {
                options.logDescriptor.writeAll(line.bytes)
            }
        case .exit(let status):
            exitStatus = status
        }
    }

    /// Sends the line just formatted, and the record's fields, to the
    /// journal: MESSAGE (without the "dinit: " prefix), PRIORITY (3 for
    /// errors, 6 for info), SYSLOG_IDENTIFIER, CHILD_PID, CHILD_PROGRAM,
    /// CHILD_STATUS (dinit's own status on the Exiting line).
    func sendToJournal(_ record: LogRecord) -> Bool {
        let text = line.bytes
        let skip = core.identifier.utf8CodeUnitCount + 2
        guard text.count > skip else { return false }
        fields.reset()
        fields.text("MESSAGE=")
        fields.bytes(UnsafeBufferPointer(rebasing: text[skip..<(text.count - 1)]))
        fields.newline()
        fields.text("PRIORITY=")
        fields.int(record.level == .error ? 3 : 6)
        fields.newline()
        fields.text("SYSLOG_IDENTIFIER=")
        fields.text(core.identifier)
        fields.newline()
        if let pid = record.pid {
            fields.text("CHILD_PID="); fields.int(pid); fields.newline()
        }
        if let child = record.child {
            fields.text("CHILD_PROGRAM="); fields.escaped(core.programName(child)); fields.newline()
        }
        if let status = record.status {
            fields.text("CHILD_STATUS="); fields.int(status); fields.newline()
        }
        return journal.send(fields.bytes)
    }

    mutating func spawn(_ child: Int) {
        let pid: Int32
        let fd: FileDescriptor
        do {
            (pid, fd) = try spawner.spawn(argvs[child])
        } catch {
            queue.append(.spawnFailed(child: child, errno: error.rawValue))
            return
        }
        do {
            try epoll.add(fd, tag: Self.firstChildTag + UInt64(child))
        } catch {
            // Unwatched, the child cannot be supervised: kill it (through
            // its pidfd), reap it and report the spawn as failed.
            try? Processes.signal(pidfd: fd, SignalNumber.kill)
            Processes.awaitExit(pidfd: fd)
            fd.close()
            queue.append(.spawnFailed(child: child, errno: error.rawValue))
            return
        }
        pids[child] = pid
        pidfds[child] = fd.rawValue
        pidTable.insert(pid, child)
        if options.terminalForLastChild, child == argvs.count - 1 {
            // The child may already have touched the terminal and been
            // stopped by SIGTTIN; SIGCONT lets it go on as foreground.
            if (try? Terminal.setForeground(pid)) != nil {
                terminalGiven = true
                try? Processes.signalGroup(pidfd: fd, pid: pid, SignalNumber.cont)
            }
        }
        queue.append(.spawned(child: child, pid: pid))
    }

    mutating func takeTerminalBack() {
        guard terminalGiven else { return }
        terminalGiven = false
        try? Terminal.setForeground(Terminal.ownGroup)
    }

    mutating func collectOrphans(_ signo: Int32) {
        guard options.collectsOrphans else {
            queue.append(.orphansGone)
            return
        }
        reapAll()
        if signo != 0 {
            if isPID1 {
                // Every process of the namespace but ourselves.
                try? Processes.kill(-1, signo)
            } else {
                _ = childList.forEach { pid in try? Processes.kill(pid, signo) }
            }
        }
        if Processes.hasChildren() {
            collecting = true
        } else {
            collecting = false
            queue.append(.orphansGone)
        }
    }
}
