import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// Hardening (issue 6): signals, exit statuses, process groups, inherited
// signal state and interactive use, against the binary as a black box. The
// signal recorder and the /proc helpers are TestSupport's.

// The names this file's tests used before the helpers moved to TestSupport,
// kept for tests written against them on other branches; new tests use the
// TestSupport names.
private var hsPython: String { python3 }
private func hsRecorder(in dir: String) throws -> [String] { try installSignalRecorder(in: dir) }
private func hsRecords(_ file: String) -> [(tag: String, signo: Int32)] { signalRecords(file) }
private func hsReceived(_ file: String, _ tag: String) -> [Int32] { signalsReceived(by: tag, in: file) }
private func hsReadyPid(_ file: String, _ tag: String) -> Int32? { recorderPid(tag, in: file) }
/// Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...].
private func hsStat(_ pid: Int32) -> [String]? {
    guard let s = readFileIfPresent("/proc/\(pid)/stat"), let close = s.lastIndex(of: ")") else { return nil }
    return s[s.index(after: close)...].split(separator: " ").map(String.init)
}
private func hsLive(_ pid: Int32) -> Bool { isLive(pid) }
private func hsMembers(ofGroup pgid: Int32) -> [Int32] { processes(inGroup: pgid).map(\.pid) }
private var hsSignalNames: [Int32: String] { signalNames }
private func hsName(_ signo: Int32) -> String { signalName(signo) }

final class HardeningSignalTests: XCTestCase {
    // MARK: - 1. Exit statuses

    /// Every exit code 0-255 of a `:wait:` command is dinit's exit status.
    func testExitCodePassThroughAll256() throws {
        var wrong: [String] = []
        for n in 0...255 {
            let r = try runDinit(["-q", "-d", "0", "--", ":wait:sh", "-c", "exit \(n)"], timeout: 5)
            if r.signaled || r.status != Int32(n) {
                wrong.append("exit \(n) -> \(r.summary)")
            }
        }
        XCTAssertTrue(wrong.isEmpty, "wrong statuses:\n" + wrong.joined(separator: "\n"))
    }

    /// A `:wait:` command killed by a signal gives the signal number.
    func testDeathBySignalPassThrough() throws {
        for signo: Int32 in [1, 2, 3, 6, 9, 10, 11, 12, 13, 14, 15] {
            let name = signalNames[signo]!
            let r = try runDinit(["-q", "-d", "0", "--", ":wait:sh", "-c", "kill -\(name) $$"], timeout: 5)
            XCTAssertFalse(r.signaled, "\(name): dinit itself died\n\(r.summary)")
            XCTAssertEqual(r.status, signo, "\(name)\n\(r.summary)")
        }
    }

    // MARK: - 2. Every catchable signal sent to dinit

