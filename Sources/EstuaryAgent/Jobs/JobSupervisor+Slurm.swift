import EstuaryConfig
import EstuaryModel
import Logging

/// What the supervisor remembers about its Slurm jobs between watcher passes, beyond the job
/// table: timings of things that are waited out. Lost on restart, which only restarts a wait.
struct SlurmTracking {
    /// Accepted attempts that may already exist in Slurm without their id being recorded (the
    /// agent stopped right after `sbatch`, or `sbatch` could not reach the controller): looked
    /// up by job name before anything is submitted.
    var uncertain: Set<LogShipper.Key> = []
    /// Attempts whose `sbatch` is running now.
    var inFlight: Set<LogShipper.Key> = []
    /// When a submission may next be tried (after the controller was unreachable).
    var retrySubmitAt: [LogShipper.Key: ContinuousClock.Instant] = [:]
    /// Since when a job has been pending for a reason Slurm will not resolve by itself.
    var unrunnableSince: [LogShipper.Key: ContinuousClock.Instant] = [:]
    /// Jobs the agent cancelled because Slurm cannot run them, with why.
    var rejections: [LogShipper.Key: String] = [:]
    /// Since when a job has been out of the queue without an accounting record.
    var unaccountedSince: [LogShipper.Key: ContinuousClock.Instant] = [:]
    /// When `scancel` was last sent for a job whose cancel was requested.
    var lastCancel: [LogShipper.Key: ContinuousClock.Instant] = [:]
    var lastRound: ContinuousClock.Instant?
    /// Units of each pool (by class) no job holds on the cluster, as `sinfo` last said: a shared
    /// cluster's other users count too. Reported free units never exceed it.
    var idle: [String: Int] = [:]
    var lastCapacityRefresh: ContinuousClock.Instant?
    /// The last Slurm error logged, so that a dead controller logs once, not every pass.
    var lastError: String?

    mutating func forget(_ key: LogShipper.Key) {
        uncertain.remove(key)
        retrySubmitAt[key] = nil
        unrunnableSince[key] = nil
        rejections[key] = nil
        unaccountedSince[key] = nil
        lastCancel[key] = nil
    }
}

extension JobSupervisor {
    /// With Slurm: fills in pool counts left to `sinfo` and checks the others. Throws when a
    /// pool's partition does not exist or Slurm cannot be asked; the agent does not start then.
    public func prepare() async throws {
        guard let slurm else { return }
        let (resolved, notes) = try await slurm.resolvePools(pools)
        pools = resolved
        for note in notes { logger.info("slurm pool", metadata: ["detail": "\(note)"]) }
        await refreshIdleUnits(slurm)
    }

    /// The pools as reported (after `prepare()`).
    public func currentPools() -> [PoolDefinition] { pools }

    // MARK: recovery

    /// Re-adopts Slurm jobs: recorded ones are tracked again; accepted ones without a Slurm id
    /// are looked up by name before being submitted, so nothing runs twice.
    func recoverSlurmJobs() async throws {
        for (key, record) in active where record.slurmJobID == nil {
            slurmJobs.uncertain.insert(key)
        }
        try await pollSlurm(forceRound: true)
    }

    // MARK: cancel

    func cancelSlurmJob(_ key: LogShipper.Key, reason: String) throws {
        guard var record = active[key] else { return }
        logger.info("cancelling job", metadata: ["job": "\(record.jobID)", "reason": "\(reason)"])
        record.cancelRequested = true
        if record.slurmJobID == nil, !slurmJobs.uncertain.contains(key), !slurmJobs.inFlight.contains(key) {
            try finish(key, state: .cancelled, message: "cancelled before it started", usage: nil)
            return
        }
        try store.save(record, emitting: [], nowMs: now())
        active[key] = record
        // The next pass sends scancel (or looks the job up first).
        slurmJobs.lastCancel[key] = nil
        slurmJobs.lastRound = nil
    }

    // MARK: the watcher pass

