/// Linux signal numbers, the same on every architecture dinit targets
/// (x86_64, aarch64) and in every libc. Spelled out so that the pure core
/// needs no libc import.
public enum SignalNumber {
    public static let hup: Int32 = 1
    public static let int: Int32 = 2
    public static let quit: Int32 = 3
    public static let kill: Int32 = 9
    public static let usr1: Int32 = 10
    public static let pipe: Int32 = 13
    public static let term: Int32 = 15
    public static let cont: Int32 = 18
    public static let stop: Int32 = 19
    public static let chld: Int32 = 17

    /// The signals that start an orderly shutdown.
    @inlinable
    public static func isShutdown(_ signo: Int32) -> Bool {
        signo == term || signo == int || signo == quit
    }
}

/// errno values the core reasons about (Linux numbering).
public enum ErrnoValue {
    public static let enoent: Int32 = 2
}

public enum KillGrace {
    /// The least time allowed for a SIGKILLed process to be reaped before it
    /// is given up on (uninterruptible sleep), whatever the kill timeout.
    public static let minimum: Nanoseconds = 1_000_000_000

    /// The wait after SIGKILL for a given kill timeout.
    public static func after(_ killTimeout: Nanoseconds) -> Nanoseconds {
        max(killTimeout, minimum)
    }
}
