import EstuaryLedger
import EstuaryModel
import EstuaryStore
import EstuaryWire

extension CoordinatorCore {
    /// Applies a batch of reliable upstream envelopes (JobUpdate, UsageBatch) from one session
    /// in one transaction together with the site's cursor, and returns the new cursor to ack.
    /// Envelopes at or below the cursor are duplicates from a resend: skipped, still acked.
    func applyUpstream(site siteID: SiteID, link: SiteLink, envelopes: [Estuary_V1_Envelope]) async throws -> UInt64 {
        // Read first, before any state is looked at: the rest runs without suspending.
        let storedJobs = try await storedJobs(forUsageIn: envelopes, site: siteID)
        guard sites[siteID]?.link === link, var cursor = cursors[siteID] else {
            throw SessionFailure(code: .sessionReplaced, message: "this session was replaced")
        }
        var changes: [(JobRecord, JobEventRecord)] = []
        var usage: [UsageRecord] = []
        var gap: SessionFailure?
        var foreign = 0
        var inactive: [JobID] = []
        for envelope in envelopes {
            guard envelope.seq > cursor.seq else { continue }
            if envelope.seq != cursor.seq + 1 {
                // Applying past a gap would make the missing messages look like duplicates when
                // they arrive; stop here, and the agent resends from the cursor after reconnect.
                gap = SessionFailure(
                    code: .protocolViolation,
                    message: "upstream seq \(envelope.seq) after \(cursor.seq): a gap; resend from \(cursor.seq + 1)")
                break
            }
            cursor.seq = envelope.seq
            switch envelope.body {
            case .jobUpdate(let update):
                // A peer speaks only for itself: an update about a job placed at another site
                // is refused and counted, never applied.
                let id = JobID(rawValue: update.jobID)
                guard let job = active[id] else {
                    inactive.append(id)  // judged against the store below
                    continue
                }
                if job.siteID != siteID {
                    foreign += 1
                    continue
                }
                if let change = apply(update, from: siteID) { changes.append(change) }
            case .usage(let batch):
                for record in batch.records {
                    guard let parsed = try? UsageRecord(wire: record, siteID: siteID) else {
                        logger.warning("malformed usage record ignored", metadata: ["site": "\(siteID)", "record": "\(record.recordID)"])
                        continue
                    }
                    usage.append(parsed)
                }
            default:
                continue
            }
        }
        cursors[siteID] = cursor
        let records = changes
        let (epoch, seq) = cursor
        let now = clock()
        let inactiveUpdates = inactive
        let energy = sites[siteID]?.descriptor.energy ?? .unstated
        // The jobs as this batch leaves them (a job that just ended is no longer active): the
        // usage check and rating need no store read and no JSON decode for them.
        var knownJobs: [JobID: JobRecord] = [:]
        knownJobs.reserveCapacity(usage.count + changes.count)
        for record in usage {
            knownJobs[record.jobID] = active[record.jobID] ?? recentlyEnded[record.jobID] ?? storedJobs[record.jobID]
        }
        for (job, _) in changes { knownJobs[job.id] = job }
        let meter = self.meter
        // Usage of jobs forwarded here is rated at their home coordinator: relayed, not posted.
        let relay = try relayedUsage(&usage, site: siteID, jobs: knownJobs).map { peer, records in
            (peer, try MeshMessage.usage(records).encoded())
        }
        // Checked and rated here, off the store's writer; the write decides what is new and posts.
        let prepared = meter.prepareUsage(usage, site: siteID, jobs: knownJobs, energy: energy, nowMs: now)
        let (skipped, foreignInactive) = try await commit(store.enqueueWrite { tx -> (Int, Int) in
            // Updates about finished jobs are stale when the job ran here (a late report after
            // the job was declared lost, say), and foreign when it did not, or never existed.
            var foreignInactive = 0
            for id in inactiveUpdates where try tx.job(id)?.siteID != siteID { foreignInactive += 1 }
            try self.record(records, tx)
            // Rated and posted in this same transaction, only when the record is new: a resent
            // record is neither stored nor charged again (docs/MONEY.md, exactly once).
            let posted = try meter.postUsage(prepared, tx: tx)
            for (peer, body) in relay { try tx.appendMeshOutbox(peer: peer, body: body, atMs: now) }
            try tx.setCursor(site: siteID, epoch: epoch, seq: seq)
            return (posted.skipped, foreignInactive)
        })
        foreign += foreignInactive
        if skipped + foreign > 0 {
            // Usage for a job that did not run here never reaches the ledger.
            logger.warning(
                "refused upstream messages about jobs not at this site",
                metadata: ["site": "\(siteID)", "job_updates": "\(foreign)", "usage_records": "\(skipped)"])
            countRefused(site: siteID, skipped + foreign)
        }
        if records.contains(where: { !$0.0.state.holdsCapacity }) { requestPlacement() }
        if !relay.isEmpty || records.contains(where: { $0.0.origin != nil }) { signalOutbox() }
        if let gap { throw gap }
        return seq
    }