    /// One Slurm pass: submits accepted jobs (every pass), and every `poll_interval` reads the
    /// queue and, for jobs that left it, accounting.
    func pollSlurm(forceRound: Bool = false) async throws {
        guard let slurm else { return }
        try await submitPending(slurm)
        let clock = ContinuousClock.now
        if !forceRound, let last = slurmJobs.lastRound, clock - last < slurm.settings.pollInterval { return }
        slurmJobs.lastRound = clock
        await refreshIdleUnits(slurm)
        let tracked = active.filter { $0.value.slurmJobID != nil }
        guard !tracked.isEmpty else { return }
        let queue: [SlurmText.QueueRow]
        do {
            queue = try await slurm.queue()
        } catch {
            noteSlurmError(error, while: "reading the queue")
            return
        }
        let rows = Dictionary(queue.map { ($0.slurmJobID, $0) }, uniquingKeysWith: { first, _ in first })
        var ended: [LogShipper.Key] = []
        for (key, record) in tracked.sorted(by: { $0.key.jobID < $1.key.jobID }) {
            guard let id = record.slurmJobID else { continue }
            // A row with our id but another name is not ours: a controller that lost its state
            // numbers jobs from 1 again. Ours is then gone, and accounting decides.
            guard let row = rows[id], row.name == SlurmText.jobName(key.jobID, attempt: key.attempt),
                  !SlurmText.terminalStates.contains(row.state)
            else {
                ended.append(key)
                continue
            }
            slurmJobs.unaccountedSince[key] = nil
            if SlurmText.pendingStates.contains(row.state) {
                try await checkPending(key, row: row, slurm: slurm)
            } else {
                slurmJobs.unrunnableSince[key] = nil
                if record.state == .starting { try markRunning(key, atMs: row.startedAt.map { $0 * 1000 } ?? now()) }
            }
            if record.cancelRequested, active[key] != nil { await sendCancel(key, slurmJobID: id, slurm: slurm) }
        }
        if try await settleEnded(ended, slurm: slurm) { lastSlurmErrorCleared() }
    }

    /// How often `sinfo` is asked what the cluster has free.
    static let capacityRefreshInterval: Duration = .seconds(30)

    /// Asks `sinfo` what each pool's partition has free, every `capacityRefreshInterval` (or
    /// `poll_interval`, if longer). A failure keeps the last answer.
    private func refreshIdleUnits(_ slurm: SlurmDriver) async {
        guard slurm.settings.capacity == .idle else { return }
        let interval = max(Self.capacityRefreshInterval, slurm.settings.pollInterval)
        if let last = slurmJobs.lastCapacityRefresh, ContinuousClock.now - last < interval { return }
        slurmJobs.lastCapacityRefresh = .now
        for pool in pools {
            do {
                slurmJobs.idle[pool.acceleratorClass.rawValue] = try await slurm.idleUnits(pool)
            } catch {
                noteSlurmError(error, while: "reading what partition \(pool.partition ?? "?") has free")
            }
        }
    }

    /// Free units as reported to the coordinator: what Estuary's own jobs leave and, with
    /// `capacity = "idle"` (the default), no more than the cluster has idle (other users' jobs
    /// hold units too). Admission itself counts Estuary's jobs only: a job sent when the cluster
    /// just filled waits in Slurm's queue.
    func reportedFreeUnits(of pool: PoolDefinition) -> Int {
        let own = freeUnits(of: pool)
        guard let slurm, slurm.settings.capacity == .idle, let idle = slurmJobs.idle[pool.acceleratorClass.rawValue] else { return own }
        return min(own, idle)
    }

    /// `sbatch` commands run at once: slurmctld answers each in milliseconds, and most of a
    /// submission's time is the command's own start-up, which overlaps well.
    static let parallelSubmissions = 8

