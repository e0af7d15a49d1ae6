#if canImport(Glibc)
import Glibc
#endif

/// The scheduling priority of the calling thread, raised while it runs work every other thread
/// of the coordinator ends up waiting for: the store's single writer, and the ledger poster
/// that feeds it. On a busy machine these threads otherwise get the same share of the CPUs as
/// rating, sessions and API handlers, which only add to the queue in front of them.
///
/// Linux keeps a nice value per thread; `setpriority(PRIO_PROCESS, 0, …)` changes the calling
/// thread's. Raising priority needs `CAP_SYS_NICE` (root, or a container run with
/// `--cap-add SYS_NICE`); without it the call fails and the thread keeps the priority it had,
/// which changes nothing but the speed. Threads come from shared pools, so the old value is
/// put back when the work ends.
public enum ThreadPriority {
    /// The nice value the writer and the poster ask for (the default is 0; −20 is the highest).
    public static let critical: Int32 = -10

    /// The calling thread's nice value, or nil if it cannot be read.
    public static var current: Int32? {
        #if os(Linux)
        errno = 0
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        return errno == 0 ? nice : nil
        #else
        return nil
        #endif
    }

    /// Runs `body` with the calling thread's nice value at `nice` when it is allowed to.
    public static func raised<T>(to nice: Int32 = critical, _ body: () throws -> T) rethrows -> T {
        #if os(Linux)
        let previous = current
        let changed = previous.map { $0 > nice } == true && setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) == 0
        defer { if changed, let previous { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, previous) } }
        #endif
        return try body()
    }
}
