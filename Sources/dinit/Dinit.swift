import LinuxSys
import Reactor
import SupervisorCore

let usage: StaticString = """
Usage: dinit [-q...] [-g] [-j] [-p] [-d startup_delay] [-k kill_timeout] -- command -- command -- ...
Commands: [:wait:][-]command [args, ...]
  :wait:            run the command to completion before starting the next
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
                    (NAME: the program, padded to the longest); with -j each
                    line is a journal entry; no effect with -qqq
  -d startup_delay  seconds each command must stay alive before the next
                    starts (default 1; decimals allowed)
  -k kill_timeout   seconds between the stop signal and SIGKILL (default 5)
  -h, --help        show this help and exit
  -V, --version     show the version and exit

"""

let version: StaticString = "dinit 0.1.0\n"

/// dinit's phases: parse the command line (nothing has happened yet, so fail
/// loudly), set up the reactor (signals blocked first), then supervise; from
/// then on nothing is fatal.
func dinitMain(argc: Int32, argv: CArgv) -> Int32 {
    let args = argvBytes(argc: argc, argv: argv)
    let config: DinitConfiguration
    switch interpretCommandLine(prefix: "dinit: ", usage: usage, version: version,
                                wantsJournal: { $0.journal }, { () throws(ArgumentError) in try parseDinitArguments(args) }) {
    case .exit(let status):
        return status
    case .run(let c):
        config = c
    }

    // Descriptors: a pidfd per running daemon, our own four, stdio and
    // whatever we inherited; the soft limit is raised if it is too low. With
    // -p also the read ends of two pipes per command (a :wait: command's may
    // outlive it, held by its descendants), two write ends while spawning,
    // and the spawner's four staging descriptors.
    let daemons = config.commands.reduce(0) { $0 + ($1.isWait ? 0 : 1) }
    let relays = config.tagOutput && config.quiet < 3
    let pipes = relays ? 2 * config.commands.count + 2 + 4 : 0
    if let limit = Processes.reserveDescriptors(daemons + pipes + 1 + 64) {
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
        commands.append(SupervisedCommand(name: argumentBytes(args, c.args[0]),
                                          isWait: c.isWait, ignoresFailure: c.ignoresFailure))
        argvs.append(spawnArgv(c.args, argv: argv))
    }
    let core = Supervisor(commands: commands, startupDelay: config.startupDelay,
                          killTimeout: config.killTimeout, quiet: config.quiet,
                          signalGroups: config.signalGroups)
    var options = ReactorOptions()
    options.silenceChildren = config.quiet >= 3
    options.journal = config.journal
    options.relayOutput = relays
    options.outputGrace = KillGrace.after(config.killTimeout)
    options.terminalForLastChild = !options.silenceChildren && Terminal.inForeground
    do {
        var reactor = try Reactor(core: core, argvs: argvs, options: options)
        return reactor.run()
    } catch {
        reportSetupError("dinit: ", "cannot set up", error)
        return 1
    }
}
