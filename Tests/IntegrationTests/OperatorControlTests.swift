import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Operator controls with real processes: the command prefixes
/// (`:name=NAME:`, `:stop=SIGNAL:`), `-e` and `-t`.
final class OperatorControlTests: XCTestCase {

    // MARK: The prefix grammar

    func testBadPrefixesStartNothing() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/started"
        let touch = ["touch", f]
        let bad = [":foo:true", ":wait=1:true", ":name:true", ":name=:true", ":stop=:true", ":wait::wait:true",
                   ":name=a::name=b:true", ":stop=KILL:true", ":stop=STOP:true", ":stop=NOPE:true",
                   ":name=has space:true", ":name=\(String(repeating: "n", count: 33)):true", ":true", "-:true",
                   ":name=x:"]
        for arg in bad {
            let r = try runDinit(["-d", "0", "--"] + touch + ["--", arg])
            XCTAssertEqual(r.status, 2, "\(arg)\n\(r.summary)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(arg): one error line\n\(r.summary)")
            XCTAssertTrue(r.stderr.hasPrefix("dinit: "), r.summary)
            XCTAssertTrue(r.stderr.contains("'\(arg)'"), "the line names the argument\n\(r.summary)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: f), "\(arg) started a command")
        }
    }

    func testProgramStartingWithColonRunsThroughItsPath() throws {
        let dir = try makeTempDir(self)
        let script = "\(dir)/:hello"
        try "#!/bin/sh\necho colon-program-ran\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let r = try runProgram("/bin/sh", ["-c", "cd \(shQuote(dir)) && exec \(shQuote(DinitBinary.path)) -- :wait:./:hello"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("colon-program-ran"), r.summary)
    }
}
