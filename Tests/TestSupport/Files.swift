import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory, removed at the end of the test.
public func makeTempDir(_ test: XCTestCase) throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("dinit-integ-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// A file's text, or nil if it cannot be opened. Plain read(2): cheap
/// enough to scan /proc often.
public func readFileIfPresent(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

/// A file's text, "" if it cannot be read.
public func readFile(_ path: String) -> String {
    readFileIfPresent(path) ?? ""
}

/// The non-empty lines of `s`.
public func lines(_ s: String) -> [String] {
    s.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// How often `needle` occurs in `s`.
public func occurrences(of needle: String, in s: String) -> Int {
    s.components(separatedBy: needle).count - 1
}

/// The pid a test's shell wrote into `file` (`echo $! > file`), if any.
public func pidRecorded(in file: String) -> Int32? {
    Int32(readFile(file).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// After `settle` seconds `path` still does not exist: the command that
/// would have created it never started.
public func assertNeverCreated(_ path: String, settle: TimeInterval = 0.1, _ message: @autoclosure () -> String,
                               file: StaticString = #filePath, line: UInt = #line) {
    usleep(UInt32(settle * 1_000_000))
    XCTAssertFalse(FileManager.default.fileExists(atPath: path), message(), file: file, line: line)
}

/// Single-quotes a string for /bin/sh.
public func shQuote(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
