import EstuaryConfig
import EstuaryModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Slurm command that did not do what was asked: it could not run, timed out, or exited
/// non-zero. Carries the command's own words.
public struct SlurmCommandError: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var detail: String
    public var description: String { "\(command): \(detail)" }
}

/// The I/O half of the `slurm` driver: runs `sbatch`, `squeue`, `sacct`, `scancel` and `sinfo`
/// and hands their output to ``SlurmText``. Keeps no state: Slurm and the agent's job table are
/// the state. Every command has a time limit (`command_timeout`), so a hung controller makes a
/// command fail, never the agent hang.
struct SlurmDriver: Sendable {
    var settings: SlurmDriverSettings
    /// `<work_dir>` or `<data_dir>/jobs`.
    var jobsDirectory: String
    /// Jobs are listed by the user that submits them.
    var userID = getuid()

    init(settings: SlurmDriverSettings, dataDirectory: String) {
        self.settings = settings
        self.jobsDirectory = settings.workDirectory ?? dataDirectory + "/jobs"
    }

    func jobDirectory(for job: JobID, attempt: Int) -> String { "\(jobsDirectory)/\(job.rawValue)-\(attempt)" }

    private func program(_ name: String) -> String {
        settings.binDirectory.map { "\($0)/\(name)" } ?? name
    }

    private var environment: [String: String] {
        var environment = ["SLURM_TIME_FORMAT": "%s", "LANG": "C", "LC_ALL": "C"]
        let inherited = ProcessInfo.processInfo.environment
        for key in ["PATH", "SLURM_CONF", "HOME"] { environment[key] = inherited[key] }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return environment
    }

    /// Runs a Slurm command; non-zero exits are errors unless `acceptFailure`.
    private func run(_ name: String, _ arguments: [String]) async throws(SlurmCommandError) -> CommandResult {
        let result: CommandResult
        do {
            result = try await CommandRunner.run([program(name)] + arguments, environment: environment, timeout: settings.commandTimeout)
        } catch {
            throw SlurmCommandError(command: name, detail: error.reason)
        }
        guard result.succeeded else {
            let said = result.firstErrorLine
            throw SlurmCommandError(command: name, detail: said.isEmpty ? "\(result.ending)" : "\(said) (\(result.ending))")
        }
        return result
    }

    // MARK: submit

    enum SubmitResult {
        case submitted(slurmJobID: String)
        /// Slurm refused the job: why (sbatch's own words).
        case refused(String)
        /// The controller could not be reached; the job may or may not exist.
        case unreachable(String)
    }

