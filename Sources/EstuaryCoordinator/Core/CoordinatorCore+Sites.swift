import EstuaryModel
import EstuaryStore
import EstuaryWire

/// What a new session needs to start: where the agent resumes. (The commands it must be sent
/// are already queued on its link.)
struct AttachResult: Sendable {
    var resumeFrom: UInt64
}

extension CoordinatorCore {
    /// Registers a session for the site in `hello`, replacing any older session of that site,
    /// and reconciles the site's jobs with what the agent says it knows (PROTOCOL.md §6).
    func attach(hello: Estuary_V1_Hello, descriptor: SiteDescriptor, link: SiteLink) async throws -> AttachResult {
        let siteID = descriptor.id
        let epoch = hello.outboxEpoch
        let stored = try await store.read { tx in try tx.cursor(site: siteID, epoch: epoch) }
        let now = clock()

        if let old = sites[siteID]?.link, old !== link {
            logger.warning("site reconnected; replacing its older session", metadata: ["site": "\(siteID)"])
            old.close(with: .with {
                $0.error = .with {
                    $0.code = .sessionReplaced
                    $0.message = "a newer session for site \(siteID) replaced this one"
                    $0.fatal = true
                }
            })
        }
        var site = sites[siteID] ?? LiveSite(descriptor: descriptor, firstSeenMs: now, lastSeenMs: now)
        site.descriptor = descriptor
        site.link = link
        site.agentVersion = hello.agentVersion
        site.lastSeenMs = now
        site.unreachableSinceMs = nil
        sites[siteID] = site
        // A local site wins over a peer's site of the same id (ids are per coordinator).
        remoteSites[siteID] = nil
        syncScheduler(site: siteID)

        // The cached cursor (same epoch) includes writes queued but not yet committed, which
        // commit before anything this session queues; otherwise the stored one is current.
        var resume = stored
        if let cached = cursors[siteID], cached.epoch == epoch { resume = cached.seq }
        var rewound = false
        if hello.nextSeq > 0, hello.nextSeq - 1 < resume {
            rewound = true
            // The agent's outbox is behind our cursor (restored from a backup, say): its new
            // messages would all look like duplicates. Rewind to where it is; resent old
            // messages are harmless (stale updates are ignored, usage dedups by record id).
            logger.warning(
                "agent outbox behind the coordinator's cursor; rewinding",
                metadata: ["site": "\(siteID)", "cursor": "\(resume)", "next_seq": "\(hello.nextSeq)"])
            resume = hello.nextSeq - 1
        }
        cursors[siteID] = (epoch, resume)

        // Running jobs the agent no longer knows are lost (commands are sent after the commit).
        let known = Dictionary(hello.knownJobs.map { ($0.jobID, $0) }, uniquingKeysWith: { a, b in a.attempt >= b.attempt ? a : b })
        var changes: [(JobRecord, JobEventRecord)] = []
        // Filtered before sorting: with many sites, most active jobs are elsewhere.
        for var job in active.values.filter({ $0.siteID == siteID && ($0.state == .starting || $0.state == .running) })
            .sorted(by: { $0.id < $1.id })
        {
            if let ref = known[job.id.rawValue], ref.attempt == UInt32(job.attempt) { continue }
            let event = transition(&job, to: .lost, cause: "site no longer knows the job", source: "coordinator")
            changes.append((job, event))
        }
        let record = SiteRecord(
            descriptor: descriptor, pools: Array(site.pools.values), agentVersion: hello.agentVersion,
            firstSeenMs: site.firstSeenMs, lastSeenMs: now, draining: site.draining)
        let lost = changes
        let cursor = resume
        let persistRewind = rewound
        try await commit(store.enqueueWrite { tx in
            try tx.upsertSite(record)
            // A rewind must be durable: otherwise a later session would resume from the old,
            // higher cursor and the agent would drop messages that were never applied.
            if persistRewind { try tx.setCursor(site: siteID, epoch: epoch, seq: cursor) }
            try self.record(lost, tx)
            // The site's own price book becomes a price version unless an administrator set
            // the site's prices (docs/MONEY.md).
            _ = try self.meter.observeAgentPrices(site: siteID, book: descriptor.priceBook, nowMs: now, tx: tx)
            try self.meter.observeProvider(site: siteID, tx: tx)
        })
        // Commands are computed from the state after the commit, so a cancel that arrived while
        // we waited is not overtaken by a resent assign. The link's writer starts after Welcome,
        // so they still follow it.
        if sites[siteID]?.link === link {
            for command in reconcileCommands(site: siteID, known: known) { link.sendReliable(command) }
        }
        requestPlacement()
        return AttachResult(resumeFrom: resume)
    }

