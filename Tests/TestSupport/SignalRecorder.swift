import Foundation

/// A child that records every signal it receives: each one appends
/// "<tag> <signo>" to the output file. It announces itself with
/// "<tag> ready <pid> <pgrp>". Modes: `exit` exits 0 right after recording
/// TERM, INT or QUIT; `keep` never exits on a signal (it survives TERM: only
/// SIGKILL ends it).
private let signalRecorderSource = """
import os, signal, sys
tag, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
def rec(signo, frame):
    os.write(fd, ("%s %d\\n" % (tag, signo)).encode())
    if mode == "exit" and signo in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        os._exit(0)
for s in range(1, 32):
    if s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
        continue
    signal.signal(s, rec)
os.write(fd, ("%s ready %d %d\\n" % (tag, os.getpid(), os.getpgrp())).encode())
while True:
    signal.pause()
"""

/// Writes the signal recorder into `dir`; returns the argv prefix to run it
/// (append tag, output file, mode).
public func installSignalRecorder(in dir: String) throws -> [String] {
    let path = "\(dir)/recorder.py"
    try signalRecorderSource.write(toFile: path, atomically: true, encoding: .utf8)
    return [python3, path]
}

/// Lines "<tag> <signo>" recorded so far, as (tag, signo) pairs.
public func signalRecords(_ file: String) -> [(tag: String, signo: Int32)] {
    lines(readFile(file)).compactMap { l in
        let parts = l.split(separator: " ")
        guard parts.count == 2, let n = Int32(parts[1]) else { return nil }
        return (String(parts[0]), n)
    }
}

/// The signals the recorder tagged `tag` received, in order.
public func signalsReceived(by tag: String, in file: String) -> [Int32] {
    signalRecords(file).filter { $0.tag == tag }.map(\.signo)
}

/// The pid of the recorder tagged `tag`, from its ready line.
public func recorderPid(_ tag: String, in file: String) -> Int32? {
    for l in lines(readFile(file)) {
        let parts = l.split(separator: " ")
        if parts.count == 4, parts[0] == tag, parts[1] == "ready" { return Int32(parts[2]) }
    }
    return nil
}

/// Linux signal names without the SIG prefix, by number.
public let signalNames: [Int32: String] = [
    1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL",
    10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT",
    17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG",
    24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS",
]

/// "SIGTERM" for 15.
public func signalName(_ signo: Int32) -> String { "SIG" + (signalNames[signo] ?? "\(signo)") }
