// libFuzzer entry point for dinit's and dcrond's argument parsers, and the
// sd_notify message parser.
// Built by Tests/Fuzz/run.sh together with Sources/SupervisorCore (standard Swift,
// -sanitize=fuzzer,address). The input is split on NUL bytes into argv.
// Every input must either parse or throw an ArgumentError whose message is
// one line; anything else (a crash, a trap, a multi-line message) is a bug.
import SupervisorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var argv: [[UInt8]] = [Array("dinit".utf8)]
    var current: [UInt8] = []
    for i in 0..<size {
        if data[i] == 0 {
            argv.append(current)
            current = []
        } else {
            current.append(data[i])
        }
    }
    argv.append(current)
    let line = LineWriter(capacity: 4096)
    do {
        if case .run(let config) = try parseDinitArguments(argv) {
            precondition(!config.commands.isEmpty, "a run with no command")
            for c in config.commands {
                precondition(!c.args.isEmpty, "an empty command")
                for ref in c.args {
                    precondition(ref.index > 0 && ref.index < argv.count, "argument out of range")
                    precondition(ref.offset <= argv[ref.index].count, "offset out of range")
                }
                precondition(ref0Valid(argv, c.args[0]), "empty program")
                precondition(argv[c.args[0].index][c.args[0].offset] != 58, "program starts with ':'")
                if let name = c.name {
                    precondition(name.index == c.args[0].index, "name outside the program's argument")
                    precondition(name.start < name.end && name.end <= argv[name.index].count, "name out of range")
                    precondition(name.end - name.start <= 32, "name too long")
                }
                if let signo = c.stopSignal {
                    precondition(signo >= 1 && signo <= 64 && signo != 9 && signo != 19, "bad stop signal")
                }
            }
        }
    } catch {
        checkOneLine(error, line)
    }
    var cronArgv = argv
    cronArgv[0] = Array("dcrond".utf8)
    do {
        if case .run(let config) = try parseDcrondArguments(cronArgv) {
            precondition(config.interval > 0, "zero interval accepted")
            precondition(config.commandline.offset < cronArgv[config.commandline.index].count, "empty command line")
        }
    } catch {
        checkOneLine(error, line)
    }
    // The same bytes as an sd_notify datagram: it parses, a STATUS stays
    // within its capacity, and the log line it makes is one line.
    let message = NotifyMessage(parsing: UnsafeBufferPointer(start: data, count: size))
    if let status = message.status {
        precondition(status.count <= StatusText.capacity, "STATUS over capacity")
        let core = Supervisor(commands: [SupervisedCommand(name: [120], isNotify: true)], startupDelay: 0,
                              killTimeout: 0, quiet: 0)
        line.reset()
        core.format(.notifyStatus(child: 0, pid: 1, status), into: line)
        for b in line.bytes.dropLast() { precondition(b != 10, "multi-line status line") }
    }
    return 0
}

func ref0Valid(_ argv: [[UInt8]], _ ref: ArgRef) -> Bool {
    ref.offset < argv[ref.index].count
}

func checkOneLine(_ error: ArgumentError, _ line: LineWriter) {
    line.reset()
    error.write(to: line)
    precondition(line.count > 0, "empty error message")
    for b in line.bytes { precondition(b != 10, "multi-line error message") }
}