    /// What a site must be told after (re)connecting, given the jobs it says it knows.
    func reconcileCommands(site siteID: SiteID, known: [String: Estuary_V1_JobRef]) -> [Estuary_V1_Envelope.OneOf_Body] {
        var commands: [Estuary_V1_Envelope.OneOf_Body] = []
        for job in active.values.filter({ $0.siteID == siteID && $0.state.holdsCapacity }).sorted(by: { $0.id < $1.id }) {
            if uncommittedPlacements.contains(job.id) { continue }
            let ref = known[job.id.rawValue]
            if ref == nil || ref!.attempt != UInt32(job.attempt) {
                if job.state == .placed { commands.append(.jobAssign(Self.assign(job))) }
            }
            if job.cancelRequested { commands.append(.jobCancel(Self.cancelCommand(job))) }
        }
        for (id, ref) in known.sorted(by: { $0.key < $1.key }) where !Self.isTerminal(ref.state) {
            let job = active[JobID(rawValue: id)]
            if job == nil || job!.siteID != siteID || UInt32(job!.attempt) != ref.attempt {
                commands.append(.jobCancel(.with { $0.jobID = id; $0.reason = "the coordinator no longer assigns this job here" }))
            }
        }
        return commands
    }

    static func cancelCommand(_ job: JobRecord) -> Estuary_V1_JobCancel {
        .with {
            $0.jobID = job.id.rawValue
            $0.reason = job.cancelReason ?? "cancelled"
        }
    }

    static func isTerminal(_ state: Estuary_V1_JobState) -> Bool {
        switch state {
        case .succeeded, .failed, .cancelled, .lost, .rejected: true
        default: false
        }
    }

    /// Whether `job` is active at `site` (log chunks are accepted only for such jobs).
    func isActive(_ job: JobID, at site: SiteID) -> Bool {
        active[job]?.siteID == site
    }

    /// The session ended. Its jobs keep their capacity until the site returns or is lost.
    func detach(site siteID: SiteID, link: SiteLink) {
        guard sites[siteID]?.link === link else { return }
        sites[siteID]?.link = nil
        sites[siteID]?.unreachableSinceMs = clock()
        syncScheduler(site: siteID)
        logger.info("site disconnected", metadata: ["site": "\(siteID)", "session": "\(link.sessionID)"])
    }

    /// Cuts the site's live session, if any (revocation, expired certificate): the agent gets
    /// a fatal UNAUTHORIZED Error and the stream ends. Its jobs are treated as after any
    /// disconnect: they keep their capacity until the site returns or `lostAfter` passes.
    func disconnect(site siteID: SiteID, reason: String) {
        guard let link = sites[siteID]?.link else { return }
        logger.warning("cutting site session", metadata: ["site": "\(siteID)", "reason": "\(reason)"])
        link.close(with: SessionHandler.errorEnvelope(.unauthorized, reason))
    }

    /// Counts upstream messages refused because they named another site's jobs.
    func countRefused(site siteID: SiteID, _ count: Int) {
        guard count > 0 else { return }
        sites[siteID]?.refusedMessages += count
        refusedMessagesTotal += count
    }

    /// Any envelope from the site proves it alive.
    func touch(site siteID: SiteID, link: SiteLink) {
        guard sites[siteID]?.link === link else { return }
        sites[siteID]?.lastSeenMs = clock()
        if sites[siteID]?.unreachableSinceMs != nil {
            sites[siteID]?.unreachableSinceMs = nil
            syncScheduler(site: siteID)
            requestPlacement()
        }
    }

    func capacity(site siteID: SiteID, link: SiteLink, report: Estuary_V1_CapacityReport) async {
        guard var site = sites[siteID], site.link === link else { return }
        let before = site.pools
        var pools = report.full ? [:] : site.pools
        for pool in report.pools {
            guard let capacity = try? PoolCapacity(wire: pool) else {
                logger.warning("malformed pool in capacity report ignored", metadata: ["site": "\(siteID)"])
                continue
            }
            pools[capacity.acceleratorClass] = capacity
        }
        site.pools = pools
        site.lastSeenMs = clock()
        let returned = site.unreachableSinceMs != nil
        site.unreachableSinceMs = nil
        sites[siteID] = site
        // Every report reconciles the scheduler's view of free units (holds the site has not
        // seen yet stay held; units others use at the site are subtracted).
        scheduler.updatePools(site: siteID, pools: site.schedulerPools)
        if returned { syncScheduler(site: siteID) }
        // Persist only when the shape changes (classes or counts), not the free figures of
        // every report: thousands of sites report every few seconds.
        let shape = { (pools: [AcceleratorClass: PoolCapacity]) in pools.mapValues { [$0.count, $0.simulated ? 1 : 0] } }
        if shape(before) != shape(pools) {
            let record = SiteRecord(
                descriptor: site.descriptor, pools: pools.values.sorted { $0.acceleratorClass < $1.acceleratorClass },
                agentVersion: site.agentVersion, firstSeenMs: site.firstSeenMs, lastSeenMs: site.lastSeenMs,
                draining: site.draining)
            _ = try? await commit(store.enqueueWrite { tx in try tx.upsertSite(record) })
            requestPlacement()
        } else if zip(before.values.sorted { $0.acceleratorClass < $1.acceleratorClass }, pools.values.sorted { $0.acceleratorClass < $1.acceleratorClass })
            .contains(where: { $0.free < $1.free })
        {
            requestPlacement()  // units freed at the site: queued jobs may fit now
        }
    }