    /// Submits every accepted job that has no Slurm id yet (looking up uncertain ones first),
    /// `parallelSubmissions` at a time.
    private func submitPending(_ slurm: SlurmDriver) async throws {
        let waiting = active.filter { $0.value.slurmJobID == nil && !$0.value.state.isTerminal }
            .sorted { ($0.value.acceptedAtMs, $0.key.jobID) < ($1.value.acceptedAtMs, $1.key.jobID) }
        var ready: [(LogShipper.Key, JobRecord, PoolDefinition)] = []
        for (key, _) in waiting {
            if let retry = slurmJobs.retrySubmitAt[key], ContinuousClock.now < retry { continue }
            guard let record = active[key], record.slurmJobID == nil, !slurmJobs.inFlight.contains(key) else { continue }
            if slurmJobs.uncertain.contains(key) {
                let found: [String]
                do {
                    found = try await slurm.find(name: SlurmText.jobName(record.jobID, attempt: record.attempt))
                } catch {
                    noteSlurmError(error, while: "looking up job \(record.jobID) by name")
                    slurmJobs.retrySubmitAt[key] = .now + .seconds(5)
                    continue
                }
                slurmJobs.uncertain.remove(key)
                if let id = found.sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }).first {
                    logger.info("re-adopted a Slurm job submitted before the agent stopped", metadata: ["job": "\(record.jobID)", "slurm_job": "\(id)"])
                    try recordSubmission(key, slurmJobID: id, slurm: slurm)
                    continue
                }
            }
            guard let record = active[key] else { continue }
            if record.cancelRequested {
                try finish(key, state: .cancelled, message: "cancelled before it started", usage: nil)
                continue
            }
            guard let pool = pools.first(where: { $0.acceleratorClass.rawValue == record.acceleratorClass }) else {
                try finish(key, state: .rejected, message: "this site has no pool of class \(record.acceleratorClass)", usage: nil)
                continue
            }
            ready.append((key, record, pool))
        }
        let siteID = site.id
        for batch in stride(from: 0, to: ready.count, by: Self.parallelSubmissions).map({ ready[$0..<min($0 + Self.parallelSubmissions, ready.count)] }) {
            for (key, _, _) in batch { slurmJobs.inFlight.insert(key) }
            let results = await withTaskGroup(of: (LogShipper.Key, SlurmDriver.SubmitResult).self) { group in
                for (key, record, pool) in batch {
                    group.addTask { (key, await slurm.submit(record, pool: pool, siteID: siteID)) }
                }
                var results: [(LogShipper.Key, SlurmDriver.SubmitResult)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (key, result) in results {
                slurmJobs.inFlight.remove(key)
                let job = key.jobID
                switch result {
                case .submitted(let id):
                    logger.debug("submitted to Slurm", metadata: ["job": "\(job)", "slurm_job": "\(id)"])
                    if active[key] == nil {
                        // Ended while sbatch ran (it cannot be: only a cancel of a job in flight
                        // waits for it); never leave a Slurm job nobody tracks.
                        await sendCancel(key, slurmJobID: id, slurm: slurm, force: true)
                        continue
                    }
                    try recordSubmission(key, slurmJobID: id, slurm: slurm)
                case .refused(let why):
                    try finish(key, state: .rejected, message: "Slurm refused the job: \(why)", usage: nil)
                case .unreachable(let why):
                    // The job may exist: find it by name before submitting again.
                    slurmJobs.uncertain.insert(key)
                    slurmJobs.retrySubmitAt[key] = .now + .seconds(5)
                    noteSlurmError(SlurmCommandError(command: "sbatch", detail: why), while: "submitting job \(job)")
                }
            }
        }
    }

    /// Records the Slurm id of a submitted attempt; a cancel that arrived meanwhile is sent on.
    private func recordSubmission(_ key: LogShipper.Key, slurmJobID: String, slurm: SlurmDriver) throws {
        guard var record = active[key] else { return }
        let directory = slurm.jobDirectory(for: record.jobID, attempt: record.attempt)
        record.slurmJobID = slurmJobID
        record.jobDirectory = directory
        active[key] = record
        // Output is followed from RUNNING on: a queued job has none, and looking for the files
        // of a thousand queued jobs four times a second costs more than all the rest.
        if record.state == .running { logs.follow(key, directory: directory) }
        try store.save(record, emitting: [], nowMs: now())
        slurmJobs.retrySubmitAt[key] = nil
        if record.cancelRequested { slurmJobs.lastRound = nil }
    }

    private func markRunning(_ key: LogShipper.Key, atMs: Int64) throws {
        guard var record = active[key], record.state == .starting else { return }
        record.state = .running
        record.startedAtMs = atMs
        try store.save(record, emitting: [JobReports.update(record, state: .running, atMs: atMs, message: "Slurm job \(record.slurmJobID ?? "") started")], nowMs: now())
        active[key] = record
        if let directory = record.jobDirectory { logs.follow(key, directory: directory) }
        outboxChanged()
    }

    /// A pending job whose reason Slurm will not resolve is cancelled after the grace and
    /// reported rejected (once Slurm confirms it never started).
    private func checkPending(_ key: LogShipper.Key, row: SlurmText.QueueRow, slurm: SlurmDriver) async throws {
        guard SlurmText.isUnrunnable(row) else {
            slurmJobs.unrunnableSince[key] = nil
            return
        }
        let since = slurmJobs.unrunnableSince[key] ?? .now
        slurmJobs.unrunnableSince[key] = since
        guard slurmJobs.rejections[key] == nil, ContinuousClock.now - since >= slurm.settings.unrunnableGrace,
              let record = active[key] else { return }
        let why = "Slurm cannot run it: job \(row.slurmJobID) pending with reason \(row.reason) for \(slurm.settings.unrunnableGrace); cancelled so that it can be placed elsewhere"
        slurmJobs.rejections[key] = why
        logger.warning("giving back a job Slurm cannot run", metadata: ["job": "\(record.jobID)", "reason": "\(row.reason)"])
        await sendCancel(key, slurmJobID: row.slurmJobID, slurm: slurm, force: true)
    }

    private func sendCancel(_ key: LogShipper.Key, slurmJobID: String, slurm: SlurmDriver, force: Bool = false) async {
        if !force, let last = slurmJobs.lastCancel[key], ContinuousClock.now - last < .seconds(10) { return }
        slurmJobs.lastCancel[key] = .now
        do {
            try await slurm.cancel(slurmJobID)
        } catch {
            noteSlurmError(error, while: "cancelling Slurm job \(slurmJobID)")
        }
    }

    /// Jobs that left the queue (or show an ended state): their accounting record ends them.
    /// Returns whether accounting answered (or was not needed).
    private func settleEnded(_ keys: [LogShipper.Key], slurm: SlurmDriver) async throws -> Bool {
        guard !keys.isEmpty else { return true }
        var names: [String: String] = [:]
        for key in keys { if let id = active[key]?.slurmJobID { names[id] = SlurmText.jobName(key.jobID, attempt: key.attempt) } }
        var rows: [String: SlurmText.AccountingRow] = [:]
        var failure: String?
        do {
            // Slurm job ids start again from 1 when a controller loses its state, and the
            // job-completion log keeps the old jobs: only a row with our job name is ours.
            for row in try await slurm.accounting(Array(names.keys)) where row.name == names[row.slurmJobID] {
                if let earlier = rows[row.slurmJobID], (earlier.endedAt ?? 0) > (row.endedAt ?? 0) { continue }
                rows[row.slurmJobID] = row
            }
        } catch {
            failure = error.description
            noteSlurmError(error, while: "reading accounting")
        }
        for key in keys {
            guard let record = active[key], let id = record.slurmJobID else { continue }
            if let row = rows[id],
               let outcome = SlurmText.outcome(
                   of: row, walltimeSeconds: Int(record.spec.walltimeSeconds), cancelRequested: record.cancelRequested,
                   rejection: slurmJobs.rejections[key], seenRunning: record.state == .running)
            {
                var usage: (Int64, Int64)?
                if outcome.ran, let started = row.startedAt, let ended = row.endedAt {
                    usage = (started * 1000, ended * 1000)
                    try markRunning(key, atMs: started * 1000)
                }
                try finish(key, state: outcome.state, message: outcome.message, usage: usage, exitCode: outcome.exitCode, signal: outcome.signal)
                continue
            }
            let since = slurmJobs.unaccountedSince[key] ?? .now
            slurmJobs.unaccountedSince[key] = since
            if ContinuousClock.now - since >= slurm.settings.accountingGrace {
                let why = failure.map { "accounting is unavailable (\($0))" } ?? "accounting has no record of it"
                try finish(
                    key, state: .lost,
                    message: "Slurm job \(id) left the queue and \(why) after \(slurm.settings.accountingGrace); its outcome is unknown",
                    usage: nil)
            }
        }
        return failure == nil
    }

    private func noteSlurmError(_ error: any Error, while doing: String) {
        let text = "\(error)"
        guard slurmJobs.lastError != text else { return }
        slurmJobs.lastError = text
        logger.warning("Slurm command failed; will retry", metadata: ["while": "\(doing)", "error": "\(text)"])
    }

    private func lastSlurmErrorCleared() {
        if slurmJobs.lastError != nil { logger.info("Slurm answers again") }
        slurmJobs.lastError = nil
    }
}
