import EstuaryModel
import EstuaryWire
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Settings of the process driver that are not in the site profile.
public struct ProcessDriverConfiguration: Sendable {
    /// The executable started as `<shimExecutable> shim --job-dir DIR`; the agent's own binary
    /// by default. Tests point it at the built `estuary-agent`.
    public var shimExecutable: String
    /// SIGTERM → SIGKILL grace for cancel and walltime.
    public var killGrace: Duration
    /// PATH of jobs (and of the shim, which resolves a bare program name with it).
    public var jobPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(shimExecutable: String = ProcessDriverConfiguration.currentExecutable(), killGrace: Duration = .seconds(5)) {
        self.shimExecutable = shimExecutable
        self.killGrace = killGrace
    }

    /// The running binary (`/proc/self/exe` resolved), so that a replaced binary on disk is not
    /// mistaken for ours.
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Starts jobs under the shim and talks to running shims: the I/O half of the `process`
/// driver. It keeps no state; the job table and the job directories are the state.
struct ProcessDriver: Sendable {
    var configuration: ProcessDriverConfiguration
    var jobsDirectory: String

    /// `<data_dir>/jobs/<job_id>-<attempt>`.
    func jobDirectory(for job: JobID, attempt: Int) -> String {
        "\(jobsDirectory)/\(job.rawValue)-\(attempt)"
    }

    /// Prepares the job directory and starts a shim for it. Returns the shim's pid.
    func launch(_ record: JobRecord, siteID: SiteID, simulatedPool: Bool) throws -> (directory: String, shimPID: Int32) {
        let directory = jobDirectory(for: record.jobID, attempt: record.attempt)
        try JobDirectoryIO.makeDirectories(directory)
        let launch = ShimLaunch(
            command: record.spec.command,
            environment: environment(for: record, siteID: siteID, directory: directory, simulatedPool: simulatedPool),
            walltimeSeconds: Int(record.spec.walltimeSeconds),
            killGraceMilliseconds: Int(configuration.killGrace.components.seconds * 1000
                + configuration.killGrace.components.attoseconds / 1_000_000_000_000_000)
        )
        try JobDirectoryIO.writeAtomically(launch, directory: directory, file: ShimFiles.launch)
        let log = JobDirectoryIO.path(directory, ShimFiles.shimLog)
        let pid = try Spawner.spawn(
            SpawnRequest(
                arguments: [configuration.shimExecutable, "shim", "--job-dir", directory],
                environment: ["PATH=\(configuration.jobPath)", "LANG=C.UTF-8"],
                newSession: true,
                stdoutPath: log,
                stderrPath: log
            )
        )
        return (directory, pid)
    }

    /// The job's environment: a minimal base, the job's own variables, then Estuary's (which win).
    func environment(for record: JobRecord, siteID: SiteID, directory: String, simulatedPool: Bool) -> [String: String] {
        var environment = JobEnvironment.make(
            record, siteID: siteID, base: ["PATH": configuration.jobPath, "HOME": directory, "LANG": "C.UTF-8"])
        if simulatedPool {
            environment["ESTUARY_SIMULATED_ACCELERATORS"] = "\(record.acceleratorClass):\(record.units)"
        }
        return environment
    }

    /// Asks the shim to cancel its job (it kills the job's process group, TERM then KILL).
    /// `runningChild`: the shim is this process's child and not reaped yet (`ShimReaper`), so
    /// its pid is proof enough, even before it has exec'd. Returns false when the shim is not
    /// running.
    @discardableResult
    func cancel(shimPID: Int32, directory: String, runningChild: Bool) -> Bool {
        guard runningChild || Self.isShimAlive(pid: shimPID, directory: directory) else { return false }
        return kill(shimPID, SIGTERM) == 0
    }

    /// Whether `pid` is a live shim of `directory`, identified by its command line
    /// (`… shim --job-dir <directory>`; pids are reused, so the pid alone proves nothing). A
    /// zombie has an empty command line and counts as gone. Never waits for the process: the
    /// agent's own children are reaped, and their liveness known, by `ShimReaper`. Just after
    /// `posix_spawn` a child may not have exec'd yet, so use this only for shims that are not
    /// this process's running children.
    static func isShimAlive(pid: Int32, directory: String) -> Bool {
        guard pid > 0 else { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return false }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let shimIndex = arguments.firstIndex(of: "shim") else { return false }
        let rest = arguments[shimIndex...]
        return zip(rest, rest.dropFirst()).contains { $0 == "--job-dir" && $1 == directory }
    }

    static func readStatus(_ directory: String) -> ShimStatus? {
        JobDirectoryIO.read(ShimStatus.self, directory: directory, file: ShimFiles.status)
    }

    static func readShimInfo(_ directory: String) -> ShimInfo? {
        JobDirectoryIO.read(ShimInfo.self, directory: directory, file: ShimFiles.shim)
    }
}
