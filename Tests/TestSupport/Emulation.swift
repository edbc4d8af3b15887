import Foundation
import XCTest

/// Whether DINIT_BIN and DCROND_BIN run under a user-mode emulator
/// (`DINIT_UNDER_QEMU=1`, set by CI for the aarch64 binaries under
/// qemu-user on x86_64). The emulated process has the PID of the program,
/// but the emulator's name (comm, exe), and qemu owns the host's signal
/// handling: it keeps host signals for itself, turns a fault signal sent
/// with kill(2) into a fault of its own, and what a child inherits as
/// blocked or ignored is qemu's host state, not dinit's. Tests that depend
/// on those call `Emulation.skipIfEmulated` with the reason; everything else
/// runs unchanged. Tests find dinit by PID, never by process name.
public enum Emulation {
    public static let active = ProcessInfo.processInfo.environment["DINIT_UNDER_QEMU"] == "1"

    public static func skipIfEmulated(_ reason: String) throws {
        if active {
            throw XCTSkip("under qemu-user (DINIT_UNDER_QEMU=1): \(reason); only real hardware can show this")
        }
    }
}

/// dinit's PID when a launcher that forks exactly one child runs it
/// (`unshare --fork`, `strace`, Tests/Hardening/subreaper_wrapper.py): the
/// launcher's only child. Found by PID, not by name: under an emulator the
/// process is named after the emulator, and a wrapper script that execs
/// dinit keeps its PID. nil if the launcher has no single child.
public func launchedDinit(by launcher: Int32) -> Int32? {
    let c = children(of: launcher)
    return c.count == 1 ? c[0] : nil
}
