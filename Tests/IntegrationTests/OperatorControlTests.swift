import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Operator controls with real processes: the command prefixes
/// (`:name=NAME:`, `:stop=SIGNAL:`), `-e` and `-t`.
final class OperatorControlTests: XCTestCase {

    /// Waits until `count` children have written their ready marker into
    /// `dir` (their traps are set then: a signal sent earlier could find a
    /// shell that does not handle it yet, on a loaded machine).
    func waitReady(_ dir: String, count: Int, timeout: TimeInterval = 30) -> Bool {
        waitFor(timeout: timeout) {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("ready.") }.count
                >= count
        }
    }

    /// A child that ignores SIGTERM, SIGINT and SIGQUIT (a shell trap, so
    /// `sleep` is no child of dinit that could be signalled apart), ready
    /// once its trap is set.
    func stubborn(_ dir: String, _ prefix: String = "") -> [String] {
        [prefix + "sh", "-c", "trap '' TERM INT QUIT; : > \(dir)/ready.$$; while :; do sleep 0.05; done"]
    }

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

    func testHelpListsTheOperatorControls() throws {
        let r = try runDinit(["--help"])
        XCTAssertEqual(r.status, 0, r.summary)
        for item in [":name=NAME:", ":stop=SIGNAL:", "-e status", "-t stop_budget", "[-e status]...", "[-t stop_budget]",
                     "[:key[=value]:]...[-]command", "./:cmd"] {
            XCTAssertTrue(r.stdout.contains(item), "--help lacks \(item)\n\(r.stdout)")
        }
    }

    // MARK: :name=NAME:

    func testNameReplacesTheProgramInEveryLine() throws {
        // A daemon that ignores SIGTERM, so the SIGKILL line names it too; a
        // :wait: command that succeeds; and one without a name.
        let dir = try makeTempDir(self)
        let p = try startDinit(["-d", "0", "-k", "0.3", "--"] + stubborn(dir, ":name=stubborn:")
                               + ["--", ":wait::name=setup:true", "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("Started", count: 3), p.wait(timeout: 1).summary)
        XCTAssertTrue(waitReady(dir, count: 1), p.wait(timeout: 1).summary)
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

    // MARK: :stop=SIGNAL:

    func testStopSignalReplacesTheReceivedSignalAndTerm() throws {
        // Each child writes the signal that stopped it; `true` ending on its
        // own starts the shutdown (SIGTERM by default).
        let dir = try makeTempDir(self)
        func recorder(_ tag: String, _ prefix: String = "") -> [String] {
            [prefix + "sh", "-c", "for s in INT QUIT USR1 WINCH TERM; do trap \"echo $s > \(dir)/\(tag); exit 0\" $s; done; "
                + ": > \(dir)/ready.\(tag); while :; do sleep 0.05; done"]
        }
        // The last command ends (and so starts the shutdown) once a, b and c
        // have set their traps.
        let whenReady = "until [ -e \(dir)/ready.a ] && [ -e \(dir)/ready.b ] && [ -e \(dir)/ready.c ]; do sleep 0.01; done"
        let r = try runDinit(["-d", "0", "--"] + recorder("a", ":stop=usr1:") + ["--"] + recorder("b", ":stop=SIGWINCH:")
                             + ["--"] + recorder("c") + ["--", "sh", "-c", whenReady], timeout: 60)
        XCTAssertEqual(readFile("\(dir)/a"), "USR1\n", r.summary)
        XCTAssertEqual(readFile("\(dir)/b"), "WINCH\n", r.summary)
        XCTAssertEqual(readFile("\(dir)/c"), "TERM\n", "without :stop= the signal stays TERM\n\(r.summary)")
        XCTAssertFalse(r.stderr.contains("SIGKILL"), r.summary)

        // A shutdown started by SIGQUIT: the children without :stop= get QUIT.
        let p = try startDinit(["-d", "0", "--"] + recorder("d", ":stop=INT:") + ["--"] + recorder("e"))
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.wait(timeout: 1).summary)
        XCTAssertTrue(waitReady(dir, count: 5), p.wait(timeout: 1).summary)
        p.signal(SIGQUIT)
        let q = p.wait(timeout: 20)
        XCTAssertEqual(q.status, 0, q.summary)
        XCTAssertEqual(readFile("\(dir)/d"), "INT\n", q.summary)
        XCTAssertEqual(readFile("\(dir)/e"), "QUIT\n", q.summary)
    }

    /// postgres 15 with one idle client: SIGTERM is its smart shutdown, which
    /// waits for the client, so dinit has to SIGKILL it; `:stop=INT:` (fast
    /// shutdown) stops it cleanly at once.
    /// A stopped child (SIGSTOP, a debugger) gets SIGCONT after its own
    /// `:stop=` signal too, not only after TERM/INT/QUIT, so it can act on it
    /// before `kill_timeout`.
    func testStoppedChildIsContinuedAfterItsStopSignal() throws {
        let dir = try makeTempDir(self)
        let ready = "\(dir)/ready", clean = "\(dir)/clean"
        let script = "trap 'echo clean > \(clean); exit 0' USR1; echo $$ > \(ready); while :; do sleep 0.05; done"
        let p = try startDinit(["-k", "3", "--", ":stop=USR1:sh", "-c", script])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { Int32(readFile(ready).trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
        guard let child = Int32(readFile(ready).trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        kill(child, SIGSTOP)
        XCTAssertTrue(p.waitUntil(timeout: 3) { ProcStat(pid: child)?.state == "T" }, "child did not stop")
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.stderr.contains("sending SIGKILL"), r.summary)
        XCTAssertEqual(readFile(clean), "clean\n", "the USR1 handler did not run\n\(r.summary)")
        XCTAssertEqual(r.status, 0, r.summary)
    }

    func testPostgresStopsCleanlyWithStopInt() throws {
        let pg = try PostgresCluster(self)
        let p = try startDinit(["-k", "30", "--"] + pg.serverCommand(prefixes: ":name=postgres::stop=INT:"))
        defer { if p.isRunning { killTree(p.pid) } }
        try pg.waitUntilReady(p)
        let client = try pg.connectIdleClient()
        defer { client.stop() }
        let signalled = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 60)
        let stopTime = Date().timeIntervalSince(signalled)
        print("postgres with :stop=INT: and an idle client stopped in \(String(format: "%.2f", stopTime)) s")
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertLessThan(stopTime, 15, "fast shutdown, well before -k 30\n\(r.summary)")
        XCTAssertFalse(r.stderr.contains("SIGKILL"), r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasPrefix("dinit: Stopped child ") && $0.hasSuffix("'postgres', exited with status 0") },
                      r.summary)
        XCTAssertEqual(pg.clusterState(), "shut down", "a clean shutdown: no crash recovery on the next start")
    }

    func testPostgresDefaultTermWaitsForTheClientUntilSIGKILL() throws {
        let pg = try PostgresCluster(self)
        let p = try startDinit(["-k", "2", "--"] + pg.serverCommand(prefixes: ":name=postgres:"))
        defer { if p.isRunning { killTree(p.pid) } }
        try pg.waitUntilReady(p)
        let client = try pg.connectIdleClient()
        defer { client.stop() }
        p.signal(SIGTERM)
        let r = p.wait(timeout: 60)
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasSuffix("'postgres' still running after 2 s, sending SIGKILL") }, r.summary)
        XCTAssertEqual(pg.clusterState(), "in production", "SIGKILLed: the next start runs crash recovery")
    }

    // MARK: -e status

    func testSuccessStatusMapsTheJVMsExitToSuccess() throws {
        // A JVM exits 143 on SIGTERM; with -e 143 the container ends with 0.
        for (extra, expected) in [([String](), Int32(143)), (["-e", "143"], 0), (["-e", "1", "-e", "143"], 0)] {
            let dir = try makeTempDir(self)
            let jvm = ["sh", "-c", "trap 'exit 143' TERM; : > \(dir)/ready.jvm; while :; do sleep 0.05; done"]
            let p = try startDinit(["-d", "0"] + extra + ["--"] + jvm)
            XCTAssertTrue(p.waitForStderr("Started"), p.wait(timeout: 1).summary)
            XCTAssertTrue(waitReady(dir, count: 1), p.wait(timeout: 1).summary)
            p.signal(SIGTERM)
            let r = p.wait(timeout: 15)
            XCTAssertEqual(r.status, expected, "\(extra)\n\(r.summary)")
            XCTAssertTrue(r.dinitLines.last?.hasSuffix("Exiting, status \(expected)") ?? false, r.summary)
        }
    }

    func testSuccessStatusCoversAChildKilledBySignal() throws {
        // `sleep` dies of SIGTERM (15); a second command's status still counts.
        let r = try runDinit(["-d", "0", "-e", "15", "--", "sleep", "30", "--", "sh", "-c", "sleep 0.3"])
        XCTAssertEqual(r.status, 1, "the run ended because a daemon exited; SIGTERM's 15 is a success\n\(r.summary)")
        let p = try startDinit(["-d", "0", "-e", "15", "--", "sleep", "30", "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.wait(timeout: 1).summary)
        p.signal(SIGTERM)
        let q = p.wait(timeout: 15)
        XCTAssertEqual(q.status, 0, q.summary)
        let u = try runDinit(["-d", "0", "-e", "15", "--", ":wait:sh", "-c", "exit 7"])
        XCTAssertEqual(u.status, 7, "other statuses still count\n\(u.summary)")
    }

    // MARK: -t stop budget

    func testBudgetBoundsTheWholeStop() throws {
        // Three children ignoring SIGTERM and -k 5: without a budget the stop
        // takes 3 x 5 s; with -t 2 everything is SIGKILLed at 2 s and dinit exits.
        let dir = try makeTempDir(self)
        let p = try startDinit(["-d", "0", "-k", "5", "-t", "2", "--"] + stubborn(dir) + ["--"] + stubborn(dir)
                               + ["--"] + stubborn(dir, ":name=third:"))
        XCTAssertTrue(p.waitForStderr("Started", count: 3), p.wait(timeout: 1).summary)
        XCTAssertTrue(waitReady(dir, count: 3), p.wait(timeout: 1).summary)
        let signalled = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 20)
        let took = Date().timeIntervalSince(signalled)
        print("three children ignoring SIGTERM, -k 5 -t 2: dinit exited \(String(format: "%.2f", took)) s after SIGTERM")
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertGreaterThanOrEqual(took, 1.9, r.summary)
        XCTAssertLessThan(took, 8, "within the budget (plus slack for a loaded machine), not 15 s\n\(r.summary)")
        let pids = r.startedPids
        XCTAssertEqual(pids.count, 3, r.summary)
        guard pids.count == 3 else { return }
        let lines = r.dinitLines
        XCTAssertTrue(lines.contains("dinit: Stop budget of 2 s spent, sending SIGKILL to every remaining process and exiting"),
                      r.summary)
        for (pid, name) in [(pids[0], "sh"), (pids[1], "sh"), (pids[2], "third")] {
            XCTAssertTrue(lines.contains("dinit: Child \(pid) '\(name)' still running at the end of the stop budget, sent SIGKILL"),
                          "\(pid)\n\(r.summary)")
        }
        XCTAssertFalse(r.stderr.contains("still running after 5 s"), r.summary)
        XCTAssertEqual(lines.last, "dinit: Exiting, status 9", r.summary)
        // Nothing is left behind.
        for pid in pids {
            XCTAssertTrue(p.waitUntil(timeout: 5) { !processExists(pid) }, "\(pid) still exists")
        }
    }

    func testBudgetAfterAnUnexpectedExit() throws {
        // The second command ends once the first has set its trap.
        let dir = try makeTempDir(self)
        let whenReady = "until ls \(dir)/ready.* >/dev/null 2>&1; do sleep 0.01; done"
        let r = try runDinit(["-d", "0", "-k", "10", "-t", "1", "--"] + stubborn(dir) + ["--", "sh", "-c", whenReady],
                             timeout: 30)
        XCTAssertEqual(r.status, 9, r.summary)
        XCTAssertLessThan(r.elapsed, 8, "not the 10 s of -k\n\(r.summary)")
        XCTAssertTrue(r.stderr.contains("Stop budget of 1 s spent"), r.summary)
    }

    func testBudgetCoversOrphans() throws {
        // A :wait: command leaves an orphan that ignores SIGTERM; the orphan
        // phase (TERM, then KILL after -k 10) is cut to the budget.
        let dir = try makeTempDir(self)
        let pidFile = "\(dir)/orphan"
        let r = try runDinit(["-k", "10", "-t", "1", "--", ":wait:sh", "-c",
                              "sh -c 'trap \"\" TERM; echo $$ > \(pidFile); exec sleep 30' & "
                              + "while [ ! -s \(pidFile) ]; do sleep 0.01; done"], timeout: 30)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertLessThan(r.elapsed, 8, "not the 10 s of -k\n\(r.summary)")
        XCTAssertTrue(r.stderr.contains("Stop budget of 1 s spent"), r.summary)
        guard let orphan = Int32(readFile(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return XCTFail("no orphan pid\n\(r.summary)")
        }
        let gone = waitFor(timeout: 5) { !processExists(orphan) }
        if !gone { kill(orphan, SIGKILL) }
        XCTAssertTrue(gone, "the orphan got SIGKILL")
    }

    func testStopWithinTheBudgetIsUnchanged() throws {
        let p = try startDinit(["-d", "0", "-t", "10", "--", "sleep", "30", "--", "sleep", "30"])
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.wait(timeout: 1).summary)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 15)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertLessThan(r.elapsed, 10, r.summary)
        XCTAssertFalse(r.stderr.contains("budget"), r.summary)
        XCTAssertFalse(r.stderr.contains("SIGKILL"), r.summary)
    }
}

