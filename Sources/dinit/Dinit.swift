import LinuxSys
import Reactor
import SupervisorCore

let usage: StaticString = """
Usage: dinit [-q...] [-g] [-j] [-p] [-e status]... [-d startup_delay] [-k kill_timeout]
             [-r ready_timeout] [-t stop_budget] -- command -- command -- ...
Commands: [:key[=value]:]...[-]command [args, ...]
  (prefixes in any order, each at most once, e.g. :wait::name=db:-cmd;
  a command whose name starts with ':' is written ./:cmd)
  :wait:            run the command to completion before starting the next
  :notify:          start the next command when this one sends READY=1
                    (sd_notify: it gets NOTIFY_SOCKET), not after startup_delay
  :name=NAME:       call it NAME in log lines (1-32 of A-Z a-z 0-9 . _ -)
  :stop=SIGNAL:     stop it with SIGNAL (QUIT, INT, USR1, RTMIN+3, 1-64; not
                    KILL or STOP) instead of the signal dinit received or TERM
  -                 a nonzero exit status of the command is no error
  \\--               passes a literal -- to a command
Options:
  -q                quiet: errors only; -qq: no dinit output; -qqq: children's
                    stdin, stdout and stderr go to /dev/null as well
  -g                send signals to each child's process group, not just
                    the child (reaches a shell script's own children too)
  -j                log to systemd-journald (builds with the Journald trait)
  -p                tagged output: children's stdout and stderr come through
                    dinit, every line as "NAME | line" on the same stream
                    (NAME: its :name= or the program, padded to the longest); with -j each
                    line is a journal entry; no effect with -qqq
  -e status         a child exit status (0-255) that counts as success for
                    dinit's own; a child killed by a signal counts as the
                    signal number (-e 15: SIGTERM). Repeatable.
  -d startup_delay  seconds each command must stay alive before the next
                    starts (default 1; decimals allowed)
  -k kill_timeout   seconds between the stop signal and SIGKILL (default 5)
  -r ready_timeout  seconds a :notify: command may take to send READY=1
                    (default 90; 0: no limit)
  -t stop_budget    seconds the whole shutdown may take: each child's wait is
                    cut to what is left, then everything left gets SIGKILL
                    and dinit exits (default: no budget). Set it a second or
                    two below the grace period of docker stop or Kubernetes.
  -h, --help        show this help and exit
  -V, --version     show the version and exit

"""

let version: StaticString = "dinit 0.1.0\n"

/// dinit's phases: block signals and fill in stdio (before anything else),
/// parse the command line (nothing has happened yet, so fail loudly), set up
/// the reactor, then supervise; from then on nothing is fatal.
func dinitMain(argc: Int32, argv: CArgv) -> Int32 {
    prepareProcess()
    let args = argvBytes(argc: argc, argv: argv)
    let config: DinitConfiguration
    switch interpretCommandLine(prefix: "dinit: ", usage: usage, version: version,
                                wantsJournal: { $0.journal }, { () throws(ArgumentError) in try parseDinitArguments(args) }) {
    case .exit(let status):
        return status
    case .run(let c):
        config = c
    }

    // Descriptors beyond those open now (stdio and whatever we inherited):
    // a pidfd per running daemon, one for a running :wait: command, the
    // signalfd, timerfd and epoll fd, /dev/null (-qqq), the journal socket
    // (-j), and at most two at a time for a read of /proc (the orphan list,
    // the descriptor table size). With -p also the read ends of
    // two pipes per command (a :wait: command's may outlive it, held by its
    // descendants), two write ends while spawning, and the spawner's four
    // staging descriptors. The soft limit is raised if it is too low.
    let daemons = config.commands.reduce(0) { $0 + ($1.isWait ? 0 : 1) }
    let relays = config.tagOutput && config.quiet < 3
    let pipes = relays ? 2 * config.commands.count + 2 + 4 : 0
    if let limit = Processes.reserveDescriptors(daemons + pipes + 1 + 3 + 1 + 1 + 2) {
        let line = LineWriter(capacity: 256)
        line.text("dinit: too many commands ("); line.int(daemons)
        line.text(" daemons) for the open file limit ("); line.int(limit)
        line.text("); raise it with ulimit -n")
        line.newline()
        FileDescriptor.standardError.writeAll(line.bytes)
        return 2
    }

    var commands: [SupervisedCommand] = []
    var argvs: [UnsafePointer<UnsafeMutablePointer<CChar>?>] = []
    for c in config.commands {
        // `:name=NAME:` replaces the program as given in every log line.
        let name = c.name.map { argumentBytes(args, $0) } ?? argumentBytes(args, c.args[0])
        commands.append(SupervisedCommand(name: name,
                                          isWait: c.isWait, ignoresFailure: c.ignoresFailure,
                                          isNotify: c.isNotify, stopSignal: c.stopSignal))
        argvs.append(spawnArgv(c.args, argv: argv))
    }
    let core = Supervisor(commands: commands, startupDelay: config.startupDelay,
                          killTimeout: config.killTimeout, quiet: config.quiet,
                          signalGroups: config.signalGroups, readyTimeout: config.readyTimeout,
                          notifiesParent: ParentNotifier.requested, successStatuses: config.successStatuses,
                          stopBudget: config.stopBudget)
    var options = ReactorOptions()
    options.silenceChildren = config.quiet >= 3
    options.journal = config.journal
    options.notifyChildren = config.commands.map { $0.isNotify }
    options.relayOutput = relays
    options.outputGrace = KillGrace.after(config.killTimeout)
    options.terminalForLastChild = !options.silenceChildren && Terminal.inForeground
    if options.silenceChildren {
        do {
            options.devNull = try FileDescriptor.openDevNull()
        } catch {
            reportSetupError("dinit: ", "cannot open /dev/null", error)
            return 1
        }
    }
    do {
        var reactor = try Reactor(core: core, argvs: argvs, options: options)
        return reactor.run()
    } catch {
        reportSetupError("dinit: ", "cannot set up", error)
        return 1
    }
}
