#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What to start with `posix_spawn`.
struct SpawnRequest {
    /// argv; `arguments[0]` is looked up in `PATH` when it has no slash.
    var arguments: [String]
    /// `NAME=value` entries, the whole environment of the new process.
    var environment: [String]
    /// Start a new session (`setsid`), so that the child outlives its parent's process group.
    var newSession = false
    /// Put the child in a new process group whose id is its pid.
    var newProcessGroup = false
    /// Files for fd 0, 1 and 2; nil means /dev/null.
    var stdinPath: String?
    var stdoutPath: String?
    var stderrPath: String?
    /// Descriptors the child gets as fd 1 and 2 instead of a file (the write ends of pipes);
    /// they win over the paths.
    var stdoutFD: Int32?
    var stderrFD: Int32?
}

/// Why a process could not be started.
struct SpawnError: Error, CustomStringConvertible {
    var program: String
    var errno: Int32
    var description: String { "cannot start \(program): \(String(cString: strerror(errno)))" }
}

/// Starts processes with `posix_spawn`: no fork of a multi-threaded process, signal
/// dispositions and mask reset to defaults in the child (the agent ignores some signals, and
/// ignored dispositions would otherwise survive `exec`).
enum Spawner {
    /// glibc's `POSIX_SPAWN_SETSID` (spawn.h, 0x80); Swift's Glibc module hides it behind
    /// `_GNU_SOURCE`.
    private static let setSessionFlag: Int32 = 0x80

    /// Signals reset to their default disposition in the child.
    private static let defaultSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2]

    static func spawn(_ request: SpawnRequest) throws(SpawnError) -> pid_t {
        let program = request.arguments.first ?? ""
        guard !program.isEmpty else { throw SpawnError(program: "(empty)", errno: ENOENT) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // No O_CLOEXEC here: glibc may open straight onto the target descriptor, which exec
        // would then close.
        let outputFlags = O_WRONLY | O_CREAT | O_APPEND
        posix_spawn_file_actions_addopen(&actions, 0, request.stdinPath ?? "/dev/null", O_RDONLY, 0)
        if let fd = request.stdoutFD {
            posix_spawn_file_actions_adddup2(&actions, fd, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, request.stdoutPath ?? "/dev/null", outputFlags, 0o644)
        }
        if let fd = request.stderrFD {
            posix_spawn_file_actions_adddup2(&actions, fd, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, request.stderrPath ?? "/dev/null", outputFlags, 0o644)
        }

        // Nothing else of the agent's (sockets, the outbox database, a file another thread is
        // writing) leaks into a job, a shim or a Slurm command, CLOEXEC or not.
        closeFrom3(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        if request.newSession { flags |= setSessionFlag }
        if request.newProcessGroup && !request.newSession {
            // A new session also makes a new process group; both flags together are an error.
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let status = withCStrings(request.arguments) { argv in
            withCStrings(request.environment) { envp in
                posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
            }
        }
        guard status == 0 else { throw SpawnError(program: program, errno: status) }
        return pid
    }

    /// `posix_spawn_file_actions_addclosefrom_np(actions, 3)` (glibc 2.34+), looked up at run
    /// time because Swift's Glibc module does not export it; without it, CLOEXEC alone guards.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        _ = addCloseFrom?(&actions, 3)
    }

    /// A NULL-terminated array of C strings valid for the duration of `body`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
