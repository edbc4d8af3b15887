import XCTest
import SupervisorCore

private func parse(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> DinitConfiguration? {
    parsedRun(parseDinitArguments, argv(args), args, file: file, line: line)
}

private func parseError(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> ArgumentError? {
    parseFailure(parseDinitArguments, argv(args), args, expected: "an error", file: file, line: line)
}

private func program(_ args: [String], _ config: DinitConfiguration, _ command: Int = 0) -> String {
    String(decoding: argumentBytes(argv(args), config.commands[command].args[0]), as: UTF8.self)
}

private func nameOf(_ args: [String], _ config: DinitConfiguration, _ command: Int = 0) -> String? {
    config.commands[command].name.map { String(decoding: argumentBytes(argv(args), $0), as: UTF8.self) }
}

final class CommandPrefixTests: XCTestCase {

    // MARK: The grammar

    func testNameAndStopPrefixes() throws {
        let args = ["--", ":name=web::stop=QUIT:nginx", "-g", "daemon off;"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.commands.count, 1)
        XCTAssertEqual(program(args, c), "nginx")
        XCTAssertEqual(nameOf(args, c), "web")
        XCTAssertEqual(c.commands[0].stopSignal, 3)
        XCTAssertFalse(c.commands[0].isWait)
        XCTAssertFalse(c.commands[0].ignoresFailure)
        // Nothing copied: the name and the program point into argv.
        XCTAssertEqual(c.commands[0].name, ArgRange(index: 2, start: 6, end: 9))
        XCTAssertEqual(c.commands[0].args[0], ArgRef(index: 2, offset: 21))
        XCTAssertEqual(c.commands[0].args[1], ArgRef(index: 3, offset: 0))
    }

    func testAnyOrderThenDash() throws {
        for first in [":wait::name=setup::stop=INT:-prog", ":stop=INT::wait::name=setup:-prog",
                      ":name=setup::stop=INT::wait:-prog"] {
            let args = ["--", first, "x"]
            let c = try XCTUnwrap(parse(args))
            XCTAssertTrue(c.commands[0].isWait, first)
            XCTAssertTrue(c.commands[0].ignoresFailure, first)
            XCTAssertEqual(c.commands[0].stopSignal, 2, first)
            XCTAssertEqual(nameOf(args, c), "setup", first)
            XCTAssertEqual(program(args, c), "prog", first)
            XCTAssertEqual(c.commands[0].args.count, 2)
        }
    }

    func testNotifyInTheTable() throws {
        for first in [":notify::name=php-fpm:php-fpm8.2", ":name=php-fpm::notify:php-fpm8.2",
                      ":stop=QUIT::notify::name=php-fpm:-php-fpm8.2"] {
            let args = ["--", first, "-F"]
            let c = try XCTUnwrap(parse(args))
            XCTAssertTrue(c.commands[0].isNotify, first)
            XCTAssertFalse(c.commands[0].isWait, first)
            XCTAssertEqual(nameOf(args, c), "php-fpm", first)
            XCTAssertEqual(program(args, c), "php-fpm8.2", first)
        }
        for bad in [":wait::notify:x", ":notify::wait:x", ":notify::name=a::wait:x"] {
            XCTAssertEqual(parseError(["--", bad])?.kind, .conflictingPrefixes, bad)
        }
        XCTAssertEqual(parseError(["--", ":notify::notify:x"])?.kind, .repeatedPrefix)
        XCTAssertEqual(parseError(["--", ":notify=1:x"])?.kind, .prefixTakesNoValue)
    }

    func testDefaultsWithoutPrefixes() throws {
        let c = try XCTUnwrap(parse(["--", "sleep", "5"]))
        XCTAssertNil(c.commands[0].name)
        XCTAssertNil(c.commands[0].stopSignal)
    }

    func testPrefixesArePerCommand() throws {
        let args = ["--", ":name=a::stop=USR1:x", "--", "y", "--", ":stop=WINCH:-z"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.commands.map(\.stopSignal), [10, nil, 28])
        XCTAssertEqual(nameOf(args, c, 0), "a")
        XCTAssertNil(nameOf(args, c, 1))
        XCTAssertNil(nameOf(args, c, 2))
        XCTAssertEqual([program(args, c, 0), program(args, c, 1), program(args, c, 2)], ["x", "y", "z"])
        XCTAssertTrue(c.commands[2].ignoresFailure)
    }

    func testPrefixesAfterTheFirstDashDashIsOptional() throws {
        let args = [":name=db:postgres", "-D", "/data"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(nameOf(args, c), "db")
        XCTAssertEqual(program(args, c), "postgres")
    }

    func testPrefixesOnlyOnTheProgram() throws {
        let args = ["--", "prog", ":name=x:", ":bogus:"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertNil(c.commands[0].name)
        XCTAssertEqual(c.commands[0].args.count, 3)
    }

    func testProgramStartingWithColonThroughItsPath() throws {
        let args = ["--", "./:prog", "--", ":wait:./:x", "--", "-/bin/:y"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual([program(args, c, 0), program(args, c, 1), program(args, c, 2)], ["./:prog", "./:x", "/bin/:y"])
    }

    func testEscapedDashDashAfterPrefixes() throws {
        let args = ["--", ":name=n:\\--"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(program(args, c), "--")
    }

    // MARK: Names

    func testValidNames() throws {
        for n in ["a", "web-1", "php_fpm.pool", "A.B-c_9", String(repeating: "x", count: 32)] {
            let args = ["--", ":name=\(n):prog"]
            let c = try XCTUnwrap(parse(args))
            XCTAssertEqual(nameOf(args, c), n)
        }
    }

    func testInvalidNames() {
        for n in [String(repeating: "x", count: 33), "a b", "a/b", "é", "a\tb", "a+b", "'q'", "a\\b"] {
            let e = parseError(["--", ":name=\(n):prog"])
            XCTAssertEqual(e?.kind, .invalidName, n)
            XCTAssertEqual(e.map { String(decoding: $0.detail, as: UTF8.self) }, n)
        }
    }

    // MARK: Signals

    func testSignalNames() {
        let cases: [(String, Int32)] = [
            ("QUIT", 3), ("quit", 3), ("SIGQUIT", 3), ("sigquit", 3), ("SigQuit", 3), ("INT", 2), ("TERM", 15),
            ("HUP", 1), ("WINCH", 28), ("USR1", 10), ("usr2", 12), ("CONT", 18), ("PWR", 30), ("SYS", 31),
            ("IOT", 6), ("CLD", 17), ("POLL", 29), ("IO", 29), ("ALRM", 14), ("STKFLT", 16),
            ("RTMIN", 34), ("RTMIN+3", 37), ("SIGRTMIN+3", 37), ("rtmin+30", 64), ("RTMAX", 64), ("RTMAX-2", 62),
            ("sigrtmax-30", 34), ("1", 1), ("15", 15), ("64", 64), ("034", 34),
        ]
        for (text, number) in cases {
            XCTAssertEqual(SignalName.parse(ArraySlice(text.utf8)), number, text)
        }
        for bad in ["", "SIG", "0", "65", "100", "1000", "-1", "+3", "TERMX", "XTERM", "SIGSIGTERM", "RTMIN-1",
                    "RTMAX+1", "RTMIN+31", "RTMAX-31", "RTMIN+", "RTMIN3", "RT", "3a", " 3", "TERM ", "SIG TERM"] {
            XCTAssertNil(SignalName.parse(ArraySlice(bad.utf8)), bad)
        }
    }

    func testStopSignals() throws {
        let cases: [(String, Int32)] = [("QUIT", 3), ("sigint", 2), ("WINCH", 28), ("USR1", 10), ("RTMIN+3", 37),
                                        ("RTMAX-2", 62), ("1", 1), ("64", 64), ("CONT", 18)]
        for (text, number) in cases {
            let c = try XCTUnwrap(parse(["--", ":stop=\(text):prog"]))
            XCTAssertEqual(c.commands[0].stopSignal, number, text)
        }
    }

    func testKillAndStopRefused() {
        for s in ["KILL", "kill", "SIGKILL", "9", "009", "STOP", "sigstop", "19"] {
            XCTAssertEqual(parseError(["--", ":stop=\(s):prog"])?.kind, .unstoppableSignal, s)
        }
    }

    func testInvalidSignals() {
        for s in ["FOO", "0", "65", "SIG", "RTMIN+31", "1.5", "TERM,INT"] {
            let e = parseError(["--", ":stop=\(s):prog"])
            XCTAssertEqual(e?.kind, .invalidSignal, s)
            XCTAssertEqual(e.map { String(decoding: $0.detail, as: UTF8.self) }, s)
        }
    }

    // MARK: Every bad input

    func testBadPrefixes() {
        let cases: [(String, ArgumentError.Kind, String)] = [
            // Unknown key (keys are case-sensitive).
            (":foo:prog", .unknownPrefix, ":foo:"),
            (":WAIT:prog", .unknownPrefix, ":WAIT:"),
            ("::prog", .unknownPrefix, "::"),
            (":=x:prog", .unknownPrefix, ":=x:"),
            (":wait::notifyx:prog", .unknownPrefix, ":notifyx:"),
            (":names=x:prog", .unknownPrefix, ":names=x:"),
            // Missing or empty value.
            (":name:prog", .prefixNeedsValue, ":name:"),
            (":name=:prog", .prefixNeedsValue, ":name=:"),
            (":stop:prog", .prefixNeedsValue, ":stop:"),
            (":stop=:prog", .prefixNeedsValue, ":stop=:"),
            // A value where none belongs.
            (":wait=1:prog", .prefixTakesNoValue, ":wait=1:"),
            (":wait=:prog", .prefixTakesNoValue, ":wait=:"),
            // The same key twice.
            (":wait::wait:prog", .repeatedPrefix, ":wait:"),
            (":name=a::name=b:prog", .repeatedPrefix, ":name=b:"),
            (":stop=INT::wait::stop=INT:prog", .repeatedPrefix, ":stop=INT:"),
            // No closing colon.
            (":wait", .unterminatedPrefix, ""),
            (":prog", .unterminatedPrefix, ""),
            (":name=x", .unterminatedPrefix, ""),
            (":wait::name=x", .unterminatedPrefix, ""),
            (":", .unterminatedPrefix, ""),
            // A program starting with ':' after '-'.
            ("-:prog", .colonProgram, ""),
            (":wait:-:wait:prog", .colonProgram, ""),
            // Invalid values.
            (":name=a b:prog", .invalidName, "a b"),
            (":stop=NOPE:prog", .invalidSignal, "NOPE"),
            (":stop=KILL:prog", .unstoppableSignal, "KILL"),
        ]
        for (arg, kind, detail) in cases {
            for args in [["--", arg, "x"], ["--", "true", "--", arg]] {
                guard let e = parseError(args) else { continue }
                XCTAssertEqual(e.kind, kind, arg)
                XCTAssertEqual(String(decoding: e.argument, as: UTF8.self), arg, "the error names the argument")
                XCTAssertEqual(String(decoding: e.detail, as: UTF8.self), detail, arg)
                let m = message(e)
                XCTAssertTrue(m.contains("'\(arg)'"), "message \(m.debugDescription) names \(arg)")
                XCTAssertFalse(m.contains("\n"), "one line: \(m.debugDescription)")
            }
        }
    }

    func testMissingProgramAfterPrefixes() {
        for arg in [":name=x:", ":stop=INT:-", ":wait::name=x:", ":name=x::wait:-"] {
            let e = parseError(["--", arg])
            XCTAssertEqual(e?.kind, .missingProgram, arg)
            XCTAssertEqual(e.map { String(decoding: $0.argument, as: UTF8.self) }, arg)
        }
    }

    func testMessages() {
        func text(_ args: [String]) -> String { parseError(args).map(message) ?? "" }
        XCTAssertEqual(text(["--", ":foo:x"]),
                       "unknown prefix ':foo:' in ':foo:x' (known: :wait:, :notify:, :name=NAME:, :stop=SIGNAL:)")
        XCTAssertEqual(text(["--", ":name=:x"]), "prefix ':name=:' in ':name=:x' needs a value: :name=NAME:")
        XCTAssertEqual(text(["--", ":stop:x"]), "prefix ':stop:' in ':stop:x' needs a value: :stop=SIGNAL:")
        XCTAssertEqual(text(["--", ":wait=yes:x"]), "prefix ':wait=yes:' in ':wait=yes:x' takes no value: :wait:")
        XCTAssertEqual(text(["--", ":wait::wait:x"]),
                       "prefix ':wait:' repeats a key in ':wait::wait:x' (each key at most once)")
        XCTAssertTrue(text(["--", ":x"]).contains("./:prog"))
        XCTAssertTrue(text(["--", "-:x"]).contains("./:prog"))
        XCTAssertTrue(text(["--", ":stop=STOP:x"]).hasPrefix("stop signal 'STOP' in ':stop=STOP:x' refused"))
        XCTAssertTrue(text(["--", ":name=a\nb:x"]).contains("a\\nb"), "control bytes are escaped")
    }
    // MARK: -e and -t

    func testSuccessStatuses() throws {
        let c = try XCTUnwrap(parse(["-e", "143", "-e0", "-e", "255", "-e", "15", "--", "java"]))
        for status: Int32 in [0, 15, 143, 255] { XCTAssertTrue(c.successStatuses.contains(status), "\(status)") }
        for status: Int32 in [1, 9, 14, 16, 142, 144, 254, 256, -1] {
            XCTAssertFalse(c.successStatuses.contains(status), "\(status)")
        }
        XCTAssertTrue(try XCTUnwrap(parse(["--", "x"])).successStatuses.isEmpty)
        XCTAssertEqual(try XCTUnwrap(parse(["-e", "7", "-e", "7", "--", "x"])).successStatuses, ExitStatusSet([7]))
    }

    func testBadSuccessStatuses() {
        for bad in ["256", "-1", "", "abc", "1.0", "1000", " 1", "0x1"] {
            let e = parseError(["-e", bad, "--", "x"])
            XCTAssertEqual(e?.kind, .invalidStatus, bad)
            XCTAssertEqual(e.map { String(decoding: $0.argument, as: UTF8.self) }, bad)
        }
        XCTAssertEqual(parseError(["-e"])?.kind, .missingValue)
        XCTAssertEqual(parseError(["-e", "300", "--", "x"]).map(message),
                       "invalid exit status '300' for -e (expected 0 to 255)")
    }

    func testStopBudget() throws {
        XCTAssertNil(try XCTUnwrap(parse(["--", "x"])).stopBudget)
        XCTAssertEqual(try XCTUnwrap(parse(["-t", "8", "--", "x"])).stopBudget, 8_000_000_000)
        XCTAssertEqual(try XCTUnwrap(parse(["-t28.5", "--", "x"])).stopBudget, 28_500_000_000)
        XCTAssertEqual(try XCTUnwrap(parse(["-t", "0", "--", "x"])).stopBudget, 0)
        for bad in ["-1", "abc", "", "1e3", "1000000000"] {
            XCTAssertEqual(parseError(["-t", bad, "--", "x"])?.kind, .invalidValue, bad)
        }
        XCTAssertEqual(parseError(["-t"])?.kind, .missingValue)
    }
}
