import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Logging

/// Owns the site's jobs: accepts assignments and cancellations, starts jobs through the process
/// driver, watches their shims, and writes every state change and usage record to the outbox in
/// the same transaction as the job row. Sessions come and go; the supervisor and its jobs stay.
public actor JobSupervisor {
    let store: AgentStore
    let driver: ProcessDriver
    /// Set when the site runs its jobs on Slurm (`site.driver = "slurm"`); then `driver` is unused.
    let slurm: SlurmDriver?
    var slurmJobs = SlurmTracking()
    let site: SiteDescriptor
    /// The profile's pools; with Slurm, counts left to `sinfo` are filled in by `prepare()`.
    var pools: [PoolDefinition]
    let maxConcurrentJobs: Int?
    let logger: Logger
    let now: @Sendable () -> Int64

    /// Non-terminal jobs, mirrored from the store.
    var active: [LogShipper.Key: JobRecord] = [:]
    var logs = LogShipper()
    /// Shims this process spawned and has not reaped yet (see `ShimReaper`).
    var reaper = ShimReaper()
    /// Active jobs whose shim runs but whose record (directory, shim pid) the store has not
    /// taken yet; `poll` retries the save.
    var unsaved: Set<LogShipper.Key> = []
    private var outboxContinuation: AsyncStream<Void>.Continuation?
    var pollCount = 0

    /// - Parameters:
    ///   - dataDirectory: holds `agent.sqlite` and `jobs/`.
    ///   - now: the agent clock, Unix milliseconds.
    public init(
        profile: SiteProfile, dataDirectory: String, driver configuration: ProcessDriverConfiguration,
        logger: Logger, now: @escaping @Sendable () -> Int64 = { SystemTime.wallMilliseconds() }
    ) throws {
        self.store = try AgentStore(directory: dataDirectory)
        self.driver = ProcessDriver(configuration: configuration, jobsDirectory: dataDirectory + "/jobs")
        self.site = profile.site
        self.pools = profile.pools
        self.slurm = profile.usesSlurm ? SlurmDriver(settings: profile.slurmDriver, dataDirectory: dataDirectory) : nil
        self.maxConcurrentJobs = profile.usesSlurm ? profile.slurmDriver.maxConcurrentJobs : profile.processDriver.maxConcurrentJobs
        var logger = logger
        logger[metadataKey: "site"] = "\(profile.site.id)"
        self.logger = logger
        self.now = now
    }

    /// The outbox this supervisor writes to.
    public nonisolated var outbox: AgentStore { store }

    // MARK: commands from the coordinator

    /// Handles a JobAssign: durably records it (idempotent by job id and attempt), then starts it
    /// or rejects it. Returns once the record is durable; the caller may then ack the command.
    public func assign(_ assign: Estuary_V1_JobAssign) throws {
        let jobID = JobID(rawValue: assign.jobID)
        let attempt = Int(assign.attempt)
        let key = LogShipper.Key(jobID: jobID, attempt: attempt)
        var logger = logger
        logger[metadataKey: "job"] = "\(jobID)"
        if try store.job(jobID, attempt: attempt) != nil {
            logger.debug("duplicate JobAssign ignored", metadata: ["attempt": "\(attempt)"])
            return
        }
        let at = now()
        var record = JobRecord(jobID: jobID, attempt: attempt, spec: assign.spec, state: .starting, acceptedAtMs: at)
        if let reason = admissionProblem(assign) {
            record.state = .rejected
            record.message = reason
            record.endedAtMs = at
            _ = try store.insert(record, emitting: [JobReports.update(record, state: .rejected, atMs: at, message: reason)], nowMs: at)
            logger.warning("job rejected", metadata: ["reason": "\(reason)"])
            outboxChanged()
            return
        }
        guard try store.insert(record, emitting: [JobReports.update(record, state: .starting, atMs: at, message: "accepted")], nowMs: at)
        else { return }
        active[key] = record
        outboxChanged()
        logger.info("job accepted", metadata: ["attempt": "\(attempt)", "class": "\(record.acceleratorClass)", "units": "\(record.units)"])
        // Slurm jobs are submitted by the next watcher pass, which owns all Slurm I/O.
        if slurm == nil { try start(key) }
    }

    /// Why this site cannot run the assignment, or nil if it can.
    private func admissionProblem(_ assign: Estuary_V1_JobAssign) -> String? {
        guard Identifiers.isWellFormed(assign.jobID) else { return "job id \"\(assign.jobID)\" is not a well-formed identifier" }
        guard assign.hasSpec else { return "the assignment carries no job spec" }
        do {
            _ = try JobSpec(wire: assign.spec)
        } catch {
            return "invalid job spec: \(error)"
        }
        let spec = assign.spec
        guard let pool = pools.first(where: { $0.acceleratorClass.rawValue == spec.acceleratorClass }) else {
            let classes = pools.map(\.acceleratorClass.rawValue).joined(separator: ", ")
            return "this site has no pool of class \(spec.acceleratorClass) (it has: \(classes))"
        }
        let needed = Int(spec.count) * Int(max(spec.tasks, 1))
        let free = freeUnits(of: pool)
        if needed > free {
            return "pool \(pool.acceleratorClass) is full: the job needs \(needed) units, \(free) of \(pool.count) are free"
        }
        if let limit = maxConcurrentJobs, active.count >= limit {
            return "the site runs its maximum of \(limit) concurrent jobs"
        }
        return nil
    }

    /// Starts the shim of an accepted job; a failure to start rejects the job. Once the shim
    /// runs, the job is supervised from memory even if the store cannot record it yet: reporting
    /// it REJECTED, or starting a second shim, would run it twice.
    func start(_ key: LogShipper.Key) throws {
        guard var record = active[key] else { return }
        let simulated = pools.first { $0.acceleratorClass.rawValue == record.acceleratorClass }?.simulated ?? false
        let directory: String
        let pid: Int32
        do {
            (directory, pid) = try driver.launch(record, siteID: site.id, simulatedPool: simulated)
        } catch {
            try finish(key, state: .rejected, message: "cannot start the job's shim: \(error)", usage: nil)
            return
        }
        reaper.spawned(pid)
        record.jobDirectory = directory
        record.shimPID = pid
        active[key] = record
        logs.follow(key, directory: directory)
        logger.debug("shim started", metadata: ["job": "\(record.jobID)", "shim_pid": "\(pid)"])
        saveStartedRecord(key)
    }

    /// Records a started job's directory and shim pid; on failure, keeps it for the next poll.
    func saveStartedRecord(_ key: LogShipper.Key) {
        guard let record = active[key] else {
            unsaved.remove(key)
            return
        }
        do {
            try store.save(record, emitting: [], nowMs: now())
            unsaved.remove(key)
        } catch {
            unsaved.insert(key)
            logger.error(
                "cannot record the started job; supervising it from memory and retrying",
                metadata: ["job": "\(record.jobID)", "shim_pid": "\(record.shimPID ?? 0)", "error": "\(error)"])
        }
    }

    /// Handles a JobCancel: cancel every active attempt of the job; unknown or finished jobs are
    /// ignored (cancel is idempotent).
    public func cancel(_ cancel: Estuary_V1_JobCancel) throws {
        let keys = active.keys.filter { $0.jobID.rawValue == cancel.jobID }
        if keys.isEmpty {
            logger.debug("JobCancel for a job with no active attempt ignored", metadata: ["job": "\(cancel.jobID)"])
            return
        }
        if slurm != nil {
            for key in keys { try cancelSlurmJob(key, reason: cancel.reason) }
            return
        }
        for key in keys {
            guard var record = active[key] else { continue }
            logger.info("cancelling job", metadata: ["job": "\(record.jobID)", "reason": "\(cancel.reason)"])
            guard let pid = record.shimPID, let directory = record.jobDirectory else {
                try finish(key, state: .cancelled, message: "cancelled before it started", usage: nil)
                continue
            }
            record.cancelRequested = true
            try store.save(record, emitting: [], nowMs: now())
            active[key] = record
            // If the shim is already gone, the next poll reports what happened.
            driver.cancel(shimPID: pid, directory: directory, runningChild: reaper.isRunningChild(pid))
        }
    }

    // MARK: outbox notifications

    /// A stream that yields whenever new entries were written to the outbox (and once at once).
    /// Each session takes a new one; the previous stream ends.
    public func outboxChanges() -> AsyncStream<Void> {
        outboxContinuation?.finish()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        outboxContinuation = continuation
        continuation.yield()
        return stream
    }

    func outboxChanged() { outboxContinuation?.yield() }

    /// Writes the terminal state of an active job (and its usage, if it ran), in one transaction.
    func finish(_ key: LogShipper.Key, state: LocalJobState, message: String, usage: (startedAtMs: Int64, endedAtMs: Int64)?,
                exitCode: Int32? = nil, signal: Int32? = nil) throws {
        guard var record = active[key] else { return }
        let at = now()
        record.state = state
        record.message = message
        record.exitCode = exitCode
        record.signal = signal
        if let usage {
            record.startedAtMs = usage.startedAtMs
            record.endedAtMs = usage.endedAtMs
        } else {
            record.endedAtMs = record.endedAtMs ?? at
        }
        var bodies: [Estuary_V1_Envelope.OneOf_Body] = []
        if let usage, state != .rejected {
            bodies.append(JobReports.usage(record, startedAtMs: usage.startedAtMs, endedAtMs: usage.endedAtMs))
        }
        bodies.append(JobReports.update(record, state: state, atMs: at, message: message))
        record = try store.save(record, emitting: bodies, nowMs: at)
        active[key] = nil
        unsaved.remove(key)
        slurmJobs.forget(key)
        if let seq = record.terminalSeq { logs.finished(key, terminalSeq: seq) } else { logs.forget(key) }
        outboxChanged()
        let level: Logger.Level = state == .succeeded || state == .cancelled ? .info : .warning
        logger.log(level: level, "job ended", metadata: ["job": "\(record.jobID)", "state": "\(state.rawValue)", "cause": "\(message)"])
    }
}
