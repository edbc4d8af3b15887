import Foundation

/// Where a binary under test is: `$<env>` if set, else `<name>` next to the
/// test bundle (SwiftPM puts the executables and the bundle in
/// `.build*/debug/`).
private func locateBinary(_ name: String, env: String) -> String {
    if let v = ProcessInfo.processInfo.environment[env], !v.isEmpty {
        return v
    }
    var candidates: [URL] = []
    let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(arg0.deletingLastPathComponent())
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
    candidates.append(Bundle.main.bundleURL)
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    for dir in candidates {
        let p = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return candidates[0].appendingPathComponent(name).path
}

/// The dinit binary under test: `$DINIT_BIN`, else the SwiftPM-built one.
public enum DinitBinary {
    public static let path = locateBinary("dinit", env: "DINIT_BIN")
}

/// The dcrond binary under test: `$DCROND_BIN`, else the SwiftPM-built one.
public enum DcrondBinary {
    public static let path = locateBinary("dcrond", env: "DCROND_BIN")
}

/// `Tests/Hardening/`, the helper scripts' folder (found from this source
/// file's path: Tests/TestSupport/ is its sibling).
public let hardeningScriptDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Hardening").path
}()

/// A helper script of `Tests/Hardening/`.
public func hardeningScript(_ name: String) -> String {
    hardeningScriptDirectory + "/" + name
}

/// A Python interpreter for the helper scripts: the system one (fast to
/// start), else whatever `python3` PATH finds.
public let python3: String = {
    for p in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) {
        return p
    }
    return "python3"
}()

/// `unshare --pid --fork --mount-proc`: a fresh PID namespace whose PID 1 is
/// the program after it.
public enum PIDNamespace {
    public static let unshare = "/usr/bin/unshare"
    public static let unshareArguments = ["--pid", "--fork", "--mount-proc"]

    /// Whether that works here (it needs root).
    public static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: unshare) else { return false }
        let p = try? RunningProcess(unshare, unshareArguments + ["/bin/true"])
        return p?.wait(timeout: 5).status == 0
    }()
}