/// A throwaway postgres 15 cluster in a temporary directory, listening on a
/// unix socket there only, run as user postgres when the tests run as root.
struct PostgresCluster {
    /// Debian's postgresql-15; `$POSTGRES_BIN` points elsewhere.
    static let bin = ProcessInfo.processInfo.environment["POSTGRES_BIN"] ?? "/usr/lib/postgresql/15/bin"
    let dir: String
    var data: String { "\(dir)/data" }

    init(_ test: XCTestCase) throws {
        for tool in ["postgres", "initdb", "psql", "pg_controldata"] {
            guard FileManager.default.isExecutableFile(atPath: "\(Self.bin)/\(tool)") else {
                throw XCTSkip("postgres 15 is not installed (\(Self.bin)/\(tool) missing; apt-get install postgresql-15)")
            }
        }
        dir = try makeTempDir(test)
        if getuid() == 0 {
            guard let pw = getpwnam("postgres") else { throw XCTSkip("no user postgres to run postgres as") }
            chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        let initdb = Self.asPostgres + ["\(Self.bin)/initdb", "-D", "\(dir)/data", "-A", "trust", "-U", "postgres",
                                        "--no-sync"]
        let r = try runProgram(initdb[0], Array(initdb.dropFirst()), timeout: 120)
        guard r.status == 0 else { throw Failure(what: "initdb failed\n\(r.summary)") }
    }

    struct Failure: Error { let what: String }

    /// setpriv to user postgres when root (postgres refuses to run as root).
    static var asPostgres: [String] {
        getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] : []
    }

