import LinuxSys
import Reactor
import SupervisorCore

let usage: StaticString = """
Usage: dcrond [-q...] [-j] [-d delay] [-k kill_timeout] -i interval [--] [-]commandline
Runs commandline with /bin/sh -c now (after the delay), then again interval
seconds after each run ends. A leading - in commandline means a failed run is
only logged; otherwise it ends dcrond with the run's status. Put -- before a
commandline that starts with - (write \\-- under dinit).
Options:
  -q               quiet: errors only; -qq: no dcrond output; -qqq: the
                   command's stdin, stdout and stderr go to /dev/null as well
  -j               log to systemd-journald (builds with the Journald trait)
  -d delay         seconds before the first run (default 0; decimals allowed)
  -i interval      seconds from the end of one run to the start of the next
                   (required, greater than 0)
  -k kill_timeout  on SIGTERM/SIGINT/SIGQUIT during a run, seconds between
                   forwarding the signal to the run's process group and
                   SIGKILL (default 5)
  -h, --help       show this help and exit
With NOTIFY_SOCKET set (systemd Type=notify, or a :notify: command of dinit),
dcrond sends READY=1 once set up and STOPPING=1 on a shutdown signal; its
command line never gets NOTIFY_SOCKET.
  -V, --version    show the version and exit

"""

let version: StaticString = "dcrond 0.1.0\n"


func dcrondMain(argc: Int32, argv: CArgv) -> Int32 {
    let args = argvBytes(argc: argc, argv: argv)
    let config: DcrondConfiguration
    switch interpretCommandLine(prefix: "dcrond: ", usage: usage, version: version,
                                wantsJournal: { $0.journal }, { () throws(ArgumentError) in try parseDcrondArguments(args) }) {
    case .exit(let status):
        return status
    case .run(let c):
        config = c
    }

    // argv for every run: /bin/sh -c <commandline>, pointing into our argv.
    let table = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 4)
    table[0] = staticCString("/bin/sh")
    table[1] = staticCString("-c")
    table[2] = argv[config.commandline.index]! + config.commandline.offset
    table[3] = nil

    let core = CronSchedule(commandline: argumentBytes(args, config.commandline),
                            ignoresFailure: config.ignoresFailure, delay: config.delay,
                            interval: config.interval, killTimeout: config.killTimeout, quiet: config.quiet,
                            notifiesParent: ParentNotifier.requested)
    var options = ReactorOptions()
    options.silenceChildren = config.quiet >= 3
    options.journal = config.journal
    // dcrond supervises one command; orphans are its own init's business.
    options.becomeSubreaper = false
    options.collectsOrphans = false
    options.sweepStoppedGroups = true
    do {
        var reactor = try Reactor(core: core, argvs: [UnsafePointer(table)], options: options)
        return reactor.run()
    } catch {
        reportSetupError("dcrond: ", "cannot set up", error)
        return 1
    }
}

/// A C string for a static string literal (they are NUL-terminated and live
/// for the whole run).
func staticCString(_ s: StaticString) -> UnsafeMutablePointer<CChar> {
    UnsafeMutableRawPointer(mutating: s.utf8Start).assumingMemoryBound(to: CChar.self)
}
