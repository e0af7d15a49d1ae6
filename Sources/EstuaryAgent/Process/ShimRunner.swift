#if canImport(Glibc)
import Glibc
#endif

/// The shim: the small parent that runs one job, so that the job outlives an agent crash or
/// restart (the conmon / containerd-shim pattern). `estuary-agent shim --job-dir DIR` runs it.
///
/// It reads `launch.json`, starts the job in its own process group with output to files, writes
/// `shim.json`, enforces the walltime, turns SIGTERM/SIGINT (sent by the agent to cancel) into
/// TERM-then-KILL of the job's whole process group, and writes `status.json` when the job ends.
/// When the job's main process ends, whatever is left of its process group is killed too: a job
/// is over when its main process is, and background children must not leak.
///
/// It is single-threaded and synchronous: signals are blocked and taken with `sigtimedwait`, so
/// there is no signal handler and no shared state.
public enum ShimRunner {
    /// Blocks the signals the shim waits for. Call first thing in the process, before any thread
    /// exists, so that every later thread inherits the mask and no signal kills the shim.
    public static func blockSignals() {
        var set = handledSignals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The shim's exit code when it gave up before starting the job (no job process was ever
    /// spawned). The agent reports such an attempt REJECTED; any other end of a shim that left
    /// no `status.json` is LOST, since the job may have run. Only `run` returns it, and only
    /// before spawning.
    public static let exitNeverStartedJob: Int32 = 2

    /// Runs the job described in `jobDirectory/launch.json` to its end. Returns the process exit
    /// status for the shim itself: 0 when status.json was written, 1 when writing it failed (the
    /// job ran), `exitNeverStartedJob` when the job was never started.
    public static func run(jobDirectory: String) -> Int32 {
        blockSignals()
        sealInheritedDescriptors()
        guard chdir(jobDirectory) == 0 else {
            report("cannot enter \(jobDirectory): \(String(cString: strerror(errno)))")
            return exitNeverStartedJob
        }
        guard let launch = JobDirectoryIO.read(ShimLaunch.self, directory: jobDirectory, file: ShimFiles.launch) else {
            report("cannot read \(ShimFiles.launch) in \(jobDirectory)")
            return exitNeverStartedJob
        }

        let startedAt = SystemTime.wallMilliseconds()
        let request = SpawnRequest(
            arguments: launch.command,
            environment: launch.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            newProcessGroup: true,
            stdoutPath: JobDirectoryIO.path(jobDirectory, ShimFiles.stdout),
            stderrPath: JobDirectoryIO.path(jobDirectory, ShimFiles.stderr)
        )
        let pid: pid_t
        do {
            pid = try Spawner.spawn(request)
        } catch {
            let now = SystemTime.wallMilliseconds()
            let status = ShimStatus(exitCode: nil, signal: nil, startedAtMs: now, endedAtMs: now, spawnError: error.description)
            return finish(status, directory: jobDirectory)
        }
        let info = ShimInfo(shimPID: getpid(), jobPID: pid, jobPGID: pid, startedAtMs: startedAt)
        do {
            try JobDirectoryIO.writeAtomically(info, directory: jobDirectory, file: ShimFiles.shim)
        } catch {
            report("\(error)")  // the agent falls back to the pid it spawned; keep supervising
        }

        var supervision = Supervision(
            pgid: pid,
            walltimeDeadline: SystemTime.monotonicMilliseconds() + Int64(launch.walltimeSeconds) * 1000,
            grace: Int64(launch.killGraceMilliseconds)
        )
        let waitStatus = supervise(pid: pid, &supervision)
        // Whatever the main process left behind in its group goes with it.
        killpg(pid, SIGKILL)

        var status = ShimStatus(
            exitCode: nil, signal: nil, startedAtMs: startedAt, endedAtMs: SystemTime.wallMilliseconds(),
            walltimeExceeded: supervision.walltimeExceeded, cancelled: supervision.cancelled
        )
        let low = waitStatus & 0x7f
        if low == 0 {
            status.exitCode = (waitStatus >> 8) & 0xff
        } else {
            status.signal = low
        }
        return finish(status, directory: jobDirectory)
    }

    /// Escalation state: at the walltime or on cancel, TERM the group; after the grace, KILL it.
    struct Supervision {
        var pgid: pid_t
        var walltimeDeadline: Int64
        var grace: Int64
        var walltimeExceeded = false
        var cancelled = false
        var killAt: Int64?
        var killed = false

        mutating func terminate(now: Int64) {
            guard killAt == nil else { return }
            killpg(pgid, SIGTERM)
            killAt = now + grace
        }
    }

    /// Waits for the job's main process, handling signals and deadlines; returns its wait status.
    private static func supervise(pid: pid_t, _ state: inout Supervision) -> Int32 {
        var signals = handledSignals()
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return status }
            if reaped < 0, errno != EINTR { return 0x7f & SIGKILL }  // cannot happen for our own child

            let now = SystemTime.monotonicMilliseconds()
            if !state.cancelled, !state.walltimeExceeded, now >= state.walltimeDeadline {
                state.walltimeExceeded = true
                state.terminate(now: now)
            }
            if let killAt = state.killAt, !state.killed, now >= killAt {
                killpg(state.pgid, SIGKILL)
                state.killed = true
            }
            // Sleep until a signal arrives (SIGCHLD included) or the next deadline, at most 500 ms.
            var next = now + 500
            if !state.walltimeExceeded, !state.cancelled { next = min(next, state.walltimeDeadline) }
            if let killAt = state.killAt, !state.killed { next = min(next, killAt) }
            let wait = max(1, next - now)
            var timeout = timespec(tv_sec: Int(wait / 1000), tv_nsec: Int(wait % 1000) * 1_000_000)
            let signal = sigtimedwait(&signals, nil, &timeout)
            if signal == SIGTERM || signal == SIGINT {
                if !state.walltimeExceeded { state.cancelled = true }
                state.terminate(now: SystemTime.monotonicMilliseconds())
            }
        }
    }

    private static func finish(_ status: ShimStatus, directory: String) -> Int32 {
        do {
            try JobDirectoryIO.writeAtomically(status, directory: directory, file: ShimFiles.status)
            return 0
        } catch {
            report("\(error)")
            return 1
        }
    }

    private static func handledSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE] { sigaddset(&set, signal) }
        return set
    }

    /// Closes every descriptor the shim inherited from the agent: its mesh socket, NIO's epoll
    /// instances, the outbox database. Left open, they would keep the agent's connection alive
    /// after the agent died (the coordinator would not see the session end) and leak into the
    /// job. Inherited means "open without close-on-exec": a descriptor with close-on-exec cannot
    /// have survived the exec that started us, so those belong to our own runtime and stay.
    private static func sealInheritedDescriptors() {
        guard let directory = opendir("/proc/self/fd") else { return }
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let fd = Int32(name), fd > 2, fd != dirfd(directory) { descriptors.append(fd) }
        }
        closedir(directory)
        for fd in descriptors {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { close(fd) }
        }
    }

    /// Diagnostics go to stderr, which the agent points at `shim.log`.
    private static func report(_ message: String) {
        let line = "estuary-agent shim: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