    /// The command for dinit, `prefixes` put in front of its program.
    func serverCommand(prefixes: String) -> [String] {
        var argv = Self.asPostgres + ["\(Self.bin)/postgres", "-D", data, "-k", dir, "-c", "listen_addresses=",
                                      "-c", "fsync=off"]
        argv[0] = prefixes + argv[0]
        return argv
    }

    func waitUntilReady(_ p: RunningProcess) throws {
        let ready = "database system is ready to accept connections"
        guard p.waitUntil(timeout: 60, { p.stderr.text.contains(ready) || !p.isRunning }), p.isRunning else {
            throw Failure(what: "postgres did not start\n\(p.wait(timeout: 1).summary)")
        }
    }

    /// psql connected and idle (its stdin stays open and empty).
    func connectIdleClient() throws -> IdleClient {
        let client = try IdleClient(["\(Self.bin)/psql", "-h", dir, "-U", "postgres", "-d", "postgres"])
        let end = Date().addingTimeInterval(30)
        while Date() < end {
            let q = try runProgram("\(Self.bin)/psql", ["-h", dir, "-U", "postgres", "-d", "postgres", "-Atc",
                "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()"])
            if q.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { return client }
            usleep(100_000)
        }
        client.stop()
        throw Failure(what: "the idle client did not connect")
    }

    /// "shut down" after a clean stop, "in production" after a crash.
    func clusterState() -> String {
        guard let r = try? runProgram("\(Self.bin)/pg_controldata", [data]) else { return "?" }
        for line in r.stdoutLines where line.hasPrefix("Database cluster state:") {
            return line.dropFirst("Database cluster state:".count).trimmingCharacters(in: .whitespaces)
        }
        return "?\n" + r.summary
    }
}

/// A client process whose stdin is a pipe that is kept open until stop().
final class IdleClient {
    let process = Process()
    let input = Pipe()

    init(_ argv: [String]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
