import CLinuxSys

public enum MonotonicClock {
    /// Now, in nanoseconds of CLOCK_MONOTONIC.
    @inline(__always)
    public static func now() -> Int64 { cls_monotonic_ns() }
}
