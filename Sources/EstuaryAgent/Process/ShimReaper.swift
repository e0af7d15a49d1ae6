#if canImport(Glibc)
import Glibc
#endif

/// The shims this agent process spawned (its children) and how the ones that ended exited.
///
/// A shim that exits stays a zombie until its parent waits for it, so every child is polled
/// with `waitpid(WNOHANG)` on each watcher tick (`reap()`) and dropped once reaped. Only this
/// type waits for shims, so the exit status is never lost to another `waitpid`; until a child
/// is reaped its pid cannot be reused, so "our child, not yet reaped" proves the shim is alive
/// even before it has exec'd.
struct ShimReaper {
    /// How a child shim ended.
    enum Exit: Equatable, CustomStringConvertible {
        case exited(code: Int32)
        case signaled(Int32)
        /// Reaped by someone else (ECHILD): the status is unknown.
        case unknown

        init(waitStatus: Int32) {
            let signal = waitStatus & 0x7f
            self = signal == 0 ? .exited(code: (waitStatus >> 8) & 0xff) : .signaled(signal)
        }

        var description: String {
            switch self {
            case .exited(let code): "exited with code \(code)"
            case .signaled(let signal): "was killed by signal \(signal)"
            case .unknown: "ended (exit status unknown)"
            }
        }
    }

    /// Spawned by this process and not reaped yet.
    private(set) var running: Set<Int32> = []
    /// Reaped children whose exit has not been consumed by `takeExit` yet.
    private var exits: [Int32: Exit] = [:]

    mutating func spawned(_ pid: Int32) {
        guard pid > 0 else { return }
        running.insert(pid)
        exits[pid] = nil
    }

    /// Waits (without blocking) for every running child; remembers the exits of those that ended.
    mutating func reap() {
        for pid in running {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                running.remove(pid)
                exits[pid] = Exit(waitStatus: status)
            } else if result < 0, errno == ECHILD {
                running.remove(pid)
                exits[pid] = .unknown
            }
            // 0: still running; EINTR: try again next tick.
        }
    }

    /// Whether `pid` is a child of this process that has not been reaped: it is alive (or a
    /// zombie that the next `reap()` collects).
    func isRunningChild(_ pid: Int32) -> Bool { running.contains(pid) }

    /// Whether `pid` is or was a child of this process (running, or reaped and not consumed).
    func isChild(_ pid: Int32) -> Bool { running.contains(pid) || exits[pid] != nil }

    /// The exit of a reaped child, forgotten once taken.
    mutating func takeExit(_ pid: Int32) -> Exit? { exits.removeValue(forKey: pid) }

    /// Forgets the exits of children no active job refers to (their jobs were reported from
    /// `status.json`).
    mutating func discardExits(except pids: Set<Int32>) {
        exits = exits.filter { pids.contains($0.key) }
    }
}
