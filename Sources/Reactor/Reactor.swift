import LinuxSys
import SupervisorCore

/// What the reactor does besides driving its core.
public struct ReactorOptions {
    /// Children's stdin, stdout and stderr go to /dev/null (-qqq).
    public var silenceChildren = false
    /// /dev/null, already open, for `silenceChildren` (the caller opens it
    /// to name it in its error message); when nil the reactor opens it.
    public var devNull: FileDescriptor? = nil
    /// Register as child subreaper when not PID 1.
    public var becomeSubreaper = true
    /// Reap adopted descendants (waitid(P_ALL) on SIGCHLD) and signal them
    /// when the core asks to collect orphans. In-process tests turn this off,
    /// and dcrond unless it is PID 1: then only the reactor's own children
    /// are reaped, each through its pidfd.
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
    /// Per child: a `:notify:` command, which gets `NOTIFY_SOCKET` pointing
    /// at the reactor's notify socket and whose messages (and those of its
    /// process group) reach the core as `notify` events. Empty: none.
    public var notifyChildren: [Bool] = []
    /// Tagged output (dinit -p): each child's stdout and stderr go through a
    /// pipe to the reactor, which writes every line as "NAME | line" to
    /// `relayOutputs` (stdout, stderr) or, with `journal`, to the journal.
    /// NAME is the core's `programName`. Ignored with `silenceChildren`.
    public var relayOutput = false
    public var relayOutputs = [FileDescriptor.standardOutput, FileDescriptor.standardError]
    /// -p, at exit: how long to wait for stdout and stderr to take output
    /// already read from the children (a stalled reader).
    public var outputGrace: Int64 = 5_000_000_000

    public init() {}
}

