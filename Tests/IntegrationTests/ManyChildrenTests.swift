import Foundation
import XCTest

/// More than 64 commands: dinit spawns from a thread of its own, so that the
/// kernel lists its children apart from the orphans it adopts, and reaps its
/// children through their pidfds (see Reactor.reapAll). Orphans must still
/// be adopted and reaped at once, as PID 1 and as subreaper, and the
/// children stopped in reverse order.
final class ManyChildrenTests: XCTestCase {
    /// A daemon that orphans 10 `sleep 0.6`, then prints how many children
    /// dinit (its parent) has while they run and, after they ended, how many
    /// it has and how many of them are zombies; then it exits (ending the run).
    static let orphanScript =
        "count() { n=0; z=0; for c in $(cat /proc/$PPID/task/*/children); do n=$((n+1)); " +
        "s=$(cat /proc/$c/stat 2>/dev/null) || continue; case \"${s##*) }\" in Z*) z=$((z+1));; esac; done; }; " +
        "for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 0.6 &); done; sleep 0.3; count; echo during=$n; " +
        "sleep 1; count; echo after=$n zombies=$z"

    func check(_ r: RunResult, daemons: Int) {
        // While the orphans ran: the daemons, this shell and the 10 orphans.
        XCTAssertTrue(r.stdout.contains("during=\(daemons + 11)"), "orphans adopted by dinit\n\(r.summary)")
        XCTAssertTrue(r.stdout.contains("after=\(daemons + 1) zombies=0"), "orphans reaped\n\(r.summary)")
        let pids = r.startedPids
        XCTAssertEqual(pids.count, daemons + 1, r.summary)
        let stopped: [Int32] = r.log.compactMap { if case .stopped(let pid, _, 15) = $0 { return pid }; return nil }
        XCTAssertEqual(stopped, Array(pids.prefix(daemons).reversed()), "stopped in reverse order\n\(r.summary)")
        // The shell exited 0 on its own; the first nonzero status is a
        // stopped sleep's 15.
        XCTAssertEqual(r.status, 15, r.summary)
    }

    func arguments(daemons: Int) -> [String] {
        var args = ["-d", "0", "-k", "5"]
        for _ in 0..<daemons { args += ["--", "sleep", "100"] }
        return args + ["--", "sh", "-c", Self.orphanScript]
    }

    func testOrphansReapedWith100DaemonsAsSubreaper() throws {
        let r = try runDinit(arguments(daemons: 100), timeout: 30)
        XCTAssertEqual(r.log.first, .subreaper, r.summary)
        check(r, daemons: 100)
    }

    func testOrphansReapedWith100DaemonsAsPID1() throws {
        try XCTSkipUnless(ReapingTests.unshareAvailable, "unshare --pid --fork --mount-proc does not work here (needs root)")
        let r = try runProgram("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", DinitBinary.path]
                                 + arguments(daemons: 100), timeout: 30)
        check(r, daemons: 100)
    }
}
