import Foundation
import XCTest

/// The seed document's example run, line by line.
final class TranscriptTests: XCTestCase {
    func testBinaryExists() {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: DinitBinary.path),
                      "no dinit binary at \(DinitBinary.path); set DINIT_BIN")
    }

    /// `dinit -d 0.1 -- sleep 5 -- sleep 1`: the second sleep exits on its
    /// own, the first is stopped with SIGTERM, and dinit exits with 15.
    func testSeedTranscript() throws {
        let r = try runDinit(["-d", "0.1", "--", "sleep", "5", "--", "sleep", "1"])
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertEqual(r.stdout, "", r.summary)
        XCTAssertLessThan(r.elapsed, 4, "should end soon after sleep 1 exits\n\(r.summary)")
        XCTAssertGreaterThan(r.elapsed, 0.9, "cannot end before sleep 1 exits\n\(r.summary)")
        // Every stderr line is dinit's.
        XCTAssertEqual(r.stderrLines.count, r.dinitLines.count, r.summary)
        guard let pids = r.startedPids(count: 2) else { return }
        let (p1, p2) = (pids[0], pids[1])
        XCTAssertNotEqual(p1, p2)
        XCTAssertGreaterThan(p1, 1)
        XCTAssertGreaterThan(p2, 1)
        XCTAssertNotEqual(p1, r.pid)
        XCTAssertNotEqual(p2, r.pid)
        XCTAssertEqual(r.log, [
            .subreaper,
            .started(pid: p1, program: "sleep"),
            .started(pid: p2, program: "sleep"),
            .childExited(pid: p2, program: "sleep", status: 0),
            .stopped(pid: p1, program: "sleep", status: 15),
            .exiting(status: 15),
        ], r.summary)
        // The exact text of the lines, as in the seed document.
        XCTAssertEqual(r.stderrLines, [
            "dinit: Not PID 1, registered as child subreaper",
            "dinit: Started \(p1) 'sleep'",
            "dinit: Started \(p2) 'sleep'",
            "dinit: Child \(p2) 'sleep' exited with status 0",
            "dinit: Stopped child \(p1) 'sleep', exited with status 15",
            "dinit: Exiting, status 15",
        ])
    }

    /// The startup delay: the second command starts only after the first
    /// survived `-d` seconds.
    func testStartupDelayIsHonoured() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/t"
        // Each command records when it started (ms since epoch via date +%s%N).
        let rec = "date +%s%N >> \(f); exec sleep 5"
        let p = try startDinit(["-d", "0.6", "--", "sh", "-c", rec, "--", "sh", "-c", rec,
                                "--", ":wait:true"])
        XCTAssertTrue(p.waitForStderr("exited with status 0", timeout: 5), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertEqual(r.status, 15, r.summary)
        let stamps = lines(readFile(f)).compactMap { Double($0) }.map { $0 / 1e9 }
        guard stamps.count == 2 else { return XCTFail("expected two start times, got \(readFile(f))") }
        XCTAssertGreaterThan(stamps[1] - stamps[0], 0.5, "second command started before the delay passed")
        XCTAssertLessThan(stamps[1] - stamps[0], 3)
    }
}
