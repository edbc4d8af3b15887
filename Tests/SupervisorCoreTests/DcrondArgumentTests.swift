import XCTest
import SupervisorCore

/// argv as bytes, with argv[0] = "dcrond" prepended.
private func dcrondArgv(_ args: [String]) -> [[UInt8]] { argv(args, program: "dcrond") }

private func parseRun(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> DcrondConfiguration? {
    parsedRun(parseDcrondArguments, dcrondArgv(args), args, file: file, line: line)
}

private func assertError(_ args: [String], _ kind: ArgumentError.Kind, argument: String? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
    guard let error = parseFailure(parseDcrondArguments, dcrondArgv(args), args, expected: "\(kind)",
                                   file: file, line: line) else { return }
    assertArgumentError(error, is: kind, argument: argument, for: args, file: file, line: line)
    // Every error is one line.
    let text = message(error)
    XCTAssertFalse(text.isEmpty, file: file, line: line)
    XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
}

/// The command line as the spawner will see it (prefix skipped).
private func commandline(_ args: [String], _ config: DcrondConfiguration) -> String {
    String(decoding: argumentBytes(dcrondArgv(args), config.commandline), as: UTF8.self)
}

final class DcrondArgumentTests: XCTestCase {

    // MARK: Accepted command lines

    func testMinimalWithDefaults() throws {
        let args = ["-i", "3600", "php -f cleanup-things.php"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertEqual(c.interval, 3600 * s)
        XCTAssertEqual(c.delay, 0, "first run at once by default")
        XCTAssertEqual(c.killTimeout, 5 * s)
        XCTAssertEqual(c.quiet, 0)
        XCTAssertFalse(c.ignoresFailure)
        XCTAssertEqual(c.commandline, ArgRef(index: 3, offset: 0))
        XCTAssertEqual(commandline(args, c), "php -f cleanup-things.php")
    }

    func testSeedExample() throws {
        let args = ["-qqq", "-d", "60", "-i", "3600", "php -f cleanup-things.php"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertEqual(c.quiet, 3)
        XCTAssertEqual(c.delay, 60 * s)
        XCTAssertEqual(c.interval, 3600 * s)
        XCTAssertEqual(c.commandline, ArgRef(index: 6, offset: 0))
    }

    func testDecimalsAndAttachedValues() throws {
        let c = try XCTUnwrap(parseRun(["-i0.25", "-d", ".5", "-k1.5", "x"]))
        XCTAssertEqual(c.interval, 250_000_000)
        XCTAssertEqual(c.delay, 500_000_000)
        XCTAssertEqual(c.killTimeout, 1_500_000_000)
        let d = try XCTUnwrap(parseRun(["-i", "5.", "-d0", "x"]))
        XCTAssertEqual(d.interval, 5 * s)
        XCTAssertEqual(d.delay, 0)
    }

    func testKillTimeoutZeroAllowed() throws {
        let c = try XCTUnwrap(parseRun(["-k", "0", "-i", "1", "x"]))
        XCTAssertEqual(c.killTimeout, 0)
    }

    func testLastValueWins() throws {
        let c = try XCTUnwrap(parseRun(["-i", "1", "-i", "2", "-d", "3", "-d", "4", "x"]))
        XCTAssertEqual(c.interval, 2 * s)
        XCTAssertEqual(c.delay, 4 * s)
    }

    func testQuietForms() throws {
        XCTAssertEqual(parseRun(["-q", "-i", "1", "x"])?.quiet, 1)
        XCTAssertEqual(parseRun(["-qq", "-i", "1", "x"])?.quiet, 2)
        XCTAssertEqual(parseRun(["-q", "-qq", "-i", "1", "x"])?.quiet, 3)
        XCTAssertEqual(parseRun(["-q", "-i", "1", "-q", "x"])?.quiet, 2)
        assertError(["-qqqq", "-i", "1", "x"], .tooManyQuiet)
        assertError(["-qq", "-qq", "-i", "1", "x"], .tooManyQuiet)
        assertError(["-qx", "-i", "1", "x"], .unknownOption, argument: "-qx")
    }

    func testOptionalDashDash() throws {
        let args = ["-i", "1", "--", "echo hi"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertEqual(c.commandline, ArgRef(index: 4, offset: 0))
        XCTAssertFalse(c.ignoresFailure)
        XCTAssertEqual(commandline(args, c), "echo hi")
    }

    func testDashCommandlineAfterDashDash() throws {
        let args = ["-i", "60", "--", "-php -f cleanup.php"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertTrue(c.ignoresFailure)
        XCTAssertEqual(c.commandline, ArgRef(index: 4, offset: 1))
        XCTAssertEqual(commandline(args, c), "php -f cleanup.php")
    }

    func testDashCommandlineWithoutDashDashIsAnOption() {
        // Without `--`, "-false" reads as an option cluster.
        assertError(["-i", "1", "-false"], .unknownOption, argument: "-false")
    }

    func testOnlyOneLeadingDashStripped() throws {
        let args = ["-i", "1", "--", "--x"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertTrue(c.ignoresFailure)
        XCTAssertEqual(commandline(args, c), "-x")
    }

    func testDashDashAsCommandlineAfterSeparator() throws {
        // `dcrond -i 1 -- --`: the second `--` is the command line.
        let args = ["-i", "1", "--", "--"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertEqual(c.commandline.index, 4)
        XCTAssertTrue(c.ignoresFailure)
        XCTAssertEqual(commandline(args, c), "-")
    }

    func testCommandlineWithSpacesAndQuotesIsOneArgument() throws {
        let args = ["-i", "1", "echo 'a b' \"c\" | tr a-z A-Z > /dev/null"]
        let c = try XCTUnwrap(parseRun(args))
        XCTAssertEqual(commandline(args, c), "echo 'a b' \"c\" | tr a-z A-Z > /dev/null")
    }

    // MARK: Help and version

    func testHelpAndVersion() throws {
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["-h"])), .help)
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["--help"])), .help)
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["-V"])), .version)
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["--version"])), .version)
        // Among other options, before the command line.
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["-q", "-i", "1", "-h"])), .help)
        XCTAssertEqual(try parseDcrondArguments(dcrondArgv(["-i", "1", "-V", "x"])), .version)
    }

    func testHelpAfterCommandlineIsAnExtraArgument() {
        assertError(["-i", "1", "x", "-h"], .extraArgument, argument: "-h")
    }

    // MARK: Bad input

    func testNoArgumentsAsksForUsage() {
        assertError([], .noCommand)
    }

    func testMissingInterval() {
        assertError(["echo hi"], .missingInterval)
        assertError(["-d", "1", "echo hi"], .missingInterval)
        assertError(["--", "echo hi"], .missingInterval)
    }

    func testZeroInterval() {
        assertError(["-i", "0", "x"], .zeroInterval, argument: "0")
        assertError(["-i", "0.000", "x"], .zeroInterval, argument: "0.000")
        assertError(["-i0", "x"], .zeroInterval, argument: "0")
        // Below a nanosecond rounds to zero: still rejected.
        assertError(["-i", "0.0000000001", "x"], .zeroInterval)
    }

    func testInvalidIntervalValues() {
        for v in ["-1", "-0.5", "abc", "nan", "NaN", "inf", "Infinity", "", "1e3", "+1", "1.2.3", " 1", "0x10", "1s",
                  "1000000000"] {
            assertError(["-i", v, "x"], .invalidValue, argument: v)
        }
    }

    func testInvalidDelayAndKillValues() {
        for v in ["-1", "nan", "inf", "", "x"] {
            assertError(["-i", "1", "-d", v, "x"], .invalidValue, argument: v)
            assertError(["-i", "1", "-k", v, "x"], .invalidValue, argument: v)
        }
    }

    func testMissingValue() {
        assertError(["-i"], .missingValue, argument: "-i")
        assertError(["-q", "-i"], .missingValue, argument: "-i")
        assertError(["-i", "1", "-d"], .missingValue, argument: "-d")
    }

    func testUnknownOption() {
        assertError(["-x", "-i", "1", "cmd"], .unknownOption, argument: "-x")
        assertError(["-i", "1", "--interval", "cmd"], .unknownOption, argument: "--interval")
        assertError(["-g", "-i", "1", "cmd"], .unknownOption, argument: "-g")
    }

    func testNoCommandline() {
        assertError(["-i", "1"], .missingCommandline)
        assertError(["-i", "1", "--"], .missingCommandline)
        assertError(["-q"], .missingCommandline)
        assertError(["--"], .missingCommandline)
    }

    func testMoreThanOneCommandlineArgument() {
        assertError(["-i", "1", "php", "-f", "cleanup.php"], .extraArgument, argument: "-f")
        assertError(["-i", "1", "--", "echo", "hi"], .extraArgument, argument: "hi")
        assertError(["-i", "1", "a", "--"], .extraArgument, argument: "--")
    }

    func testBareDash() {
        assertError(["-i", "1", "-"], .missingProgram, argument: "-")
        assertError(["-i", "1", "--", "-"], .missingProgram, argument: "-")
    }

    func testErrorMessages() {
        XCTAssertEqual(message(ArgumentError(.missingInterval)),
                       "missing -i interval (seconds between runs, greater than 0)")
        XCTAssertEqual(message(ArgumentError(.zeroInterval, Array("0".utf8))),
                       "the interval must be greater than 0, not '0'")
        XCTAssertEqual(message(ArgumentError(.extraArgument, Array("b".utf8))),
                       "unexpected argument 'b' (the command line must be a single argument; quote it)")
        XCTAssertEqual(message(ArgumentError(.missingCommandline)), "no command line given")
    }
}
