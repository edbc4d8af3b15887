import Foundation
import XCTest

/// Bad input, usage and version.
final class ArgumentTests: XCTestCase {
    func testBadCommandLines() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/started"
        let touch = ["touch", f]
        let cases: [[String]] = [
            ["-d", "abc", "--"] + touch,
            ["-d", "-1", "--"] + touch,
            ["-d", "nan", "--"] + touch,
            ["-d", "NaN", "--"] + touch,
            ["-d", "inf", "--"] + touch,
            ["-k", "infinity", "--"] + touch,
            ["-d", "", "--"] + touch,
            ["-k", "", "--"] + touch,
            ["-k", "1e3", "--"] + touch,
            ["-k", "0x10", "--"] + touch,
            ["-d", "1.2.3", "--"] + touch,
            ["-x", "--"] + touch,
            ["--bogus", "--"] + touch,
            ["-qqqq", "--"] + touch,
            ["-q", "-q", "-q", "-q", "--"] + touch,
            ["-d"],
            ["-q", "-k"],
            ["--"] + touch + ["--", "--"] + touch,
            ["--"] + touch + ["--"],
            ["--", "--"] + touch,
            ["--"] + touch + ["--", ":wait:"],
            ["--"] + touch + ["--", "-"],
            ["--"] + touch + ["--", ":wait:-"],
            ["--", ":wait:", "arg"],
        ]
        for args in cases {
            let r = try runDinit(args)
            XCTAssertEqual(r.status, 2, "\(args)\n\(r.summary)")
            XCTAssertEqual(r.stdout, "", "\(args)\n\(r.summary)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(args): one error line\n\(r.summary)")
            XCTAssertTrue(r.stderr.hasPrefix("dinit: "), "\(args)\n\(r.summary)")
            XCTAssertFalse(r.stderr.contains("Started"), "\(args)\n\(r.summary)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: f), "\(args) started a command")
            XCTAssertLessThan(r.elapsed, 2, "\(args)")
        }
    }

    /// The error names the problem.
    func testErrorNamesTheOffendingArgument() throws {
        let r1 = try runDinit(["-d", "abc", "--", "true"])
        XCTAssertTrue(r1.stderr.contains("abc"), r1.summary)
        let r2 = try runDinit(["-z", "--", "true"])
        XCTAssertTrue(r2.stderr.contains("-z"), r2.summary)
        let r3 = try runDinit(["-k"])
        XCTAssertTrue(r3.stderr.contains("-k"), r3.summary)
    }

    func testNoArgumentsPrintsUsageOnStderr() throws {
        for args in [[], ["--"], ["-q"], ["-d", "1"]] as [[String]] {
            let r = try runDinit(args)
            XCTAssertEqual(r.status, 2, "\(args)\n\(r.summary)")
            XCTAssertEqual(r.stdout, "", "\(args)\n\(r.summary)")
            XCTAssertTrue(r.stderr.contains("Usage: dinit"), "\(args)\n\(r.summary)")
            XCTAssertFalse(r.stderr.contains("Started"), "\(args)\n\(r.summary)")
        }
    }

    func testHelpPrintsUsageOnStdout() throws {
        for flag in ["-h", "--help"] {
            let r = try runDinit([flag])
            XCTAssertEqual(r.status, 0, "\(flag)\n\(r.summary)")
            XCTAssertEqual(r.stderr, "", "\(flag)\n\(r.summary)")
            XCTAssertTrue(r.stdout.contains("Usage: dinit"), "\(flag)\n\(r.summary)")
            XCTAssertTrue(r.stdout.contains("-- command"), "\(flag)\n\(r.summary)")
            // A line per option.
            for opt in ["-q", "-d", "-k", "-h", "-V", ":wait:"] {
                XCTAssertTrue(r.stdout.contains(opt), "usage lacks \(opt)\n\(r.summary)")
            }
        }
    }

    /// `-h` wins even with a command given, and starts nothing.
    func testHelpWithCommandStartsNothing() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/started"
        let r = try runDinit(["-h", "--", "touch", f])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f))
    }

    func testVersion() throws {
        for flag in ["-V", "--version"] {
            let r = try runDinit([flag])
            XCTAssertEqual(r.status, 0, "\(flag)\n\(r.summary)")
            XCTAssertEqual(r.stderr, "", r.summary)
            XCTAssertEqual(r.stdoutLines.count, 1, r.summary)
            XCTAssertTrue(r.stdout.hasPrefix("dinit "), r.summary)
            XCTAssertNotNil(r.stdout.range(of: "[0-9]+\\.[0-9]+", options: .regularExpression), r.summary)
        }
    }

    /// Accepted forms of the options: decimals, attached values, clustered -q,
    /// and the first `--` left out.
    func testAcceptedOptionForms() throws {
        for args in [["-d", "0.25", "-k", "0.5", "--", ":wait:true"],
                     ["-d0.1", "-k.5", "--", ":wait:true"],
                     ["-d", "5.", "--", ":wait:true"],
                     ["-q", "-q", "--", ":wait:true"],
                     ["-qq", "-q", "--", ":wait:true"],
                     [":wait:true"],
                     ["-d", "0", ":wait:true", "--", ":wait:true"]] as [[String]] {
            let r = try runDinit(args)
            XCTAssertEqual(r.status, 0, "\(args)\n\(r.summary)")
        }
    }
}