    /// Writes the job's batch script into its directory and submits it.
    func submit(_ record: JobRecord, pool: PoolDefinition, siteID: SiteID) async -> SubmitResult {
        let directory = jobDirectory(for: record.jobID, attempt: record.attempt)
        let name = SlurmText.jobName(record.jobID, attempt: record.attempt)
        let script = "\(directory)/job.sbatch"
        do {
            try JobDirectoryIO.makeDirectories(directory)
            // HOME, USER and the rest are the submitting user's login environment, which Slurm
            // loads for --export=NONE (SLURM_GET_USER_ENV); the script then sets these.
            let environment = JobEnvironment.make(
                record, siteID: siteID, base: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"])
            let text = SlurmText.batchScript(
                command: record.spec.command, environment: environment, header: "Estuary job \(record.jobID.rawValue), attempt \(record.attempt)")
            try JobDirectoryIO.writeText(text, to: script, mode: 0o700)
        } catch {
            return .refused("cannot prepare the job directory \(directory): \(error)")
        }
        guard let partition = pool.partition else { return .refused("pool \(pool.acceleratorClass) names no Slurm partition") }
        let request = SlurmText.Request(
            partition: partition, tasks: Int(max(record.spec.tasks, 1)), unitsPerTask: Int(max(record.spec.count, 1)), gres: pool.gres,
            memoryMiBPerTask: record.spec.memoryMib, walltimeSeconds: Int(record.spec.walltimeSeconds), account: settings.account,
            qos: settings.qos)
        let arguments = SlurmText.sbatchArguments(request, name: name, directory: directory) + [script]
        let result: CommandResult
        do {
            result = try await CommandRunner.run([program("sbatch")] + arguments, environment: environment, timeout: settings.commandTimeout)
        } catch {
            return .refused("cannot run sbatch: \(error.reason)")
        }
        if result.succeeded, let id = SlurmText.submittedJobID(result.stdout) { return .submitted(slurmJobID: id) }
        let said = result.firstErrorLine
        if case .timedOut = result.ending { return .unreachable("sbatch \(result.ending)") }
        if SlurmText.isTransientSubmitFailure(said) { return .unreachable(said) }
        return .refused(said.isEmpty ? "sbatch \(result.ending) without saying why" : said)
    }

    // MARK: track

    /// This user's jobs in the queue (pending, running, and recently ended ones Slurm still lists).
    func queue() async throws(SlurmCommandError) -> [SlurmText.QueueRow] {
        SlurmText.queueRows(try await run("squeue", ["-h", "-a", "-u", String(userID), "-o", SlurmText.queueFormat]).stdout)
    }

    /// Accounting records of these Slurm jobs (ended ones have their final state and exit code).
    func accounting(_ slurmJobIDs: [String]) async throws(SlurmCommandError) -> [SlurmText.AccountingRow] {
        guard !slurmJobIDs.isEmpty else { return [] }
        var arguments = ["-P", "-n", "-X", "--format=\(SlurmText.accountingFields)", "-j", slurmJobIDs.joined(separator: ",")]
        if settings.accounting == .jobcomp { arguments.insert("-c", at: 0) }
        return SlurmText.accountingRows(try await run("sacct", arguments).stdout)
    }

    /// Slurm jobs of this name (a submission the agent did not get to record), in the queue or
    /// in accounting.
    func find(name: String) async throws(SlurmCommandError) -> [String] {
        let queued = SlurmText.queueRows(try await run("squeue", ["-h", "-a", "-u", String(userID), "-n", name, "-o", SlurmText.queueFormat]).stdout)
        if !queued.isEmpty { return queued.filter { $0.name == name }.map(\.slurmJobID) }
        var arguments = ["-P", "-n", "-X", "--format=\(SlurmText.accountingFields)", "--name=\(name)", "-S", "now-7days", "-E", "now"]
        if settings.accounting == .jobcomp { arguments.insert("-c", at: 0) }
        let rows = SlurmText.accountingRows(try await run("sacct", arguments).stdout)
        return rows.filter { $0.name == name }.map(\.slurmJobID)
    }

    func cancel(_ slurmJobID: String) async throws(SlurmCommandError) {
        _ = try await run("scancel", [slurmJobID])
    }

    // MARK: pools

    /// The nodes of a partition; throws when `sinfo` fails or knows no such partition.
    func nodes(partition: String) async throws(SlurmCommandError) -> [SlurmText.NodeRow] {
        let rows = SlurmText.nodeRows(try await run("sinfo", ["-h", "-N", "-p", partition, "-o", SlurmText.nodeFormat]).stdout)
        guard !rows.isEmpty else { throw SlurmCommandError(command: "sinfo", detail: "no partition \"\(partition)\" (or it has no nodes)") }
        return rows
    }

    /// Units of `pool` that no job holds on the cluster now (other users' jobs included).
    func idleUnits(_ pool: PoolDefinition) async throws(SlurmCommandError) -> Int {
        guard let partition = pool.partition else { return 0 }
        let nodes = SlurmText.nodeUsage(try await run("sinfo", ["-h", "-N", "-p", partition, "-O", SlurmText.nodeUsageFormat]).stdout)
        return SlurmText.idleUnits(nodes, gres: pool.gres)
    }

    /// Fills in the count of pools that left it to Slurm, and checks the others against it:
    /// a pool larger than its partition's usable units is an error (jobs would never start).
    func resolvePools(_ pools: [PoolDefinition]) async throws(SlurmCommandError) -> (pools: [PoolDefinition], notes: [String]) {
        var resolved: [PoolDefinition] = []
        var notes: [String] = []
        for var pool in pools {
            guard let partition = pool.partition else {
                throw SlurmCommandError(command: "profile", detail: "pool \(pool.acceleratorClass) names no partition")
            }
            let nodes = try await nodes(partition: partition)
            let units = SlurmText.poolUnits(nodes, gres: pool.gres)
            let what = pool.gres.map { "GRES \($0)" } ?? "CPUs"
            if pool.count == 0 {
                guard units > 0 else {
                    throw SlurmCommandError(command: "sinfo", detail: "partition \(partition) has no usable \(what) for pool \(pool.acceleratorClass)")
                }
                pool.count = units
                notes.append("pool \(pool.acceleratorClass): \(units) \(what) on \(nodes.filter(\.isUsable).count) usable node(s) of partition \(partition)")
            } else if pool.count > units {
                notes.append("pool \(pool.acceleratorClass) offers \(pool.count) units but partition \(partition) has \(units) usable \(what) now")
            }
            resolved.append(pool)
        }
        return (resolved, notes)
    }
}
