import XCTest
import SupervisorCore

private func parse(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> DinitConfiguration? {
    parsedRun(parseDinitArguments, argv(args), args, file: file, line: line)
}

private func parseError(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> ArgumentError? {
    parseFailure(parseDinitArguments, argv(args), args, expected: "an error", file: file, line: line)
}

private func assertError(_ args: [String], _ kind: ArgumentError.Kind, argument: String? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
    guard let e = parseError(args, file: file, line: line) else { return }
    assertArgumentError(e, is: kind, argument: argument, for: args, file: file, line: line)
}

/// The strings the ArgRefs of each command point to.
private func commandStrings(_ args: [String], _ config: DinitConfiguration) -> [[String]] {
    let v = argv(args)
    return config.commands.map { c in c.args.map { String(decoding: argumentBytes(v, $0), as: UTF8.self) } }
}

final class ArgumentParserTests: XCTestCase {

    // MARK: Defaults and values

    func testDefaults() throws {
        let c = try XCTUnwrap(parse(["--", "sleep", "5"]))
        XCTAssertEqual(c.startupDelay, 1_000_000_000)
        XCTAssertEqual(c.killTimeout, 5_000_000_000)
        XCTAssertEqual(c.quiet, 0)
        XCTAssertEqual(c.commands.count, 1)
        XCTAssertEqual(commandStrings(["--", "sleep", "5"], c), [["sleep", "5"]])
        XCTAssertEqual(c.commands[0].args, [ArgRef(index: 2, offset: 0), ArgRef(index: 3, offset: 0)])
        XCTAssertFalse(c.commands[0].isWait)
        XCTAssertFalse(c.commands[0].ignoresFailure)
    }

    func testDelayAsSeparateArgument() throws {
        let c = try XCTUnwrap(parse(["-d", "0.25", "--", "true"]))
        XCTAssertEqual(c.startupDelay, 250_000_000)
        XCTAssertEqual(c.killTimeout, 5_000_000_000)
    }

    func testDelayAttached() throws {
        let c = try XCTUnwrap(parse(["-d0.25", "--", "true"]))
        XCTAssertEqual(c.startupDelay, 250_000_000)
    }

    func testKillTimeoutZero() throws {
        let c = try XCTUnwrap(parse(["-k", "0", "--", "true"]))
        XCTAssertEqual(c.killTimeout, 0)
        XCTAssertEqual(c.startupDelay, 1_000_000_000)
    }

    func testKillTimeoutAttached() throws {
        let c = try XCTUnwrap(parse(["-k12", "--", "true"]))
        XCTAssertEqual(c.killTimeout, 12_000_000_000)
    }

    func testLeadingAndTrailingDot() throws {
        let a = try XCTUnwrap(parse(["-d", ".5", "--", "true"]))
        XCTAssertEqual(a.startupDelay, 500_000_000)
        let b = try XCTUnwrap(parse(["-k", "5.", "--", "true"]))
        XCTAssertEqual(b.killTimeout, 5_000_000_000)
    }

    func testBothOptions() throws {
        let c = try XCTUnwrap(parse(["-d", "2", "-k", "1.5", "--", "true"]))
        XCTAssertEqual(c.startupDelay, 2_000_000_000)
        XCTAssertEqual(c.killTimeout, 1_500_000_000)
    }

    func testSecondsParse() {
        XCTAssertEqual(Seconds.parse(Array("0".utf8)), 0)
        XCTAssertEqual(Seconds.parse(Array("1".utf8)), 1_000_000_000)
        XCTAssertEqual(Seconds.parse(Array("0.000000001".utf8)), 1)
        XCTAssertEqual(Seconds.parse(Array("0.0000000019".utf8)), 1, "digits past nanoseconds are dropped")
        XCTAssertEqual(Seconds.parse(Array("999999999".utf8)), 999_999_999_000_000_000)
        XCTAssertEqual(Seconds.parse(Array("000000000001".utf8)), 1_000_000_000, "leading zeros are not digits of magnitude")
        XCTAssertNil(Seconds.parse(Array("1000000000".utf8)))
        XCTAssertNil(Seconds.parse(Array(".".utf8)))
        XCTAssertNil(Seconds.parse([]))
        XCTAssertNil(Seconds.parse(Array(" 1".utf8)))
    }

    // MARK: -q

    func testQuietLevels() throws {
        XCTAssertEqual(try XCTUnwrap(parse(["-q", "--", "true"])).quiet, 1)
        XCTAssertEqual(try XCTUnwrap(parse(["-qq", "--", "true"])).quiet, 2)
        XCTAssertEqual(try XCTUnwrap(parse(["-qqq", "--", "true"])).quiet, 3)
        XCTAssertEqual(try XCTUnwrap(parse(["-q", "-q", "--", "true"])).quiet, 2)
        XCTAssertEqual(try XCTUnwrap(parse(["-q", "-qq", "--", "true"])).quiet, 3)
        XCTAssertEqual(try XCTUnwrap(parse(["-q", "-d", "3", "-q", "--", "true"])).quiet, 2)
    }

    func testTooManyQuiet() {
        assertError(["-qqqq", "--", "true"], .tooManyQuiet)
        assertError(["-qq", "-qq", "--", "true"], .tooManyQuiet)
        assertError(["-q", "-q", "-q", "-q", "--", "true"], .tooManyQuiet)
    }

    func testQuietClusterWithOtherLetterIsUnknown() {
        assertError(["-qx", "--", "true"], .unknownOption, argument: "-qx")
    }

    // MARK: Bad values

    func testInvalidValues() {
        for bad in ["abc", "-1", "nan", "NaN", "inf", "Infinity", "", "1e3", "+1", "1.2.3", "1000000000",
                    "99999999999999999999", "0x10", "1 ", ".", "1,5"] {
            assertError(["-d", bad, "--", "true"], .invalidValue, argument: bad)
            assertError(["-k", bad, "--", "true"], .invalidValue, argument: bad)
        }
    }

    func testInvalidAttachedValue() {
        assertError(["-dabc", "--", "true"], .invalidValue, argument: "abc")
        assertError(["-k-1", "--", "true"], .invalidValue, argument: "-1")
    }

    func testUnknownOptions() {
        assertError(["-x", "--", "true"], .unknownOption, argument: "-x")
        assertError(["--foo", "--", "true"], .unknownOption, argument: "--foo")
        assertError(["-q", "-z", "--", "true"], .unknownOption, argument: "-z")
        // The first `--` may only be omitted when the program does not start with `-`.
        assertError(["-prog"], .unknownOption, argument: "-prog")
    }

    func testMissingValue() {
        assertError(["-d"], .missingValue, argument: "-d")
        assertError(["-k"], .missingValue, argument: "-k")
        assertError(["-q", "-d"], .missingValue, argument: "-d")
    }

    func testNoCommand() {
        assertError([], .noCommand)
        assertError(["--"], .noCommand)
        assertError(["-d", "1"], .noCommand)
        assertError(["-q", "-k", "2", "--"], .noCommand)
    }

    func testEmptyCommand() {
        assertError(["--", "a", "--", "--", "b"], .emptyCommand)
        assertError(["--", "--", "a"], .emptyCommand)
        assertError(["--", "a", "--"], .emptyCommand)
        assertError(["a", "--"], .emptyCommand)
    }

    func testMissingProgram() {
        assertError(["--", ":wait:"], .missingProgram, argument: ":wait:")
        assertError(["--", "-"], .missingProgram, argument: "-")
        assertError(["--", ":wait:-"], .missingProgram, argument: ":wait:-")
        assertError(["-"], .missingProgram, argument: "-")
        assertError(["--", "true", "--", ":wait:", "x"], .missingProgram, argument: ":wait:")
        assertError(["--", "true", "--", "-", "x"], .missingProgram, argument: "-")
    }

    // MARK: Commands

    func testPrefixes() throws {
        let args = ["--", ":wait:init", "a", "--", "-daemon", "--", ":wait:-prog", "b", "--", "plain"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.commands.count, 4)

        XCTAssertTrue(c.commands[0].isWait)
        XCTAssertFalse(c.commands[0].ignoresFailure)
        XCTAssertEqual(c.commands[0].args, [ArgRef(index: 2, offset: 6), ArgRef(index: 3, offset: 0)])

        XCTAssertFalse(c.commands[1].isWait)
        XCTAssertTrue(c.commands[1].ignoresFailure)
        XCTAssertEqual(c.commands[1].args, [ArgRef(index: 5, offset: 1)])

        XCTAssertTrue(c.commands[2].isWait)
        XCTAssertTrue(c.commands[2].ignoresFailure)
        XCTAssertEqual(c.commands[2].args, [ArgRef(index: 7, offset: 7), ArgRef(index: 8, offset: 0)])

        XCTAssertFalse(c.commands[3].isWait)
        XCTAssertFalse(c.commands[3].ignoresFailure)
        XCTAssertEqual(c.commands[3].args, [ArgRef(index: 10, offset: 0)])

        XCTAssertEqual(commandStrings(args, c), [["init", "a"], ["daemon"], ["prog", "b"], ["plain"]])
    }

    func testPrefixOnlyAppliesToProgram() throws {
        let args = ["--", "prog", ":wait:", "-", "-x"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertFalse(c.commands[0].isWait)
        XCTAssertFalse(c.commands[0].ignoresFailure)
        XCTAssertEqual(commandStrings(args, c), [["prog", ":wait:", "-", "-x"]])
    }

    func testEscapedDashDash() throws {
        let args = ["--", "dcrond", "-i", "60", "\\--", "-cleanup", "\\\\--", "\\x", "\\", "\\---", "a--"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.commands.count, 1)
        let refs = c.commands[0].args
        XCTAssertEqual(refs.count, 10)
        XCTAssertEqual(refs[3], ArgRef(index: 5, offset: 1), "\\-- drops its backslash")
        XCTAssertEqual(refs[4], ArgRef(index: 6, offset: 0))
        XCTAssertEqual(refs[5], ArgRef(index: 7, offset: 1), "\\\\-- drops one backslash")
        XCTAssertEqual(refs[6], ArgRef(index: 8, offset: 0), "\\x is verbatim")
        XCTAssertEqual(refs[7], ArgRef(index: 9, offset: 0), "a lone backslash is verbatim")
        XCTAssertEqual(refs[8], ArgRef(index: 10, offset: 0), "\\--- is verbatim")
        XCTAssertEqual(refs[9], ArgRef(index: 11, offset: 0))
        XCTAssertEqual(commandStrings(args, c),
                       [["dcrond", "-i", "60", "--", "-cleanup", "\\--", "\\x", "\\", "\\---", "a--"]])
    }

    func testEscapedDashDashAsProgram() throws {
        let args = ["--", "\\--", "x", "--", "-\\--"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.commands.count, 2)
        XCTAssertEqual(c.commands[0].args[0], ArgRef(index: 2, offset: 1))
        XCTAssertEqual(c.commands[1].args[0], ArgRef(index: 5, offset: 2))
        XCTAssertTrue(c.commands[1].ignoresFailure)
        XCTAssertEqual(commandStrings(args, c), [["--", "x"], ["--"]])
    }

    func testFirstDashDashOptional() throws {
        let args = ["sleep", "1", "--", "sleep", "2"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(commandStrings(args, c), [["sleep", "1"], ["sleep", "2"]])
        XCTAssertEqual(c.commands[0].args[0], ArgRef(index: 1, offset: 0))

        let args2 = ["-q", "-d", "0", ":wait:true"]
        let c2 = try XCTUnwrap(parse(args2))
        XCTAssertEqual(c2.quiet, 1)
        XCTAssertEqual(c2.startupDelay, 0)
        XCTAssertTrue(c2.commands[0].isWait)
        XCTAssertEqual(commandStrings(args2, c2), [["true"]])
    }

    func testOptionsAfterCommandBelongToCommand() throws {
        let args = ["--", "prog", "-d", "x", "-q", "--help"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(c.quiet, 0)
        XCTAssertEqual(c.startupDelay, 1_000_000_000)
        XCTAssertEqual(commandStrings(args, c), [["prog", "-d", "x", "-q", "--help"]])
    }

    func testSeedExample() throws {
        let args = ["--", "sleep", "5", "--", "sleep", "3"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertEqual(commandStrings(args, c), [["sleep", "5"], ["sleep", "3"]])
        XCTAssertEqual(c.commands.map(\.isWait), [false, false])
    }

    // MARK: Help and version

    func testHelpAndVersion() throws {
        XCTAssertEqual(try parseDinitArguments(argv(["-h"])), .help)
        XCTAssertEqual(try parseDinitArguments(argv(["--help"])), .help)
        XCTAssertEqual(try parseDinitArguments(argv(["-V"])), .version)
        XCTAssertEqual(try parseDinitArguments(argv(["--version"])), .version)
        XCTAssertEqual(try parseDinitArguments(argv(["-q", "-d", "1", "--help", "--", "true"])), .help)
        XCTAssertEqual(try parseDinitArguments(argv(["-V", "-x"])), .version)
    }

    func testHelpAfterDashDashIsACommand() throws {
        let args = ["--", "-h"]
        let c = try XCTUnwrap(parse(args))
        XCTAssertTrue(c.commands[0].ignoresFailure)
        XCTAssertEqual(commandStrings(args, c), [["h"]])
    }

    // MARK: Messages

    func testErrorMessagesAreOneLineAndNameTheArgument() {
        let cases: [([String], String)] = [
            (["-d", "abc", "--", "x"], "abc"),
            (["-k", "-1", "--", "x"], "-1"),
            (["-x", "--", "x"], "-x"),
            (["--foo", "--", "x"], "--foo"),
            (["-d"], "-d"),
            (["--", ":wait:"], ":wait:"),
            (["--", ":wait:-"], ":wait:-"),
            (["--", "-"], "'-'"),
        ]
        for (args, needle) in cases {
            guard let e = parseError(args) else { continue }
            let m = message(e)
            XCTAssertTrue(m.contains(needle), "message \(m.debugDescription) for \(args) lacks \(needle)")
            XCTAssertFalse(m.contains("\n"), "message for \(args) is not one line: \(m.debugDescription)")
            XCTAssertFalse(m.isEmpty)
        }
    }

    func testErrorMessagesWithoutArgument() {
        for args in [[], ["--", "a", "--"], ["-qqqq", "--", "x"]] as [[String]] {
            guard let e = parseError(args) else { continue }
            let m = message(e)
            XCTAssertFalse(m.isEmpty, "for \(args)")
            XCTAssertFalse(m.contains("\n"), "for \(args)")
        }
        XCTAssertEqual(message(ArgumentError(.noCommand)), "no command given")
        XCTAssertEqual(message(ArgumentError(.unknownOption, Array("-x".utf8))), "unknown option '-x'")
        XCTAssertEqual(message(ArgumentError(.missingValue, Array("-d".utf8))), "option '-d' needs a value")
    }
}
