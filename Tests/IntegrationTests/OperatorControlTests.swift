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

    // MARK: :name=NAME:

    func testNameReplacesTheProgramInEveryLine() throws {
        // A daemon that ignores SIGTERM, so the SIGKILL line names it too; a
        // :wait: command that succeeds; and one without a name.
        let p = try startDinit(["-d", "0", "-k", "0.3", "--", ":name=stubborn:sh", "-c", "trap '' TERM; sleep 30",
                                "--", ":wait::name=setup:true", "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("Started", count: 3), p.wait(timeout: 1).summary)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 15)
        XCTAssertEqual(r.status, 15, "the first nonzero status: sleep's SIGTERM\n\(r.summary)")
        let pids = r.startedPids
        XCTAssertEqual(pids.count, 3, r.summary)
        guard pids.count == 3 else { return }
        let expected = [
            "dinit: Started \(pids[0]) 'stubborn'",
            "dinit: Started \(pids[1]) 'setup'",
            "dinit: Child \(pids[1]) 'setup' exited with status 0",
            "dinit: Started \(pids[2]) 'sleep'",
            "dinit: Stopped child \(pids[2]) 'sleep', exited with status 15",
            "dinit: Child \(pids[0]) 'stubborn' still running after 0.3 s, sending SIGKILL",
            "dinit: Stopped child \(pids[0]) 'stubborn', exited with status 9",
        ]
        for line in expected {
            XCTAssertTrue(r.dinitLines.contains(line), "missing \(line.debugDescription)\n\(r.summary)")
        }
        XCTAssertFalse(r.stderr.contains("'sh'"), "the program as given appears nowhere\n\(r.summary)")
        XCTAssertFalse(r.stderr.contains("'true'"), r.summary)
    }

    func testNameInExecFailure() throws {
        let r = try runDinit(["--", ":name=ghost:/nonexistent/program"])
        XCTAssertEqual(r.status, 127, r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasPrefix("dinit: Cannot execute 'ghost': ") }, r.summary)
    }
}
