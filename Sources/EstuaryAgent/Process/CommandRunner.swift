import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed and how it ended.
public struct CommandResult: Sendable, Hashable {
    public enum Ending: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        /// Killed by the runner after its time limit.
        case timedOut(Duration)

        public var description: String {
            switch self {
            case .exited(let code): "exited with code \(code)"
            case .signalled(let signal): "was killed by signal \(signal)"
            case .timedOut(let limit): "did not finish within \(limit) and was killed"
            }
        }
    }

    public var ending: Ending
    public var stdout: String
    public var stderr: String

    public var succeeded: Bool { ending == .exited(0) }

    /// The first non-empty line of stderr (or stdout), for messages.
    public var firstErrorLine: String {
        let text = stderr.contains(where: { !$0.isWhitespace }) ? stderr : stdout
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
    }
}

/// Why a command could not be run at all.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public var program: String
    public var reason: String
    /// The errno of a failed start (`ENOENT`: no such program), if that is what failed.
    public var errno: Int32?
    public var description: String { "cannot run \(program): \(reason)" }
}

/// Runs short-lived commands (`sbatch`, `squeue` …) with a time limit, capturing their output.
/// Each command waits on a thread of its own, never on the cooperative pool: a hung Slurm
/// controller stalls the command, not the agent.
public enum CommandRunner {
    /// Largest output kept per stream; the rest is read and dropped (a runaway tool cannot
    /// exhaust memory, and never blocks on a full pipe).
    public static let maxOutputBytes = 64 << 20

    private static let spawnLock = NSLock()

    public static func run(
        _ arguments: [String], environment: [String: String], timeout: Duration
    ) async throws(CommandError) -> CommandResult {
        let outcome: Result<CommandResult, CommandError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(CommandError) in
                    try runBlocking(arguments, environment: environment, timeout: timeout)
                })
            }
        }
        return try outcome.get()
    }

    /// The blocking core of ``run(_:environment:timeout:)``.
    static func runBlocking(_ arguments: [String], environment: [String: String], timeout: Duration) throws(CommandError) -> CommandResult {
        let program = arguments.first ?? ""
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        // Swift's Glibc hides pipe2; pipe + FD_CLOEXEC under a lock, so that no other command
        // started here inherits this one's pipe ends (which would hold its output open).
        let spawned: Result<pid_t, CommandError> = spawnLock.withLock {
            guard pipe(&outPipe) == 0 else { return .failure(CommandError(program: program, reason: String(cString: strerror(errno)))) }
            guard pipe(&errPipe) == 0 else {
                close(outPipe[0]); close(outPipe[1])
                return .failure(CommandError(program: program, reason: String(cString: strerror(errno))))
            }
            for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            do throws(SpawnError) {
                return .success(
                    try Spawner.spawn(
                        SpawnRequest(
                            arguments: arguments, environment: environment.map { "\($0.key)=\($0.value)" }.sorted(),
                            newProcessGroup: true, stdoutFD: outPipe[1], stderrFD: errPipe[1])))
            } catch {
                for fd in outPipe + errPipe { close(fd) }
                return .failure(CommandError(program: program, reason: String(cString: strerror(error.errno)), errno: error.errno))
            }
        }
        let pid = try spawned.get()
        close(outPipe[1])
        close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }

        let deadline = ContinuousClock.now + timeout
        var out: [UInt8] = []
        var err: [UInt8] = []
        var open = [true, true]
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open[0] || open[1] {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                timedOut = true
                break
            }
            var fds = [
                pollfd(fd: open[0] ? outPipe[0] : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open[1] ? errPipe[0] : -1, events: Int16(POLLIN), revents: 0),
            ]
            let waitMs = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&fds, 2, min(waitMs, 1000))
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<2 where open[index] && fds[index].revents != 0 {
                let fd = index == 0 ? outPipe[0] : errPipe[0]
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if index == 0 {
                        if out.count < maxOutputBytes { out.append(contentsOf: buffer[0..<count]) }
                    } else if err.count < maxOutputBytes {
                        err.append(contentsOf: buffer[0..<count])
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[index] = false
                }
            }
        }
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let ending: CommandResult.Ending
        if timedOut {
            ending = .timedOut(timeout)
        } else if status & 0x7f == 0 {
            ending = .exited((status >> 8) & 0xff)
        } else {
            ending = .signalled(status & 0x7f)
        }
        return CommandResult(ending: ending, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}