    /// The stored records of the jobs that new usage in `envelopes` names and that the
    /// coordinator no longer holds in memory (they ended before a restart, or left the cache of
    /// recently ended jobs). Such jobs are final and never change again, so they are read here,
    /// on a reader connection, instead of by the store's single writer inside the write.
    func storedJobs(forUsageIn envelopes: [Estuary_V1_Envelope], site: SiteID) async throws -> [JobID: JobRecord] {
        let after = cursors[site]?.seq ?? 0
        var missing: Set<JobID> = []
        for envelope in envelopes where envelope.seq > after {
            guard case .usage(let batch) = envelope.body else { continue }
            for record in batch.records {
                let id = JobID(rawValue: record.jobID)
                if active[id] == nil, recentlyEnded[id] == nil { missing.insert(id) }
            }
        }
        guard !missing.isEmpty else { return [:] }
        let ids = missing
        return try await store.read { tx in
            var found: [JobID: JobRecord] = [:]
            for id in ids { if let job = try tx.job(id) { found[id] = job } }
            return found
        }
    }

    /// Decides what one JobUpdate does to its job: a transition, or nothing when it is stale
    /// (older attempt, another site, or a step backwards) or a duplicate.
    func apply(_ update: Estuary_V1_JobUpdate, from siteID: SiteID) -> (JobRecord, JobEventRecord)? {
        let id = JobID(rawValue: update.jobID)
        guard var job = active[id], job.siteID == siteID, UInt32(job.attempt) == update.attempt else {
            logger.debug("stale job update ignored", metadata: ["job": "\(update.jobID)", "site": "\(siteID)"])
            return nil
        }
        let source = "site:\(siteID)"
        let siteAt = update.atMs == 0 ? nil : update.atMs
        if update.hasExitCode_p { job.exitCode = Int(update.exitCode) }
        if update.signal != 0 { job.signal = Int(update.signal) }
        let next: JobState
        var cause = update.message
        switch update.state {
        case .starting: next = .starting
        case .running: next = .running
        case .succeeded: next = .succeeded
        case .failed: next = .failed
        case .cancelled: next = .cancelled
        case .lost: next = .lost
        case .rejected:
            guard job.state == .placed || job.state == .starting else { return nil }
            let reason = update.message.isEmpty ? "no reason given" : update.message
            if job.cancelRequested {
                return transitioned(job, to: .cancelled, cause: job.cancelReason ?? "cancelled", source: source, siteAtMs: siteAt)
            }
            if job.attempt >= configuration.maxAttempts && job.origin == nil {
                return transitioned(
                    job, to: .failed, cause: "rejected \(job.attempt) times; last by \(siteID): \(reason)", source: source,
                    siteAtMs: siteAt)
            }
            return transitioned(job, to: .queued, cause: "rejected by \(siteID): \(reason)", source: source, siteAtMs: siteAt)
        case .unspecified, .UNRECOGNIZED:
            return nil
        }
        guard next.progress > job.state.progress, job.state.canTransition(to: next) else { return nil }
        if cause.isEmpty {
            switch next {
            case .succeeded: cause = "exit code 0"
            case .failed: cause = job.signal.map { "killed by signal \($0)" } ?? "exit code \(job.exitCode ?? -1)"
            case .starting: cause = "accepted by \(siteID)"
            case .running: cause = "started at \(siteID)"
            case .cancelled: cause = job.cancelReason ?? "cancelled at the site"
            default: cause = "reported by \(siteID)"
            }
        }
        return transitioned(job, to: next, cause: cause, source: source, siteAtMs: siteAt)
    }
}

extension CoordinatorCore {
    /// `transition` for callers that want the changed job and its event as one value.
    func transitioned(
        _ job: JobRecord, to next: JobState, cause: String, source: String, siteAtMs: Int64? = nil
    ) -> (JobRecord, JobEventRecord) {
        var changed = job
        let event = transition(&changed, to: next, cause: cause, source: source, siteAtMs: siteAtMs)
        return (changed, event)
    }
}

/// A reason to end a session with an Error envelope.
struct SessionFailure: Error {
    var code: Estuary_V1_ErrorCode
    var message: String
}
