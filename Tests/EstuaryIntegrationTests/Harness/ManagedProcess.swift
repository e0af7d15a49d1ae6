import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One of our binaries started as a child process, its stdout and stderr captured to files.
///
/// Started with `posix_spawn` and reaped with `waitpid(WNOHANG)` by polling, not with
/// Foundation's `Process`: that one learns of a child's exit through a descriptor the child
/// inherits, so it misses the exit while any grandchild (a job shim) still holds that descriptor.
/// Each process gets its own process group. A `TestBed` owns every `ManagedProcess` it starts
/// and kills the ones still running when the test ends.
final class ManagedProcess: Sendable {
    let name: String
    let executable: String
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String
    let pid: pid_t
    /// The raw wait status once reaped.
    private let waitStatus = Mutex<Int32?>(nil)

    struct SpawnFailed: Error, CustomStringConvertible {
        var executable: String
        var code: Int32
        var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    init(name: String, executable: String, arguments: [String], environment: [String: String], logDirectory: String) throws {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.stdoutPath = "\(logDirectory)/\(name).stdout"
        self.stderrPath = "\(logDirectory)/\(name).stderr"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing of the test process (its sockets, pipes) leaks into the binaries under test.
        Self.closeFrom3(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let code = Self.withCStrings([executable] + arguments) { argv in
            Self.withCStrings(environment) { envp in posix_spawn(&child, executable, &actions, &attributes, argv, envp) }
        }
        guard code == 0 else { throw SpawnFailed(executable: executable, code: code) }
        pid = child
    }

    /// `posix_spawn_file_actions_addclosefrom_np(actions, 3)` (glibc 2.34+), looked up at run
    /// time because Glibc's module map does not export it.
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }

    /// Reaps the child if it has exited; returns the raw wait status then.
    private func reap() -> Int32? {
        waitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { known = status }
            return known
        }
    }

    var isRunning: Bool { reap() == nil }

    /// The exit code, or 128 + the signal that ended the process; nil while it runs.
    var terminationStatus: Int32? {
        guard let status = reap() else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits until the process has exited; returns its status (see `terminationStatus`).
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        try await waitFor("\(name) (pid \(pid)) to exit", timeout: timeout, interval: .milliseconds(20)) { terminationStatus }
    }

    /// kill -9, then waits for the exit.
    func killHard() async throws {
        send(SIGKILL)
        try await waitForExit(timeout: .seconds(10))
    }

    /// SIGTERM, a graceful stop; SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(10)) async throws {
        send(SIGTERM)
        do {
            try await waitForExit(timeout: grace)
        } catch {
            try await killHard()
            throw error
        }
    }

    /// Synchronous last resort used by the test bed's teardown.
    func killAndReap() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        waitStatus.withLock { known in
            var status: Int32 = 0
            if known == nil, waitpid(pid, &status, 0) == pid { known = status }
        }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The last `lines` lines of stdout and stderr, for failure reports.
    func logTail(lines: Int = 60) -> String {
        func tail(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
        }
        return """
            ----- \(name) (pid \(pid)): \(executable) \(arguments.joined(separator: " "))
            ----- \(name) stdout (\(stdoutPath)):
            \(tail(stdout))
            ----- \(name) stderr (\(stderrPath)):
            \(tail(stderr))
            """
    }
}
