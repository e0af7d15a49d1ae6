#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization

/// A product binary (coordinator, agent) started by a benchmark, with its output in a log file.
/// Spawned in its own process group so that a Ctrl-C reaches the benchmark first, which then
/// stops its children in order; `ChildReaper` makes sure none outlives the benchmark.
final class ChildProcess: Sendable {
    let pid: pid_t
    let name: String
    let logPath: String
    private let exitStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t, name: String, logPath: String) {
        self.pid = pid
        self.name = name
        self.logPath = logPath
    }

    /// `outputDescriptor`, when given, becomes the child's stdout and stderr instead of
    /// `logPath` (a pipe the benchmark reads, to timestamp lines as they come).
    static func spawn(
        _ executable: String, arguments: [String], logPath: String, reaper: ChildReaper, outputDescriptor: Int32? = nil
    ) throws(BenchError) -> ChildProcess {
        guard access(executable, X_OK) == 0 else {
            throw BenchError.setup("\(executable) is not an executable file; build it first (Benchmarks/run.sh builds release binaries)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputDescriptor {
            posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envBuffer in
                posix_spawn(
                    &pid, executable, &actions, &attributes,
                    UnsafeMutablePointer(mutating: argvBuffer.baseAddress!),
                    UnsafeMutablePointer(mutating: envBuffer.baseAddress!))
            }
        }
        guard result == 0 else {
            throw BenchError.setup("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        let child = ChildProcess(pid: pid, name: (executable as NSString).lastPathComponent, logPath: logPath)
        reaper.adopt(child)
        return child
    }

    /// True once the process has exited (and been reaped).
    var hasExited: Bool {
        exitStatus.withLock { status in
            if status != nil { return true }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) {
                status = raw
                return true
            }
            return false
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`. Blocking (polls every 20 ms):
    /// it also runs from the signal handler, where nothing may be awaited.
    func stopNow(grace: Duration = .seconds(10)) {
        guard !hasExited else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if hasExited { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        while !hasExited { usleep(10_000) }
    }

    /// The same, without blocking a concurrency thread.
    func stop(grace: Duration = .seconds(10)) async {
        guard !hasExited else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if hasExited { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        while !hasExited { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// The last `lines` lines of the process's output, for error messages.
    func logTail(lines: Int = 20) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no output)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Stops every child on exit, on errors, and on SIGINT/SIGTERM/SIGHUP. When the environment
/// names a file in `ESTUARY_BENCH_PIDS`, each child's pid is appended to it so that
/// Benchmarks/run.sh can clean up even after the benchmark itself was killed.
final class ChildReaper: Sendable {
    private let children: ChildList
    /// Kept so that the signal sources stay alive as long as the reaper.
    private let sources: Mutex<[any DispatchSourceSignal]>

    /// Takes over SIGINT, SIGTERM and SIGHUP: stop the children, then exit 130.
    init() {
        let children = ChildList()
        var made: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("estuary-bench: interrupted; stopping child processes\n".utf8))
                children.stopAllNow()
                children.runCleanups()
                exit(130)
            }
            source.resume()
            made.append(source)
        }
        self.children = children
        self.sources = Mutex(made)
    }

    func adopt(_ child: ChildProcess) {
        children.add(child)
        if let path = ProcessInfo.processInfo.environment["ESTUARY_BENCH_PIDS"], !path.isEmpty {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            if let handle = FileHandle(forWritingAtPath: path) {
                handle.seekToEndOfFile()
                handle.write(Data("\(child.pid)\n".utf8))
                try? handle.close()
            }
        }
    }

    func stopAll() async { await children.stopAll() }

    /// Runs `action` if the benchmark is interrupted (after the children are stopped), for
    /// state outside the process such as firewall rules; the benchmark undoes it itself on a
    /// normal end.
    func onInterrupt(_ action: @escaping @Sendable () -> Void) { children.addCleanup(action) }
}

private final class ChildList: Sendable {
    private let children = Mutex<[ChildProcess]>([])
    private let cleanups = Mutex<[@Sendable () -> Void]>([])

    func add(_ child: ChildProcess) { children.withLock { $0.append(child) } }

    func addCleanup(_ action: @escaping @Sendable () -> Void) { cleanups.withLock { $0.append(action) } }

    func runCleanups() {
        for action in cleanups.withLock({ $0 }) { action() }
    }

    func stopAllNow() {
        for child in children.withLock({ $0 }).reversed() { child.stopNow(grace: .seconds(5)) }
    }

    func stopAll() async {
        for child in children.withLock({ $0 }).reversed() { await child.stop() }
    }
}

/// Why a benchmark could not run or finish.
enum BenchError: Error, CustomStringConvertible {
    case setup(String)
    case failed(String)

    var description: String {
        switch self {
        case .setup(let message): "cannot set up the benchmark: \(message)"
        case .failed(let message): "benchmark failed: \(message)"
        }
    }
}

/// Runs `body` with a reaper whose children are stopped however `body` ends.
func withChildProcesses<Result>(_ body: (ChildReaper) async throws -> Result) async throws -> Result {
    let reaper = ChildReaper()
    do {
        let result = try await body(reaper)
        await reaper.stopAll()
        return result
    } catch {
        await reaper.stopAll()
        throw error
    }
}
