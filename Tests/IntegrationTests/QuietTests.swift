import Foundation
import XCTest

/// -q, -qq, -qqq.
final class QuietTests: XCTestCase {
    static let chattyArgs = ["-c", "echo child-out; echo child-err >&2; exit 3"]

    func testDefaultShowsInfoLines() throws {
        let r = try runDinit(["--", ":wait:true"])
        XCTAssertTrue(r.stderr.contains("Started"), r.summary)
        XCTAssertTrue(r.stderr.contains("Exiting, status 0"), r.summary)
        XCTAssertTrue(r.stderr.contains("Not PID 1, registered as child subreaper"), r.summary)
    }

    /// -q hides Started/Exiting/info lines but keeps errors.
    func testQuietKeepsOnlyErrors() throws {
        let r = try runDinit(["-q", "--", ":wait:true", "--", ":wait:sh"] + Self.chattyArgs)
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "child-out\n", r.summary)
        let dinit = r.dinitLines
        XCTAssertEqual(dinit.count, 1, "only the failed :wait: line\n\(r.summary)")
        XCTAssertTrue(dinit.first.map { LogLine($0) }.map {
            if case .childExited(_, "sh", 3) = $0 { return true } else { return false }
        } ?? false, r.summary)
        XCTAssertFalse(r.stderr.contains("Started"), r.summary)
        XCTAssertFalse(r.stderr.contains("Exiting"), r.summary)
        XCTAssertFalse(r.stderr.contains("subreaper"), r.summary)
        XCTAssertTrue(r.stderr.contains("child-err"), r.summary)
    }

    func testQuietKeepsExecFailure() throws {
        let r = try runDinit(["-q", "--", "/nonexistent/prog"])
        XCTAssertEqual(r.status, 127, r.summary)
        XCTAssertEqual(r.stderrLines.count, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("No such file or directory"), r.summary)
    }

    func testQuietKeepsEscalationAndUnexpectedExit() throws {
        // A daemon exiting on its own is an error; so is SIGKILL escalation.
        let r = try runDinit(["-q", "-d", "0.1", "-k", "0.3", "--",
                              "sh", "-c", "trap '' TERM; exec sleep 100",
                              "--", "sh", "-c", "sleep 0.2; exit 5"])
        XCTAssertEqual(r.status, 5, r.summary)
        XCTAssertTrue(r.stderr.contains("exited with status 5"), r.summary)
        XCTAssertTrue(r.stderr.contains("SIGKILL"), r.summary)
        XCTAssertFalse(r.stderr.contains("Started"), r.summary)
        XCTAssertFalse(r.stderr.contains("Exiting"), r.summary)
    }

    /// A requested stop where everything goes well prints nothing with -q.
    func testQuietCleanStopIsSilent() throws {
        let p = try startDinit(["-q", "-d", "0.1", "--", "sleep", "5"])
        XCTAssertTrue(p.waitUntil(timeout: 3) { descendants(of: p.pid).count == 1 })
        usleep(100_000)
        p.signal(SIGTERM)
        let r = p.wait()
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertEqual(r.stderr, "", r.summary)
    }

    /// -qq: nothing from dinit at all, children's output passes.
    func testQQSilencesDinitOnly() throws {
        for q in [["-qq"], ["-q", "-q"]] {
            let r = try runDinit(q + ["--", "/nonexistent/prog", "--", ":wait:sh"] + Self.chattyArgs)
            XCTAssertEqual(r.status, 127, r.summary)
            XCTAssertEqual(r.stderr, "", r.summary)
            let r2 = try runDinit(q + ["--", ":wait:sh"] + Self.chattyArgs)
            XCTAssertEqual(r2.status, 3, r2.summary)
            XCTAssertEqual(r2.stdout, "child-out\n", r2.summary)
            XCTAssertEqual(r2.stderr, "child-err\n", r2.summary)
        }
    }

    /// -qqq: children's stdout and stderr go to /dev/null too.
    func testQQQSilencesChildren() throws {
        let r = try runDinit(["-qqq", "--", ":wait:sh"] + Self.chattyArgs)
        XCTAssertEqual(r.status, 3, r.summary)
        XCTAssertEqual(r.stdout, "", r.summary)
        XCTAssertEqual(r.stderr, "", r.summary)
    }

    /// -qqq: and stdin is /dev/null (the child reads EOF, not our input).
    func testQQQChildStdinIsDevNull() throws {
        let child = [":wait:sh", "-c", "if read x; then exit 5; else exit 0; fi"]
        let loud = try runDinit(["-qq", "--"] + child, stdin: Data("hello\n".utf8))
        XCTAssertEqual(loud.status, 5, "without -qqq the child reads dinit's stdin\n\(loud.summary)")
        let quiet = try runDinit(["-qqq", "--"] + child, stdin: Data("hello\n".utf8))
        XCTAssertEqual(quiet.status, 0, "with -qqq the child's stdin is /dev/null\n\(quiet.summary)")
    }
}