/// The event loop under dinit and dcrond: one epoll set holding a signalfd
/// (every supervised signal is blocked before anything else happens: by
/// `prepareProcess()` first thing in main, and again here for callers that
/// did not, such as in-process tests; blocking twice is harmless), one
/// timerfd armed to the core's single pending deadline, one pidfd per
/// running child, and, when some child is a `:notify:` command, the sd_notify
/// socket. It sleeps in epoll_wait with no timeout, so an idle
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
    /// Orphan phase as subreaper: the signal broadcast to our adopted
    /// children (0: none yet), and the children it was sent to (a process
    /// that dies of it hands its own children to us, which must get it too).
    var orphanSignal: Int32 = 0
    var orphansSignalled: PIDSet
    var deadline: Int64? = nil
    var exitStatus: Int32? = nil
    var terminalGiven = false
    /// -p: the children's output pipes and what waits for stdout/stderr.
    let relay: OutputRelay?
    /// The sd_notify socket, when some child is a `:notify:` command.
    let notifySocket: NotifySocket?
    /// Our own service manager, when NOTIFY_SOCKET was set.
    let parent: ParentNotifier?
    /// What children are spawned with: our environment without
    /// NOTIFY_SOCKET, and for `:notify:` children with ours (nil: our
    /// environment as it is). Built once.
    let plainEnvironment: UnsafePointer<UnsafeMutablePointer<CChar>?>?
    let notifyEnvironment: UnsafePointer<UnsafeMutablePointer<CChar>?>?

    // epoll tags: the signalfd, the timerfd, the notify socket, then child i
    // as firstChildTag + i. A child's index is never reused, so an event
    // already fetched for a pidfd that has since been closed names a child
    // that no longer runs and is ignored: no generation counter is needed.
    // The notify socket is opened before the first spawn and never closed
    // or replaced, so its tag always means that one socket.
    //
    // With -p, after the children: child i's stdout and stderr pipes as
    // firstPipeTag + 2i and + 2i + 1, then dinit's stdout and stderr (waited
    // on for EPOLLOUT while stalled) as the last two. A relay's pipe is
    // opened once, at its child's only spawn, and marked closed (-1) when
    // it is closed, before its index could be used again (it never is): an
    // event fetched for a pipe closed since names a closed relay and is
    // ignored; one for a stream that is no longer stalled is ignored too.
    // No generation counter is needed here either.
    static var signalTag: UInt64 { 0 }
    static var timerTag: UInt64 { 1 }
    static var notifyTag: UInt64 { 2 }
    static var firstChildTag: UInt64 { 3 }
    /// Notify datagrams read per wake-up: a flood cannot hold up signals
    /// and exits (epoll reports the socket again while more are queued).
    static var notifyBatch: Int { 16 }

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
        var devNull: FileDescriptor? = nil
        if options.silenceChildren {
            if let open = options.devNull {
                devNull = open
            } else {
                devNull = try FileDescriptor.openDevNull()
            }
        }
        let relays = options.relayOutput && !options.silenceChildren
        spawner = try Spawner(devNull: devNull,
                              ownThread: options.collectsOrphans && core.childSlots > Self.ownSpawnThreadAbove,
                              stdioOverrides: relays)
        if options.notifyChildren.contains(true) {
            let socket = try NotifySocket()
            try epoll.add(socket.fd, tag: Self.notifyTag)
            notifySocket = socket
        } else {
            notifySocket = nil
        }
        parent = ParentNotifier()
        plainEnvironment = ChildEnvironment.make(adding: nil)
        notifyEnvironment = notifySocket.map { ChildEnvironment.make(adding: $0.environmentEntry) } ?? nil
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
        if relays {
            var names: [[UInt8]] = []
            for i in 0..<core.childSlots { names.append(core.programName(i)) }
            let sink = JournalSink(active: usesJournal, journal: journal,
                                   fields: LineWriter(capacity: usesJournal ? LineRelay.defaultLineLimit + 1024 : 16),
                                   names: names)
            relay = OutputRelay(names: names, outputs: options.relayOutputs,
                                firstPipeTag: Self.firstChildTag + UInt64(core.childSlots), epoll: epoll, sink: sink)
        } else {
            relay = nil
        }
        isPID1 = Processes.isPID1
        ownPID = Processes.ownPID
        // Only a subreaper that collects orphans lists and records them.
        orphansSignalled = PIDSet(capacity: options.collectsOrphans && !isPID1 ? 4096 : 0)
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
            if let relay {
                // Output first: what a child wrote before it exited goes out
                // before its exit is reported.
                for k in 0..<ready {
                    _ = relay.handles(epoll.tag(at: k))
                }
            }
            for k in 0..<ready {
                dispatch(epoll.tag(at: k))
            }
            if collecting, !Processes.hasChildren() {
                collecting = false
                deliver(.orphansGone)
            }
        }
        takeTerminalBack()
        if let relay { drainOutput(relay) }
        return exitStatus ?? 0
    }

    /// -p, at exit: relays what the children wrote before, waiting up to
    /// `outputGrace` for dinit's stdout and stderr to take it; a shutdown
    /// signal ends the wait. Child exits are still reaped meanwhile.
    mutating func drainOutput(_ relay: OutputRelay) {
        relay.finish()
        guard relay.hasPendingOutput else { return }
        deadline = nil
        try? timer.set(MonotonicClock.now() + options.outputGrace)
        while relay.hasPendingOutput {
            let ready = (try? epoll.wait()) ?? 0
            for k in 0..<ready {
                let tag = epoll.tag(at: k)
                if relay.handles(tag) { continue }
                switch tag {
                case Self.timerTag:
                    if (try? timer.drain()) == true { return }
                case Self.signalTag:
                    while let received = try? signals.next() {
                        if SignalNumber.isShutdown(received.signo) { return }
                        if received.signo == SignalNumber.chld { reapAll() }
                    }
                default:
                    dispatch(tag)
                }
            }
            relay.finish()
        }
    }

    mutating func dispatch(_ tag: UInt64) {
        switch tag {
        case Self.signalTag:
            while let received = try? signals.next() {
                if received.signo == SignalNumber.chld {
                    reapAll()
                    if orphanSignal != 0 { signalNewOrphans() }
                } else if received.signo != SignalNumber.pipe || received.sender != ownPID {
                    // The SIGPIPE of our own write to a closed stderr is not
                    // forwarded; one sent by another process is.
                    deliver(.signal(received.signo))
                }
            }
        case Self.notifyTag:
            receiveNotifications()
        case Self.timerTag:
            // A timer re-armed since it fired reads as not fired, and the
            // deadline check drops an expiry that raced with a re-arm.
            guard (try? timer.drain()) == true, let at = deadline, MonotonicClock.now() >= at else { return }
            deadline = nil
            deliver(.deadline)
        default:
            let child = Int(tag - Self.firstChildTag)
            guard child < pidfds.count else { return }  // -p: handled first
            reapTracked(child)
        }
    }

    /// Reads up to `notifyBatch` datagrams and hands those from a `:notify:`
    /// child, or a member of its process group, to the core. Anything else
    /// is dropped without a word: a log line per message would let any
    /// process of the network namespace flood the log.
    mutating func receiveNotifications() {
        guard let socket = notifySocket else { return }
        for _ in 0..<Self.notifyBatch {
            guard let reception = try? socket.receive() else { return }
            switch reception {
            case .empty:
                return
            case .dropped:
                continue
            case .message(let length, let sender, let group):
                guard let child = notifyChild(sender: sender, group: group) else { continue }
                deliver(.notify(child: child, NotifyMessage(parsing: socket.bytes(length))))
            }
        }
    }

    /// The running `:notify:` child that `sender` is, or whose process group
    /// (its pid: each child leads its own) `sender` belongs to.
    func notifyChild(sender: Int32, group: Int32) -> Int? {
        for i in pids.indices where pidfds[i] >= 0 && (pids[i] == sender || pids[i] == group) {
            return i < options.notifyChildren.count && options.notifyChildren[i] ? i : nil
        }
        return nil
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
            if orphanSignal != 0 { orphansSignalled.remove(reaped.pid) }
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
        relay?.drainChild(child)
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
            if group, options.sweepStoppedGroups, SignalNumber.isShutdown(signo) || signo == SignalNumber.kill {
                sweep[child] = true
            }
            send(signo, to: child, group: group)
            // A stop signal is followed by SIGCONT, as systemd, s6 and runit
            // do: a stopped child (SIGSTOP, a debugger) would not act on it
            // until continued, and be SIGKILLed after kill_timeout. Only
            // when the child (the group's leader, with -g) is stopped: a
            // running one gets its stop signal and nothing else.
            if core.isStopSignal(signo, child: child), Processes.isStopped(pidfd: FileDescriptor(rawValue: fd)) {
                send(SignalNumber.cont, to: child, group: group)
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
                if relay?.queueOwnLine(line.bytes, to: options.logDescriptor) != true {
                    options.logDescriptor.writeAll(line.bytes)
                }
            }
        case .exit(let status):
            exitStatus = status
        case .notifyParent(let state):
            switch state {
            case .ready: parent?.send("READY=1\nSTATUS=Running\n")
            case .stopping: parent?.send("STOPPING=1\nSTATUS=Stopping\n")
            }
        }
    }

    func send(_ signo: Int32, to child: Int, group: Bool) {
        let fd = FileDescriptor(rawValue: pidfds[child])
        if group {
            try? Processes.signalGroup(pidfd: fd, pid: pids[child], signo)
        } else {
            try? Processes.signal(pidfd: fd, signo)
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
            fields.text("CHILD_PROGRAM="); fields.escaped(core.programName(child), limit: 1024); fields.newline()
        }
        if let status = record.status {
            fields.text("CHILD_STATUS="); fields.int(status); fields.newline()
        }
        return journal.send(fields.bytes)
    }

    mutating func spawn(_ child: Int) {
        let pid: Int32
        let fd: FileDescriptor
        let notify = child < options.notifyChildren.count && options.notifyChildren[child]
        let environment = notify ? notifyEnvironment : plainEnvironment
        if let relay {
            let output: OutputPipe, errors: OutputPipe
            do throws(Errno) {
                output = try OutputPipe()
                do {
                    errors = try OutputPipe()
                } catch {
                    output.readEnd.close(); output.writeEnd.close()
                    throw error
                }
            } catch {
                queue.append(.spawnFailed(child: child, errno: error.rawValue))
                return
            }
            let spawned: (pid: Int32, pidfd: FileDescriptor)?
            var failure: Int32 = 0
            do {
                spawned = try spawner.spawn(argvs[child], environment: environment,
                                            stdio: (-1, output.writeEnd.rawValue, errors.writeEnd.rawValue))
            } catch {
                spawned = nil
                failure = error.rawValue
            }
            // Only the child (and what it starts) holds the write ends now,
            // so the pipes end when they close them.
            output.writeEnd.close()
            errors.writeEnd.close()
            guard let spawned else {
                output.readEnd.close(); errors.readEnd.close()
                queue.append(.spawnFailed(child: child, errno: failure))
                return
            }
            (pid, fd) = spawned
            relay.attach(child: child, pid: pid, output: output.readEnd, error: errors.readEnd)
        } else {
            do {
                (pid, fd) = try spawner.spawn(argvs[child], environment: environment)
            } catch {
                queue.append(.spawnFailed(child: child, errno: error.rawValue))
                return
            }
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
                // Every process of the namespace but ourselves, however deep.
                // SIGCONT follows a stop signal, to all of them: there is no
                // telling which of those that are not our children are
                // stopped (a running process just ignores it).
                try? Processes.kill(-1, signo)
                if SignalNumber.isShutdown(signo) { try? Processes.kill(-1, SignalNumber.cont) }
            } else {
                orphanSignal = signo
                orphansSignalled.removeAll()
                signalNewOrphans()
            }
        }
        if Processes.hasChildren() {
            collecting = true
        } else {
            collecting = false
            queue.append(.orphansGone)
        }
    }

    /// As subreaper in the orphan phase: sends the phase's signal (and
    /// SIGCONT after SIGTERM, to a stopped one) to each adopted child that
    /// was not sent it yet.
    /// Runs at the broadcast and after every SIGCHLD, so a grandchild handed
    /// to us when its parent dies of the SIGTERM gets the SIGTERM too, and
    /// SIGKILL only after kill_timeout. The children are listed from /proc
    /// (without it, none is signalled). They are ours and not reaped, so
    /// their PIDs cannot have been recycled. Bounded: past 4,096 recorded
    /// children, new ones are signalled again at each SIGCHLD.
    mutating func signalNewOrphans() {
        let signo = orphanSignal
        _ = childList.forEach { pid in
            guard !orphansSignalled.contains(pid) else { return }
            orphansSignalled.insert(pid)
            try? Processes.kill(pid, signo)
            if SignalNumber.isShutdown(signo), Processes.isStopped(pid: pid) { try? Processes.kill(pid, SignalNumber.cont) }
        }
    }
}
