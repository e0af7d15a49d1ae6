#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock and monotonic readings for the process driver (outside the pure cores, which
/// take time as an argument).
public enum SystemTime {
    /// Unix epoch milliseconds.
    public static func wallMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Milliseconds since an arbitrary point; never goes backwards.
    public static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