    /// Marks silent sites unreachable, and the jobs of sites unreachable for too long lost;
    /// places again the jobs whose site never confirmed them; wakes deferred jobs.
    func sweep() async {
        let now = clock()
        var changes: [(JobRecord, JobEventRecord)] = []
        for (siteID, site) in sites {
            if site.unreachableSinceMs == nil, now - site.lastSeenMs > configuration.unreachableAfterMs {
                sites[siteID]?.unreachableSinceMs = site.lastSeenMs
                syncScheduler(site: siteID)
                logger.warning("site unreachable: no reports", metadata: ["site": "\(siteID)"])
            }
            guard let since = sites[siteID]?.unreachableSinceMs, now - since > configuration.lostAfterMs else { continue }
            for var job in active.values where job.siteID == siteID && job.state.holdsCapacity {
                let seconds = (now - since) / 1000
                let event = transition(&job, to: .lost, cause: "site \(siteID) unreachable for \(seconds) s", source: "coordinator")
                changes.append((job, event))
            }
        }
        // Holds no site confirmed in time: the job goes elsewhere (or fails after the attempt
        // limit), and the old site is told to drop it in case the assignment arrives late.
        var abandoned: [(SiteID, Estuary_V1_JobCancel)] = []
        let timeoutSeconds = scheduler.policy.holdTimeoutMs / 1000
        for id in scheduler.expiredHolds(nowMs: now) {
            guard var job = active[id], job.state == .placed, let site = job.siteID else { continue }
            if uncommittedPlacements.contains(id) { continue }
            // A forwarded job's runner decides: placing it elsewhere now could run it twice.
            // The runner's own hold timeout returns it (as rejected) if its site never accepts.
            if job.forwardedTo != nil { continue }
            abandoned.append((site, .with { $0.jobID = id.rawValue; $0.reason = "not accepted within \(timeoutSeconds) s; placed elsewhere" }))
            let event: JobEventRecord
            if job.attempt >= configuration.maxAttempts {
                event = transition(
                    &job, to: .failed, cause: "placed \(job.attempt) times; \(site) did not accept it within \(timeoutSeconds) s",
                    source: "scheduler")
            } else {
                event = transition(
                    &job, to: .queued, cause: "\(site) did not accept it within \(timeoutSeconds) s", source: "scheduler")
            }
            changes.append((job, event))
        }
        if meter.hasExpiredHolds(nowMs: now) {
            // Money held for jobs that never settled (docs/MONEY.md: holds lapse at walltime
            // plus a grace period, decided by the hold's own expiry, not by when we look).
            let expired = try? await commit(store.enqueueWrite { tx in try self.meter.expireHolds(nowMs: now, tx: tx) })
            for hold in expired ?? [] {
                logger.notice(
                    "money hold expired", metadata: ["job": "\(hold.job)", "tenant": "\(hold.tenant)", "fen": "\(hold.amount)"])
            }
        }
        if let due = nextPriceChangeMs, due <= now {
            nextPriceChangeMs = nil
            for id in sites.keys { syncScheduler(site: id) }
            requestPlacement()
        }
        var wake = false
        if let due = nextDeferralWakeMs, due <= now {
            nextDeferralWakeMs = nil
            wake = true
        }
        guard !changes.isEmpty else {
            if wake { requestPlacement() }
            return
        }
        let records = changes
        _ = try? await commit(store.enqueueWrite { tx in try self.record(records, tx) })
        for (site, cancel) in abandoned { sites[site]?.link?.sendReliable(.jobCancel(cancel)) }
        requestPlacement()
    }

    /// Sends Drain to every site and closes the sessions (graceful shutdown).
    func drainAll(retryAfterMs: UInt32) {
        for (_, site) in sites {
            site.link?.close(with: .with {
                $0.drain = .with {
                    $0.reason = "coordinator shutting down"
                    $0.retryAfterMs = retryAfterMs
                }
            })
        }
    }
}
