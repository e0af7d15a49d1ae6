import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension JobSupervisor {
    /// Loads the jobs the previous agent process left and re-adopts them: a job whose shim wrote
    /// `status.json` is reported; one whose shim still runs is watched again; one whose shim is
    /// gone is reported LOST; one accepted but never started is started now. No job is forgotten.
    public func recover() async throws {
        active = [:]
        for record in try store.activeJobs() {
            let key = LogShipper.Key(jobID: record.jobID, attempt: record.attempt)
            active[key] = record
            // Queued Slurm jobs have no output yet (their logs are followed from RUNNING on).
            if let directory = record.jobDirectory, slurm == nil || record.state == .running { logs.follow(key, directory: directory) }
        }
        if !active.isEmpty { logger.info("re-adopting jobs", metadata: ["count": "\(active.count)"]) }
        if slurm != nil {
            try await recoverSlurmJobs()
            outboxChanged()
            return
        }
        for key in active.keys.sorted(by: { $0.jobID < $1.jobID }) {
            try check(key, agentRestarted: true)
        }
        // Entries written by the previous process are still in the outbox: wake a session.
        outboxChanged()
    }

    /// One pass of the job watcher: ended shims are reaped, records the store could not take
    /// are saved again, and every active job is checked for `shim.json`, `status.json`, and for
    /// a shim that vanished (every pass for our own children, every fifth for re-adopted ones).
    /// Cheap: a `waitpid` and a few `access` calls per job.
    public func poll() async throws {
        if slurm != nil {
            try await pollSlurm()
            return
        }
        pollCount &+= 1
        reaper.reap()
        reaper.discardExits(except: Set(active.values.compactMap(\.shimPID)))
        for key in unsaved.sorted(by: { $0.jobID < $1.jobID }) { saveStartedRecord(key) }
        for key in Array(active.keys) {
            try check(key, agentRestarted: false, checkLiveness: pollCount % 5 == 0)
        }
    }

    private func check(_ key: LogShipper.Key, agentRestarted: Bool, checkLiveness: Bool = true) throws {
        guard var record = active[key] else { return }
        guard let directory = record.jobDirectory, let shimPID = record.shimPID else {
            // Accepted, never started (the agent stopped in between).
            if record.cancelRequested {
                try finish(key, state: .cancelled, message: "cancelled before it started", usage: nil)
            } else if agentRestarted, let directory = existingLaunch(for: record) {
                // The shim may have been launched without its pid being recorded.
                let shim = Self.findShim(directory: directory)
                if shim == nil, !JobDirectoryIO.exists(JobDirectoryIO.path(directory, ShimFiles.shimLog)) {
                    // posix_spawn creates shim.log (the shim's output) before the shim runs, and
                    // the shim starts the job: without it no shim, and so no job, ever ran. The
                    // agent stopped between writing launch.json and spawning; start it now.
                    try start(key)
                    return
                }
                record.jobDirectory = directory
                record.shimPID = shim ?? 0
                active[key] = record
                try check(key, agentRestarted: true)
            } else {
                try start(key)
            }
            return
        }
        // RUNNING first, even when the job has already ended: the process did start.
        if record.state == .starting, let info = ProcessDriver.readShimInfo(directory) {
            record.state = .running
            record.startedAtMs = info.startedAtMs
            try store.save(record, emitting: [JobReports.update(record, state: .running, atMs: info.startedAtMs, message: "process started")], nowMs: now())
            active[key] = record
            outboxChanged()
        }
        if let status = ProcessDriver.readStatus(directory) {
            try report(key, status: status)
            return
        }
        // Our own child's liveness is exact and free; a re-adopted shim is identified by /proc.
        let ourChild = reaper.isChild(shimPID)
        let alive = ourChild ? reaper.isRunningChild(shimPID) : ProcessDriver.isShimAlive(pid: shimPID, directory: directory)
        guard checkLiveness || ourChild, !alive else {
            if agentRestarted, record.cancelRequested {
                driver.cancel(shimPID: shimPID, directory: directory, runningChild: reaper.isRunningChild(shimPID))
            }
            return
        }
        // The shim may have written its status and exited since the first look.
        if let status = ProcessDriver.readStatus(directory) {
            try report(key, status: status)
            return
        }
        // How our child ended; nil for a shim of an earlier agent process.
        let exit = reaper.takeExit(shimPID)
        let info = ProcessDriver.readShimInfo(directory)
        if let info { Self.killOrphanedGroup(info, directory: directory) }
        let shimLog = "\(directory)/\(ShimFiles.shimLog)"
        if record.cancelRequested {
            try finish(key, state: .cancelled, message: "cancelled (the shim ended before recording a status)", usage: nil)
        } else if info == nil, exit == .exited(code: ShimRunner.exitNeverStartedJob) {
            // The shim's documented code for giving up before spawning: the job never ran.
            try finish(key, state: .rejected, message: "the shim exited before starting the job; see \(shimLog)", usage: nil)
        } else if let exit {
            // The shim spawns the job before writing shim.json, so even without it the job may
            // have run (an OOM kill, a full disk): never REJECTED, which would run it again.
            try finish(
                key, state: .lost,
                message: "the shim \(exit) without recording a status; the job may have run and its outcome is unknown; see \(shimLog)",
                usage: nil)
        } else {
            let when = agentRestarted ? "while the agent was down" : "while the job was running"
            try finish(key, state: .lost, message: "shim disappeared \(when) and left no status; the job's outcome is unknown", usage: nil)
        }
    }

    private func report(_ key: LogShipper.Key, status: ShimStatus) throws {
        guard let record = active[key] else { return }
        let outcome = JobReports.outcome(of: status, walltimeSeconds: Int(record.spec.walltimeSeconds))
        try finish(
            key, state: outcome.state, message: outcome.message,
            usage: outcome.ran ? (status.startedAtMs, status.endedAtMs) : nil,
            exitCode: outcome.exitCode, signal: outcome.signal
        )
    }

    private func existingLaunch(for record: JobRecord) -> String? {
        let directory = driver.jobDirectory(for: record.jobID, attempt: record.attempt)
        return JobDirectoryIO.exists(JobDirectoryIO.path(directory, ShimFiles.launch)) ? directory : nil
    }

    /// Scans /proc for a shim of `directory` (only at recovery, when its pid was not recorded).
    static func findShim(directory: String) -> Int32? {
        guard let proc = opendir("/proc") else { return nil }
        defer { closedir(proc) }
        while let entry = readdir(proc) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let pid = Int32(name), ProcessDriver.isShimAlive(pid: pid, directory: directory) { return pid }
        }
        return nil
    }

    /// A job whose shim died keeps running with nobody to enforce its walltime: kill its process
    /// group, after checking that the group leader still works in the job's directory (pids are
    /// reused).
    static func killOrphanedGroup(_ info: ShimInfo, directory: String) {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/\(info.jobPGID)/cwd", &buffer, buffer.count - 1)
        guard count > 0 else { return }
        let cwd = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if cwd == directory { killpg(info.jobPGID, SIGKILL) }
    }

    // MARK: reports

    func freeUnits(of pool: PoolDefinition) -> Int {
        let held = active.values.filter { $0.acceleratorClass == pool.acceleratorClass.rawValue }.reduce(0) { $0 + $1.units }
        return max(0, pool.count - held)
    }

    /// A full capacity report: every pool with its free units, and the number of active jobs.
    public func capacityReport() -> Estuary_V1_CapacityReport {
        var report = Estuary_V1_CapacityReport()
        report.full = true
        report.pools = pools.map { pool in
            var wire = Estuary_V1_Pool()
            wire.acceleratorClass = pool.acceleratorClass.rawValue
            wire.count = UInt32(clamping: pool.count)
            wire.free = UInt32(clamping: reportedFreeUnits(of: pool))
            wire.simulated = pool.simulated
            return wire
        }
        report.runningJobs = UInt32(clamping: active.count)
        report.sentAtMs = now()
        return report
    }

    /// Every job the agent still has a record of (Hello.known_jobs).
    public func knownJobs() throws -> [Estuary_V1_JobRef] {
        try store.allJobs().map { record in
            var ref = Estuary_V1_JobRef()
            ref.jobID = record.jobID.rawValue
            ref.state = record.state.wire
            ref.attempt = UInt32(clamping: record.attempt)
            return ref
        }
    }

    /// The active jobs, for tests and diagnostics.
    public func activeJobs() -> [JobRecord] { Array(active.values) }

    /// Largest number of `LogChunk`s in one final-flush slice (64 × 64 KiB = 4 MiB per write).
    public static let maxFinalChunksPerSlice = 64

    /// New output of every followed job, a few chunks per stream at most.
    public func pendingLogChunks() -> [Estuary_V1_Envelope] {
        var envelopes: [Estuary_V1_Envelope] = []
        for key in logs.followedKeys where active[key] != nil {
            envelopes += logs.chunks(for: key, maxChunksPerStream: 4)
        }
        return envelopes
    }

    /// Starts the final flush of the jobs whose terminal updates are about to be sent: follows
    /// them again if need be (after a restart, from 0). Then call `finalLogChunks` until it
    /// returns nothing, sending each slice, and only then send the updates.
    public func beginFinalLogs(for updates: [Estuary_V1_JobUpdate]) throws {
        for key in Self.terminalKeys(updates) {
            if !logs.isFollowing(key), let record = try store.job(key.jobID, attempt: key.attempt), let directory = record.jobDirectory {
                logs.follow(key, directory: directory)
                if let seq = record.terminalSeq { logs.finished(key, terminalSeq: seq) }
            }
            logs.beginFinalFlush(key)
        }
    }

    /// The next slice of the remaining output of those jobs, at most `maxChunks` chunks (and
    /// never beyond `LogShipper.maxBytesPerStream` of a stream); empty when all has been read.
    public func finalLogChunks(for updates: [Estuary_V1_JobUpdate], maxChunks: Int = maxFinalChunksPerSlice) -> [Estuary_V1_Envelope] {
        var envelopes: [Estuary_V1_Envelope] = []
        for key in Self.terminalKeys(updates) where envelopes.count < maxChunks {
            envelopes += logs.chunks(for: key, maxChunksPerStream: .max, maxChunks: maxChunks - envelopes.count)
        }
        return envelopes
    }

    private static func terminalKeys(_ updates: [Estuary_V1_JobUpdate]) -> [LogShipper.Key] {
        updates.filter { LocalJobState.fromWire($0.state)?.isTerminal == true }
            .map { LogShipper.Key(jobID: JobID(rawValue: $0.jobID), attempt: Int($0.attempt)) }
    }

    /// Drops acknowledged entries (marking the jobs they finished as reported) and stops
    /// following the output of those jobs.
    public func acknowledge(upTo ack: UInt64) throws {
        try store.acknowledge(upTo: ack, nowMs: now())
        logs.acknowledged(upTo: ack)
    }

    /// The number of jobs whose output is followed, for tests and diagnostics.
    public func followedLogCount() -> Int { logs.followedKeys.count }

    /// Forgets jobs whose terminal report was acknowledged more than `retention` ago, with
    /// their directories.
    public func pruneReportedJobs(retentionMs: Int64) throws {
        for directory in try store.pruneReported(before: now() - retentionMs) {
            JobDirectoryIO.removeTree(directory)
        }
    }
}