    /// Every catchable signal 1-31 that is neither a shutdown signal nor
    /// KILL, STOP, CHLD, the terminal stop signals, a synchronous fault signal
    /// or PIPE (those have their own tests) reaches every child, one at a
    /// time, and nothing stops; TERM afterwards ends the run cleanly.
    func testEveryOtherCatchableSignalForwarded() throws {
        let dir = try makeTempDir(self)
        let f = "\(dir)/got"
        let rec = try installSignalRecorder(in: dir)
        let p = try startDinit(["-d", "0.1", "-k", "2", "--"] + rec + ["a", f, "exit"] + ["--"] + rec + ["b", f, "exit"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil && recorderPid("b", in: f) != nil }, p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        let pa = recorderPid("a", in: f) ?? -1, pb = recorderPid("b", in: f) ?? -1
        let forwarded: [Int32] = [1, 10, 12, 14, 16, 18, 23, 24, 25, 26, 27, 28, 29, 30]
        for signo in forwarded {
            p.signal(signo)
            let arrived = p.waitUntil(timeout: 3) {
                signalsReceived(by: "a", in: f).contains(signo) && signalsReceived(by: "b", in: f).contains(signo)
            }
            XCTAssertTrue(arrived, "\(signalName(signo)) not seen by both children: \(readFile(f))\n\(p.stderr.text)")
            XCTAssertTrue(p.isRunning, "\(signalName(signo)) stopped dinit\n\(p.stderr.text)")
            XCTAssertTrue(isLive(pa) && isLive(pb), "\(signalName(signo)): a child is gone\n\(p.stderr.text)")
        }
        usleep(100_000)
        XCTAssertTrue(p.isRunning)
        XCTAssertFalse(p.stderr.text.contains("Stopped"), p.stderr.text)
        XCTAssertFalse(p.stderr.text.contains("exited"), p.stderr.text)
        // Each child saw exactly the signals sent, each once, in order.
        XCTAssertEqual(signalsReceived(by: "a", in: f), forwarded, readFile(f))
        XCTAssertEqual(signalsReceived(by: "b", in: f), forwarded, readFile(f))
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(signalsReceived(by: "a", in: f).last, SIGTERM, readFile(f))
        XCTAssertEqual(signalsReceived(by: "b", in: f).last, SIGTERM, readFile(f))
        XCTAssertFalse(processExists(pa) || processExists(pb), "a child survived")
    }

    /// TERM, INT and QUIT end the run; each child receives that same signal
    /// (and no other), in reverse start order.
    func testShutdownSignalsReachChildrenAndEndRun() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        for signo in [SIGTERM, SIGINT, SIGQUIT] {
            let f = "\(dir)/got-\(signo)"
            let p = try startDinit(["-d", "0.1", "-k", "2", "--"] + rec + ["a", f, "exit"] + ["--"] + rec + ["b", f, "exit"])
            XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil && recorderPid("b", in: f) != nil }, p.stderr.text)
            XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
            p.signal(signo)
            let r = p.wait(timeout: 5)
            XCTAssertFalse(r.timedOut || r.signaled, "\(signalName(signo))\n\(r.summary)")
            XCTAssertEqual(r.status, 0, "\(signalName(signo))\n\(r.summary)")
            XCTAssertEqual(signalsReceived(by: "a", in: f), [signo], "\(signalName(signo)): \(readFile(f))")
            XCTAssertEqual(signalsReceived(by: "b", in: f), [signo], "\(signalName(signo)): \(readFile(f))")
            XCTAssertEqual(signalRecords(f).map(\.tag), ["b", "a"], "\(signalName(signo)): not reverse order: \(readFile(f))")
        }
    }

    /// The synchronous-fault signals (ILL, TRAP, ABRT, BUS, FPE, SEGV, SYS)
    /// and PIPE, sent to dinit with kill(2), are catchable signals like any
    /// other (issue 6: "every catchable signal 1-31 except KILL, STOP, CHLD
    /// and the terminal stop signals is seen by a child"; they are not
    /// shutdown signals): dinit must survive them and forward them.
    ///
    /// dinit leaves the fault signals unblocked at their default action (it
    /// does not supervise them), so as an ordinary process it is killed by
    /// `kill -SEGV` & co., orphaning its children; and it ignores PIPE, so
    /// PIPE is dropped. This test fails on that behaviour. (The SwiftPM
    /// debug build differs: the Swift runtime's crash handler catches
    /// ILL/TRAP/ABRT/BUS/FPE/SEGV once, prints a crash report and returns,
    /// so dinit lives on, but SYS kills it and nothing is forwarded either.)
    func testFaultSignalsAndPIPEFromKillAreForwardedNotFatal() throws {
        try Emulation.skipIfEmulated("qemu handles SIGSEGV, SIGBUS, SIGABRT... itself as host faults: sent with kill(2) " +
            "they kill the emulator instead of reaching dinit's signalfd")
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        var leftovers: [Int32] = []
        defer { for pid in leftovers { kill(pid, SIGKILL) } }
        for signo: Int32 in [4, 5, 6, 7, 8, 11, 31, 13] {
            let f = "\(dir)/got-\(signo)"
            let p = try startDinit(["-q", "-d", "0.1", "-k", "2", "--"] + rec + ["a", f, "exit"])
            XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil }, p.stderr.text)
            let child = recorderPid("a", in: f) ?? -1
            leftovers.append(child)
            p.signal(signo)
            let seen = p.waitUntil(timeout: 1) { signalsReceived(by: "a", in: f).contains(signo) }
            // From /proc: Foundation's Process may go on reporting a child
            // killed by SIGSYS as running (seen with Swift 6.3.1).
            let alive = isLive(p.pid)
            XCTAssertTrue(alive, "\(signalName(signo)) sent with kill(2) killed dinit (its child \(child) was left " +
                          "running as an orphan: \(isLive(child)))")
            XCTAssertTrue(seen, "\(signalName(signo)) sent to dinit did not reach the child: \(readFile(f))")
            if alive {
                p.signal(SIGTERM)
                let r = p.wait(timeout: 5)
                XCTAssertFalse(r.timedOut, "\(signalName(signo))\n\(r.summary)")
                XCTAssertEqual(r.status, 0, "\(signalName(signo))\n\(r.summary)")
            } else {
                kill(child, SIGKILL)
                if p.waitUntil(timeout: 2, { !p.isRunning }) { _ = p.wait(timeout: 1) }
            }
        }
    }

    /// As PID 1 of a PID namespace, the kernel drops default-action signals
    /// sent to dinit (from inside the namespace or from its parent), so the
    /// fault signals cannot kill it there. It should still forward them (the
    /// second assertion fails while dinit does not handle them).
    func testFaultSignalsToPID1() throws {
        try Emulation.skipIfEmulated("qemu handles the fault signals (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS) " +
            "and SIGPIPE itself as host faults: sent with kill(2) to PID 1 they kill the emulator instead of reaching dinit")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs unshare")
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        let f = "\(dir)/got"
        let p = try RunningProcess("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", DinitBinary.path,
                                                        "-d", "0.1", "-k", "2", "--"] + rec + ["a", f, "exit"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil }, p.stderr.text)
        guard let dinit = descendants(of: p.pid).first(where: {
            readFile("/proc/\($0)/status").contains("NSpid:\t\($0)\t1\n")
        }) else { return XCTFail("dinit (PID 1 of the namespace) not found\n\(p.stderr.text)") }
        var notForwarded: [String] = []
        for signo: Int32 in [4, 5, 6, 7, 8, 11, 31, 13] {
            kill(dinit, signo)
            if !p.waitUntil(timeout: 0.5, { signalsReceived(by: "a", in: f).contains(signo) }) { notForwarded.append(signalName(signo)) }
            XCTAssertTrue(processExists(dinit) && isLive(dinit), "\(signalName(signo)) killed dinit as PID 1")
        }
        // Forwarding still works afterwards.
        kill(dinit, SIGHUP)
        XCTAssertTrue(p.waitUntil(timeout: 2) { signalsReceived(by: "a", in: f).contains(SIGHUP) }, readFile(f))
        kill(dinit, SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(notForwarded.isEmpty, "as PID 1, these signals sent to dinit were dropped, not forwarded: " +
                      "\(notForwarded) (child saw \(signalsReceived(by: "a", in: f)))")
    }

    // MARK: - 3. Process groups: with and without -g

    /// A shell running a background pipeline and waiting for it. HUP reaches
    /// the pipeline members only with -g (without, only the shell); the
    /// shell's trap runs at once because it waits in `wait`. On TERM the
    /// shell dies (no trap); the pipeline members get TERM either from the
    /// group signal (-g) or as orphans; nothing of the group survives.
    func testPipelineChildWithAndWithoutGroupSignals() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir).map(shQuote).joined(separator: " ")
        for group in [false, true] {
            let f = "\(dir)/pipe-\(group)"
            let script = """
                trap 'echo "sh 1" >> \(f)' HUP
                \(rec) a \(f) exit | \(rec) b \(f) exit &
                until wait; do :; done
                """
            let p = try startDinit((group ? ["-g"] : []) + ["-d", "0.1", "-k", "0.5", "--", "sh", "-c", script])
            defer { if p.isRunning { killTree(p.pid) } }
            let label = group ? "with -g" : "without -g"
            XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil && recorderPid("b", in: f) != nil },
                          "\(label)\n\(p.stderr.text)")
            guard let sh = r0(p.stderr.text) else { return XCTFail(p.stderr.text) }
            let pa = recorderPid("a", in: f)!, pb = recorderPid("b", in: f)!
            XCTAssertEqual(Set(processes(inGroup: sh).map(\.pid)), [sh, pa, pb], "\(label): the pipeline is in the shell's group")

            p.signal(SIGHUP)
            XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "sh", in: f).contains(SIGHUP) }, "\(label): shell did not get HUP")
            if group {
                XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "a", in: f) == [SIGHUP] && signalsReceived(by: "b", in: f) == [SIGHUP] },
                              "\(label): HUP did not reach the pipeline: \(readFile(f))")
            } else {
                usleep(300_000)
                XCTAssertEqual(signalsReceived(by: "a", in: f) + signalsReceived(by: "b", in: f), [], "\(label): HUP reached the pipeline")
            }
            XCTAssertTrue(p.isRunning, "\(label): HUP stopped dinit\n\(p.stderr.text)")

            p.signal(SIGTERM)
            let r = p.wait(timeout: 5)
            XCTAssertFalse(r.timedOut, "\(label)\n\(r.summary)")
            XCTAssertEqual(r.status, 15, "\(label)\n\(r.summary)")
            XCTAssertLessThan(r.elapsed, 5, r.summary)
            XCTAssertEqual(signalsReceived(by: "a", in: f).last, SIGTERM, "\(label): \(readFile(f))")
            XCTAssertEqual(signalsReceived(by: "b", in: f).last, SIGTERM, "\(label): \(readFile(f))")
            XCTAssertEqual(signalsReceived(by: "a", in: f).filter { $0 == SIGTERM }.count, 1, "\(label): \(readFile(f))")
            XCTAssertEqual(processes(inGroup: sh).map(\.pid), [], "\(label): processes of the shell's group survived dinit")
            for pid in [sh, pa, pb] { XCTAssertFalse(processExists(pid), "\(label): \(pid) survived") }
        }
    }

    /// A plain `sleep | sleep` pipeline under sh: with -g a HUP kills the
    /// whole pipeline (and so the shell: the run ends with status 1);
    /// without -g only the shell dies of it and the sleeps are collected as
    /// orphans. Either way nothing is left.
    func testPlainSleepPipelineNothingSurvives() throws {
        for group in [false, true] {
            let label = group ? "with -g" : "without -g"
            let p = try startDinit((group ? ["-g"] : []) + ["-d", "0.1", "-k", "0.5", "--", "sh", "-c", "sleep 100 | sleep 100"])
            defer { if p.isRunning { killTree(p.pid) } }
            // Both: the shell can fork its pipeline before dinit has written
            // its Started line (under an emulator dinit is that much slower).
            XCTAssertTrue(p.waitUntil(timeout: 5) { descendants(of: p.pid).count >= 3 && r0(p.stderr.text) != nil },
                          "\(label)\n\(p.stderr.text)")
            let all = descendants(of: p.pid)
            // The pipeline may be up before dinit's Started line reaches us.
            p.waitForStderr("Started")
            guard let sh = r0(p.stderr.text) else { return XCTFail("\(label)\n\(p.stderr.text)") }
            XCTAssertEqual(Set(processes(inGroup: sh).map(\.pid)), Set(all), "\(label): the pipeline is in the shell's group")
            p.signal(SIGHUP)
            let r = p.wait(timeout: 5)
            XCTAssertFalse(r.timedOut, "\(label)\n\(r.summary)")
            XCTAssertEqual(r.status, 1, "\(label): the shell dies of HUP\n\(r.summary)")
            XCTAssertLessThan(r.elapsed, 5, r.summary)
            XCTAssertEqual(processes(inGroup: sh).map(\.pid), [], "\(label): pipeline survived")
            for pid in all { XCTAssertFalse(processExists(pid), "\(label): \(pid) survived") }
            if !group {
                XCTAssertTrue(r.stderr.contains("dinit: Child \(sh) 'sh' exited with status 1"), r.summary)
            }
        }
    }

    /// Grandchildren that ignore the stop signal: a subshell with HUP and
    /// TERM ignored running `sleep`, and a recorder that survives everything
    /// but SIGKILL. The recorder sees HUP only with -g; the TERM-proof
    /// grandchildren are SIGKILLed within the kill timeout (-k 0.5) after
    /// the shell dies, and nothing survives.
    func testSignalIgnoringGrandchildWithAndWithoutGroupSignals() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir).map(shQuote).joined(separator: " ")
        for group in [false, true] {
            let label = group ? "with -g" : "without -g"
            let f = "\(dir)/gc-\(group)"
            let script = """
                trap 'echo "sh 1" >> \(f)' HUP
                (trap '' HUP TERM; exec sleep 100) &
                echo "gc ready $! 0" >> \(f)
                \(rec) c \(f) keep &
                until wait; do :; done
                """
            let p = try startDinit((group ? ["-g"] : []) + ["-d", "0.1", "-k", "0.5", "--", "sh", "-c", script])
            defer { if p.isRunning { killTree(p.pid) } }
            XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("c", in: f) != nil && recorderPid("gc", in: f) != nil },
                          "\(label)\n\(p.stderr.text)")
            let gc = recorderPid("gc", in: f)!, c = recorderPid("c", in: f)!
            XCTAssertTrue(p.waitUntil(timeout: 2) { readFile("/proc/\(gc)/comm") == "sleep\n" })
            let sh = ProcStat(pid: c)?.pgrp ?? -1

            p.signal(SIGHUP)
            XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "sh", in: f).contains(SIGHUP) }, "\(label): shell did not get HUP")
            if group {
                XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "c", in: f) == [SIGHUP] }, "\(label): \(readFile(f))")
            } else {
                usleep(300_000)
                XCTAssertEqual(signalsReceived(by: "c", in: f), [], "\(label): HUP reached the grandchild")
            }
            XCTAssertTrue(isLive(gc), "\(label): the HUP-ignoring sleep died")

            let t0 = Date()
            p.signal(SIGTERM)
            let r = p.wait(timeout: 6)
            let took = Date().timeIntervalSince(t0)
            XCTAssertFalse(r.timedOut, "\(label)\n\(r.summary)")
            XCTAssertEqual(r.status, 15, "\(label)\n\(r.summary)")
            XCTAssertLessThan(took, 2.5, "\(label): TERM-proof grandchildren not killed within the kill timeout\n\(r.summary)")
            XCTAssertTrue(signalsReceived(by: "c", in: f).contains(SIGTERM), "\(label): \(readFile(f))")
            XCTAssertTrue(r.stderr.contains("dinit: Sending SIGKILL to remaining descendants"), "\(label)\n\(r.summary)")
            XCTAssertEqual(processes(inGroup: sh).map(\.pid), [], "\(label): processes of the shell's group survived dinit")
            for pid in [sh, gc, c] { XCTAssertFalse(processExists(pid), "\(label): \(pid) survived") }
        }
    }

    // MARK: - 4. Signals are never lost

    /// TERM during a long startup delay: the run stops at once and the later
    /// commands never start.
    func testTERMDuringStartupDelay() throws {
        let dir = try makeTempDir(self)
        let never = "\(dir)/never"
        let p = try startDinit(["-d", "5", "-k", "2", "--", "sleep", "100", "--", "touch", never, "--", "sleep", "100"])
        usleep(300_000)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertLessThan(r.elapsed, 2.3, r.summary)
        XCTAssertEqual(r.status, 15, r.summary)
        XCTAssertEqual(r.startedPids.count, 1, r.summary)
        assertNeverCreated(never, r.summary)
    }

    /// TERM while a `:wait:` command runs: the command receives it, nothing
    /// further starts, the daemon before it is stopped with it too.
    func testTERMDuringWaitCommand() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        let f = "\(dir)/got", never = "\(dir)/never"
        let p = try startDinit(["-d", "0.1", "-k", "2", "--"] + rec + ["d", f, "exit"] +
                               ["--", ":wait:" + rec[0]] + rec.dropFirst() + ["w", f, "exit"] + ["--", "touch", never])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("w", in: f) != nil }, p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(signalsReceived(by: "w", in: f), [SIGTERM], readFile(f))
        XCTAssertEqual(signalsReceived(by: "d", in: f), [SIGTERM], readFile(f))
        XCTAssertEqual(signalRecords(f).map(\.tag), ["w", "d"], "stop order: \(readFile(f))")
        XCTAssertEqual(r.startedPids.count, 2, r.summary)
        assertNeverCreated(never, r.summary)
    }

    /// TERM during shutdown (a child that survives TERM, long kill timeout):
    /// the second TERM SIGKILLs at once.
    func testSecondTERMDuringShutdownKillsAtOnce() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        let f = "\(dir)/got"
        let p = try startDinit(["-d", "0.1", "-k", "20", "--", "sleep", "100", "--"] + rec + ["k", f, "keep"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("k", in: f) != nil }, p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        p.signal(SIGTERM)
        XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "k", in: f) == [SIGTERM] }, readFile(f))
        usleep(200_000)
        XCTAssertTrue(p.isRunning, "dinit should still wait for the TERM-proof child")
        let t0 = Date()
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5, r.summary)
        XCTAssertTrue(r.stderr.contains("dinit: Second shutdown signal, sending SIGKILL to every child"), r.summary)
        XCTAssertEqual(r.status, 9, r.summary)
    }

    /// 10,000 SIGUSR1 at dinit while two children that trap USR1 run: dinit
    /// survives, the children get USR1, still get signals afterwards (HUP),
    /// and TERM stops everything in reverse order.
    func testSignalStormThenOrderlyStop() throws {
        let dir = try makeTempDir(self)
        let rec = try installSignalRecorder(in: dir)
        let f = "\(dir)/got"
        let p = try startDinit(["-d", "0.1", "-k", "2", "--"] + rec + ["a", f, "exit"] + ["--"] + rec + ["b", f, "exit"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitUntil(timeout: 5) { recorderPid("a", in: f) != nil && recorderPid("b", in: f) != nil }, p.stderr.text)
        XCTAssertTrue(p.waitForStderr("Started", count: 2), p.stderr.text)
        let pa = recorderPid("a", in: f)!, pb = recorderPid("b", in: f)!
        var failures = 0
        for _ in 0..<10_000 where kill(p.pid, SIGUSR1) != 0 { failures += 1 }
        XCTAssertEqual(failures, 0)
        XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "a", in: f).contains(SIGUSR1) && signalsReceived(by: "b", in: f).contains(SIGUSR1) })
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "dinit died in the storm\n\(p.stderr.text)")
        XCTAssertTrue(isLive(pa) && isLive(pb))
        let usr1 = signalRecords(f).filter { $0.signo == SIGUSR1 }.count
        XCTAssertLessThanOrEqual(usr1, 20_000)
        p.signal(SIGHUP)
        XCTAssertTrue(p.waitUntil(timeout: 3) { signalsReceived(by: "a", in: f).contains(SIGHUP) && signalsReceived(by: "b", in: f).contains(SIGHUP) },
                      "HUP after the storm not forwarded\n\(p.stderr.text)")
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(Array(r.log.suffix(3)), [
            .stopped(pid: pb, program: rec[0], status: 0),
            .stopped(pid: pa, program: rec[0], status: 0),
            .exiting(status: 0),
        ], r.summary)
        XCTAssertEqual(r.dinitLines.filter { !$0.contains("Started") && !$0.contains("subreaper") }.count, 3,
                       "unexpected log lines\n\(r.summary)")
    }

    // MARK: - 5. Inherited signal state and descriptors

    /// dinit started by a wrapper that blocks every signal it can and ignores
    /// every one it can (but CHLD, see the next test) and leaves descriptor 5
    /// open: the children's SigBlk and SigIgn are all zeros and they see
    /// descriptors 0, 1, 2 and 5 only.
    func testChildSignalStateCleanWhenDinitInheritedBlockedAndIgnored() throws {
        try Emulation.skipIfEmulated("the blocked and ignored sets that dinit inherits, and that its children inherit, " +
            "are qemu's host state (qemu installs its own handlers and keeps signals for itself), not dinit's")
        let dir = try makeTempDir(self)
        let status = "\(dir)/status", daemonStatus = "\(dir)/daemon-status"
        let wrapper = try hsWrapper(in: dir, ignoreCHLD: false)
        let p = try RunningProcess(python3, [wrapper, DinitBinary.path, "-d", "0.1", "-k", "2",
            "--", "sleep", "100",
            "--", ":wait:sh", "-c", "cat /proc/self/status > \(status)",
            "--", ":wait:ls", "-l", "/proc/self/fd"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitForStderr("'ls' exited with status 0"), p.stderr.text)
        // Sanity check of the setup: dinit itself has HUP ignored and (as the
        // wrapper left them) the fault signals blocked.
        let own = ChildEnvironmentTests.sigFields(readFile("/proc/\(p.pid)/status"))
        XCTAssertNotEqual((own["SigIgn"] ?? 0) & 1, 0, "dinit should have inherited SIGHUP ignored")
        XCTAssertNotEqual((own["SigBlk"] ?? 0) & (1 << 10), 0, "dinit should have inherited SIGSEGV blocked")
        if let daemon = r0(p.stderr.text) {
            try? readFile("/proc/\(daemon)/status").write(toFile: daemonStatus, atomically: true, encoding: .utf8)
        }
        p.signal(SIGTERM)
        let r = p.wait(timeout: 5)
        XCTAssertEqual(r.status, 15, r.summary)
        ChildEnvironmentTests.assertClean(readFile(status), "sh child of a dinit started blocked+ignored", strict: true)
        ChildEnvironmentTests.assertClean(readFile(daemonStatus), "running daemon (sleep)", strict: true)
        let fds = ChildEnvironmentTests.fdsFromLsL(r.stdout)
        XCTAssertEqual(Set(fds.keys), [0, 1, 2, 5], r.stdout)
        XCTAssertEqual(fds[5], "/dev/null", r.stdout)
    }

    /// The same wrapper also ignoring SIGCHLD. With SIGCHLD at SIG_IGN the
    /// kernel reaps dinit's children itself, so dinit must reset it to the
    /// default before spawning: `:wait:true` must complete and the run end
    /// at once with status 0.
    func testInheritedIgnoredSIGCHLDDoesNotBreakSupervision() throws {
        try Emulation.skipIfEmulated("the test ends by checking the child's ignored set, which under qemu is qemu's " +
            "host state (host signals qemu keeps for itself stay ignored), not what dinit restored")
        let dir = try makeTempDir(self)
        let status = "\(dir)/status"
        let wrapper = try hsWrapper(in: dir, ignoreCHLD: true)
        let p = try RunningProcess(python3, [wrapper, DinitBinary.path, "-d", "0", "-k", "0.5",
            "--", ":wait:true", "--", ":wait:sh", "-c", "cat /proc/self/status > \(status)"])
        let r = p.wait(timeout: 4)
        XCTAssertFalse(r.timedOut, "dinit hung when started with SIGCHLD ignored\n\(r.summary)")
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stderr.contains("'true' exited with status 0"), r.summary)
        if r.timedOut { return }
        ChildEnvironmentTests.assertClean(readFile(status), "child of a dinit started with SIGCHLD ignored", strict: true)
    }

    /// First `Started <pid>` in a log.
    private func r0(_ log: String) -> Int32? {
        log.components(separatedBy: "Started ").dropFirst().first.flatMap { Int32($0.prefix(while: \.isNumber)) }
    }

    /// A launcher that blocks and ignores signals, keeps only 0, 1, 2 and an
    /// inheritable descriptor 5 (/dev/null), and execs its arguments.
    private func hsWrapper(in dir: String, ignoreCHLD: Bool) throws -> String {
        let path = "\(dir)/wrapper-\(ignoreCHLD).py"
        try """
        import os, signal, sys
        os.closerange(3, 1024)
        fd = os.open("/dev/null", os.O_RDONLY)
        if fd != 5:
            os.dup2(fd, 5)
            os.close(fd)
        os.set_inheritable(5, True)
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        for s in range(1, signal.SIGRTMAX + 1):
            if s in (signal.SIGKILL, signal.SIGSTOP) or (s == signal.SIGCHLD and not \(ignoreCHLD ? "True" : "False")):
                continue
            try:
                signal.signal(s, signal.SIG_IGN)
            except (OSError, ValueError):
                pass
        os.execv(sys.argv[1], sys.argv[1:])
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: - 6. Interactive use through a pseudo-terminal

    /// Tests/Hardening/pty_interactive.py: a shell as last command reads the
    /// terminal, Ctrl-C reaches it and not dinit, `exit` ends the run.
    func testInteractiveShellThroughPTY() throws {
        let script = hardeningScript("pty_interactive.py")
        XCTAssertTrue(FileManager.default.fileExists(atPath: script), script)
        let r = try runProgram(python3 == "python3" ? "/usr/bin/env" : python3,
                               (python3 == "python3" ? ["python3"] : []) + [script, DinitBinary.path], timeout: 45)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdoutLines.last == "PASS", r.summary)
    }
}

// MARK: - Regressions of issue 9 (signals)

/// Whether signal `signo` is set in a hex mask line of /proc/PID/status
/// (SigBlk, SigIgn, ...).
private func hsMaskHas(_ pid: Int32, _ key: String, _ signo: Int32) -> Bool? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix(key + ":") {
        guard let mask = UInt64(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
        return mask & (UInt64(1) << UInt64(signo - 1)) != 0
    }
    return nil
}

/// dinit as PID 1 of a fresh PID namespace: the unshare process and dinit's
/// pid as we see it.
private func hsLaunchPID1(_ args: [String]) throws -> (RunningProcess, Int32?) {
    let p = try RunningProcess("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", DinitBinary.path] + args)
    // unshare's only child, by PID (see launchedDinit): dinit, or the
    // emulator running it.
    var dinit: Int32?
    p.waitUntil(timeout: 5) {
        dinit = launchedDinit(by: p.pid)
        return dinit != nil
    }
    return (p, dinit)
}

final class HardeningSignalRegressionTests: XCTestCase {
    private var unshareOK: Bool { ReapingTests.unshareAvailable }

    /// Issue 9.1: 32, 33 and 34 (the libc's own real-time signals, which
    /// sigaddset refuses and glibc's sigprocmask drops) are blocked like
    /// every supervised signal (SigBlk) and forwarded, not fatal to dinit:
    /// the child dies of the signal and dinit reports it.
    func testLibcReservedRealtimeSignalsBlockedAndForwarded() throws {
        try Emulation.skipIfEmulated("host signals 32-34 belong to the emulator itself (its own libc's internal signals; " +
            "qemu maps the guest's onto others), and the SigBlk in /proc is qemu's host mask, not dinit's")
        for signo: Int32 in [32, 33, 34] {
            // Under a shell that reports dinit's status: Foundation's Process
            // cannot report a death by signal 32 or above.
            let p = try RunningProcess("/bin/sh", ["-c", "\"$0\" \"$@\"; echo \"dinit status $?\"",
                                                   DinitBinary.path, "-k", "2", "--", "sleep", "30"])
            defer { if p.isRunning { killTree(p.pid) } }
            XCTAssertTrue(p.waitForStderr("Started"), p.stderr.text)
            // The shell's only child, by PID (see launchedDinit).
            guard let dinit = launchedDinit(by: p.pid) else { return XCTFail("dinit not found") }
            let unblocked = [32, 33, 34, 35, SIGTERM, SIGUSR1].filter { hsMaskHas(dinit, "SigBlk", $0) != true }
            guard unblocked.isEmpty else {
                // Sending it would kill dinit (and a death by 34 once took
                // the test runner down with an EINTR in Foundation).
                return XCTFail("signals not blocked by dinit: \(unblocked)")
            }
            kill(dinit, signo)
            let r = p.wait(timeout: 5)
            XCTAssertFalse(r.timedOut, "signal \(signo) was dropped\n\(r.summary)")
            XCTAssertEqual(r.stdoutLines.last, "dinit status \(signo)", "signal \(signo) (128 + n: it killed dinit)\n\(r.summary)")
            XCTAssertTrue(r.stderr.contains("' exited with status \(signo)"), r.summary)
        }
    }

    /// Issue 9.1 as PID 1: 32-34 used to be dropped (unblocked, default
    /// disposition). Now forwarded: the child dies of it and dinit exits
    /// with that status.
    func testLibcReservedRealtimeSignalsForwardedAsPID1() throws {
        try Emulation.skipIfEmulated("host signals 32-34 belong to the emulator itself (its own libc's internal signals; " +
            "qemu maps the guest's onto others), and the SigBlk in /proc is qemu's host mask, not dinit's")
        try XCTSkipUnless(unshareOK, "unshare --pid --fork --mount-proc not usable")
        for signo: Int32 in [32, 33, 34] {
            let (p, d) = try hsLaunchPID1(["-qq", "-k", "2", "--", "sleep", "30"])
            defer { if p.isRunning { killTree(p.pid) } }
            guard let dinit = d else { return XCTFail("dinit not found in the namespace") }
            XCTAssertTrue(p.waitUntil(timeout: 5) { !descendants(of: dinit).isEmpty })
            XCTAssertEqual(hsMaskHas(dinit, "SigBlk", signo), true, "signal \(signo) not blocked by PID 1")
            kill(dinit, signo)
            let r = p.wait(timeout: 5)
            XCTAssertFalse(r.timedOut, "signal \(signo) to PID 1 was dropped\n\(r.summary)")
            XCTAssertEqual(r.status, signo, r.summary)
        }
    }

    /// Issue 9.5: every supervised signal is blocked first thing in main,
    /// before the command line is even copied. With 40,000 commands the
    /// parse takes long enough to catch dinit with its signals blocked but
    /// no signalfd yet (which never happened when blocking was part of the
    /// reactor's set-up, right before the signalfd was made). A signal sent
    /// at that moment is kept pending: a SIGUSR1 to a subreaper dinit is not
    /// fatal (it is forwarded to the child, which dies of it), a SIGTERM to
    /// PID 1 is not dropped by the kernel (it stops the run).
    func testSignalsDuringArgumentParsingArePendingNotLost() throws {
        try Emulation.skipIfEmulated("qemu takes every host signal itself and queues it for the guest, and the SigBlk in /proc " +
            "is qemu's host mask: 'blocked, no signalfd yet' cannot be observed or hit from outside")
        var modes = ["subreaper"]
        if unshareOK { modes.append("PID 1") }
        var args = ["-k", "3", "--", "sleep", "30"]
        for _ in 0..<40_000 { args += ["--", ":wait:true"] }
        func isDinit(_ pid: Int32) -> Bool {
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.hasPrefix("dinit") == true
        }
        for mode in modes {
            // A loaded machine may deschedule the poller past the window:
            // up to five launches (none catches it when blocking comes late).
            var caught = false
            for _ in 0..<5 where !caught {
                let p: RunningProcess
                if mode == "PID 1" {
                    p = try RunningProcess("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", DinitBinary.path] + args)
                } else {
                    p = try startDinit(args)
                }
                defer { if p.isRunning { killTree(p.pid) } }
                // Busy-poll: dinit exec'd (not the spawner's child before
                // exec, which has every signal blocked), USR1 blocked, no
                // signalfd yet.
                var target: Int32?
                var missed = false
                let end = Date().addingTimeInterval(10)
                while Date() < end, p.isRunning, !caught, !missed {
                    if target == nil {
                        target = mode == "PID 1" ? descendants(of: p.pid).first(where: isDinit) : (isDinit(p.pid) ? p.pid : nil)
                    }
                    guard let d = target, hsMaskHas(d, "SigBlk", SIGUSR1) == true else { continue }
                    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(d)/fd")) ?? []
                    missed = fds.contains {
                        ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(d)/fd/\($0)")) ?? "")
                            .contains("signalfd")
                    }
                    if missed { break }
                    kill(d, mode == "PID 1" ? SIGTERM : SIGUSR1)
                    caught = true
                }
                if !caught {
                    killTree(p.pid)
                    _ = p.wait(timeout: 5)
                    continue
                }
                let r = p.wait(timeout: 15)
                XCTAssertFalse(r.timedOut, "\(mode): the early signal was lost\n\(String(r.summary.suffix(800)))")
                XCTAssertFalse(r.signaled, "\(mode): an early signal killed dinit\n\(String(r.summary.suffix(800)))")
                // Forwarded once the reactor runs: sleep dies of it.
                XCTAssertEqual(r.status, mode == "PID 1" ? SIGTERM : SIGUSR1, "\(mode)\n\(String(r.summary.suffix(800)))")
            }
            XCTAssertTrue(caught, "\(mode): never saw dinit with its signals blocked before its set-up (5 launches)")
        }
    }

    /// Issue 9.6: started with 0, 1 and 2 closed, dinit puts /dev/null on
    /// them before it opens anything, so its own descriptors do not land
    /// there and its children start with stdio.
    func testClosedStandardDescriptorsGetDevNull() throws {
        let dir = try makeTempDir(self)
        let out = "\(dir)/fds"
        let probe = try writeStandardDescriptorProbe(in: dir)
        let cmd = "exec \(shQuote(DinitBinary.path)) -d 0 -- :wait:\(hsPython) \(probe) \(out) 0<&- 1>&- 2>&-"
        let r = try runProgram("/bin/sh", ["-c", cmd], timeout: 10)
        XCTAssertEqual(r.status, 0, r.summary)
        let got = lines(readFile(out))
        XCTAssertEqual(got, Array(repeating: "/dev/null", count: 6), "child's and dinit's fds 0-2:\n\(readFile(out))")
    }

    /// Issue 9.7: a child stopped with SIGSTOP gets SIGCONT right after its
    /// stop signal, so it runs its TERM handler and exits cleanly instead of
    /// being SIGKILLed after kill_timeout; with -g the whole stopped group.
    func testStoppedChildIsContinuedAfterItsStopSignal() throws {
        for group in [false, true] {
            let dir = try makeTempDir(self)
            let ready = "\(dir)/ready", clean = "\(dir)/clean"
            let script = "trap 'echo clean > \(clean); exit 0' TERM; echo $$ > \(ready); while :; do sleep 0.05; done"
            let p = try startDinit((group ? ["-g"] : []) + ["-k", "3", "--", "sh", "-c", script])
            defer { if p.isRunning { killTree(p.pid) } }
            XCTAssertTrue(p.waitUntil(timeout: 5) { Int32(readFile(ready).trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
            guard let child = Int32(readFile(ready).trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
            kill(group ? -child : child, SIGSTOP)
            XCTAssertTrue(p.waitUntil(timeout: 3) { hsStat(child)?.first == "T" }, "child did not stop")
            p.signal(SIGTERM)
            let r = p.wait(timeout: 10)
            XCTAssertFalse(r.stderr.contains("sending SIGKILL"), "group \(group)\n\(r.summary)")
            XCTAssertEqual(r.log.last, .exiting(status: 0), "group \(group)\n\(r.summary)")
            XCTAssertTrue(r.log.contains(.stopped(pid: child, program: "sh", status: 0)), "group \(group)\n\(r.summary)")
            XCTAssertEqual(readFile(clean), "clean\n", "the TERM handler did not run (group \(group))")
        }
    }

    /// Issue 9.2: a shutdown dinit started itself (a daemon exited) is not
    /// "requested" yet, so the first SIGTERM received during it (docker
    /// stop) must not SIGKILL everything: the graceful daemon still gets
    /// SIGTERM and exits cleanly. Only a second received signal kills all.
    func testFirstSignalDuringSelfStartedShutdownIsNotASecondOne() throws {
        let dir = try makeTempDir(self)
        let clean = "\(dir)/clean"
        let graceful = "trap 'sleep 1; echo clean > \(clean); exit 0' TERM; while :; do sleep 0.05; done"
        let p = try startDinit(["-d", "0", "-k", "10", "--", "sh", "-c", graceful, "--", "sh", "-c", "sleep 0.5; exit 3"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitForStderr("exited with status 3"), p.stderr.text)
        usleep(100_000)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 10)
        XCTAssertFalse(r.stderr.contains("Second shutdown signal"), r.summary)
        XCTAssertFalse(r.stderr.contains("sending SIGKILL"), r.summary)
        XCTAssertEqual(readFile(clean), "clean\n", "the graceful daemon was not stopped gracefully\n\(r.summary)")
        XCTAssertTrue(r.log.contains { if case .stopped(_, "sh", 0) = $0 { return true }; return false }, r.summary)
        XCTAssertEqual(r.status, 3, r.summary)

        // A second signal received still kills at once.
        let q = try startDinit(["-d", "0", "-k", "10", "--", "sh", "-c", graceful, "--", "sh", "-c", "sleep 0.5; exit 3"])
        defer { if q.isRunning { killTree(q.pid) } }
        XCTAssertTrue(q.waitForStderr("exited with status 3"), q.stderr.text)
        usleep(100_000)
        q.signal(SIGTERM)
        usleep(200_000)
        q.signal(SIGTERM)
        let r2 = q.wait(timeout: 10)
        XCTAssertTrue(r2.stderr.contains("dinit: Second shutdown signal, sending SIGKILL to every child"), r2.summary)
        XCTAssertEqual(r2.status, 3, r2.summary)
    }
}
