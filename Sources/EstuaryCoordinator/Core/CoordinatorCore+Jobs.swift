import EstuaryModel
import EstuaryScheduler
import EstuaryStore
import EstuaryWire

extension CoordinatorCore {
    /// Records a new job (or finds the one its idempotency key names) and queues it.
    /// `origin`: the job was forwarded by a peer coordinator (`stageForward`).
    func submit(_ spec: JobSpec, origin: JobOrigin? = nil) async throws -> SubmitView {
        try await stageSubmit(spec, origin: origin)()
    }

    /// `submit` with its write queued and not yet awaited: the returned completion awaits the
    /// commit and then queues the job (a mesh delivery stages its forwards this way, so that
    /// they share group commits).
    func stageSubmit(_ spec: JobSpec, origin: JobOrigin? = nil) throws -> @Sendable () async throws -> SubmitView {
        var problems = spec.validate()
        if origin == nil, spec.idempotencyKey?.hasPrefix("mesh:") == true {
            // The namespace of forwarded jobs' keys (`JobOrigin.idempotencyKey`): a user's key
            // there could stand in for a forward that has not arrived yet.
            problems.append(FieldError(field: "idempotency_key", message: "must not start with \"mesh:\" (reserved for forwarded jobs)"))
        }
        if !problems.isEmpty { throw BackendError.invalid(problems) }
        // A repeated idempotency key is found inside the write transaction below, which is the
        // only place the check is race-free; a separate read first would only duplicate it.
        let now = clock()
        let id = ids.next(nowMs: now, random: random.next())
        var job = JobRecord(id: id, spec: spec, state: .queued, createdAtMs: now, updatedAtMs: now, origin: origin)
        let submitted = origin.map { "forwarded by \($0.coordinator) (its job \($0.job), attempt \($0.attempt))" } ?? "submitted via API"
        let events = [
            JobEventRecord(
                jobID: id, state: .submitted, atMs: now, cause: submitted, source: origin == nil ? "api" : "mesh", siteID: nil,
                attempt: 0),
            JobEventRecord(jobID: id, state: .queued, atMs: now, cause: "waiting for a site", source: "scheduler", siteID: nil, attempt: 0),
        ]
        job.updatedAtMs = now
        let record = job
        let ticket = store.enqueueWrite { tx -> JobRecord? in
            if let key = spec.idempotencyKey, let existing = try tx.job(tenant: spec.tenant, idempotencyKey: key) {
                return existing
            }
            try tx.insertJob(record)
            for event in events { try tx.appendEvent(event) }
            return nil
        }
        return {
            if let existing = try await self.commit(ticket) { return try Self.matchExisting(existing, spec: spec) }
            return await self.queueSubmitted(record)
        }
    }

    /// A new job, committed: the scheduler hears of it.
    private func queueSubmitted(_ job: JobRecord) -> SubmitView {
        active[job.id] = job
        scheduler.enqueue(Self.schedulerJob(job))
        requestPlacement()
        return SubmitView(job: job.view(), created: true)
    }

    static func matchExisting(_ existing: JobRecord, spec: JobSpec) throws -> SubmitView {
        guard existing.spec == spec else {
            throw BackendError.conflict(
                "idempotency key \"\(spec.idempotencyKey ?? "")\" was already used by job \(existing.id) with a different spec")
        }
        return SubmitView(job: existing.view(), created: false)
    }

    /// Cancels a job. Queued jobs end at once; placed or running jobs are cancelled at their
    /// site, and end when the site confirms (or is lost).
    func cancel(_ id: JobID, reason: String) async throws -> JobView {
        guard var job = active[id] else {
            guard let stored = try await store.read({ tx in try tx.job(id) }) else {
                throw BackendError.notFound("job \(id)")
            }
            if let live = active[id] { return live.view() }  // became active while we read: unlikely
            throw BackendError.conflict("job \(id) is already \(stored.state); nothing to cancel")
        }
        let cause = reason.isEmpty ? "cancelled by user" : "cancelled by user: \(reason)"
        if job.state == .queued || job.state == .submitted {
            let event = transition(&job, to: .cancelled, cause: cause, source: "api")
            let record = job
            try await commit(store.enqueueWrite { tx in try self.record([(record, event)], tx) })
            return job.view()
        }
        if job.cancelRequested { return job.view() }
        job.cancelRequested = true
        job.cancelReason = cause
        job.updatedAtMs = clock()
        active[id] = job
        let record = job
        // A forwarded job is cancelled by its runner; the request travels in the outbox, after
        // the forward itself, and the runner's report ends the job here.
        let forward = try job.forwardedTo.map { peer in
            (peer, try MeshMessage.cancel(MeshCancel(job: id, attempt: job.attempt, tenant: job.spec.tenant, reason: cause)).encoded())
        }
        let now = job.updatedAtMs
        try await commit(store.enqueueWrite { tx in
            try tx.updateJob(record)
            if let (peer, body) = forward { try tx.appendMeshOutbox(peer: peer, body: body, atMs: now) }
        })
        if forward != nil {
            signalOutbox()
            return (active[id] ?? job).view()
        }
        if let site = job.siteID, !uncommittedPlacements.contains(id) {
            sites[site]?.link?.sendReliable(.jobCancel(.with { $0.jobID = id.rawValue; $0.reason = cause }))
        }
        return (active[id] ?? job).view()
    }

    /// Runs one scheduler pass (EstuaryScheduler: constraints, scoring, fair share, backfill,
    /// deferral) and commits its placements. The scheduler holds each placement's capacity at
    /// once; the site confirms (the job starts) or rejects it, and a hold that is never
    /// confirmed times out in ``sweep()``.
    func placeQueued() async {
        let now = clock()
        let pass = scheduler.schedule(nowMs: now)
        if let wake = pass.deferred.map(\.untilMs).min() {
            nextDeferralWakeMs = min(nextDeferralWakeMs ?? wake, wake)
        }
        // A deferred job's plan goes into its history once, and again only if it changes.
        var notes: [JobEventRecord] = []
        for deferment in pass.deferred where deferralNoted[deferment.job] != deferment.untilMs {
            guard let job = active[deferment.job] else { continue }
            deferralNoted[deferment.job] = deferment.untilMs
            notes.append(
                JobEventRecord(
                    jobID: job.id, state: job.state, atMs: now, cause: deferment.reason, source: "scheduler", siteID: nil,
                    attempt: job.attempt))
        }
        var placements: [(JobRecord, JobEventRecord)] = []
        placements.reserveCapacity(pass.placements.count)
        for placement in pass.placements {
            guard var job = active[placement.job], job.state == .queued || job.state == .submitted else {
                // The scheduler only holds jobs the core gave it; a mismatch is a bug, and the
                // hold must not leak.
                logger.error("scheduler placed a job that is not queued", metadata: ["job": "\(placement.job)"])
                scheduler.release(placement.job)
                continue
            }
            deferralNoted[job.id] = nil
            job.state = .placed
            job.siteID = placement.site
            job.placedClass = placement.cls
            job.forwardedTo = remoteSites[placement.site]?.peer
            job.attempt += 1
            job.updatedAtMs = now
            active[job.id] = job
            uncommittedPlacements.insert(job.id)
            let event = JobEventRecord(
                jobID: job.id, state: .placed, atMs: now,
                cause: "placed on \(placement.site): \(placement.units) × \(placement.cls); \(placement.reason)",
                source: "scheduler", siteID: placement.site, attempt: job.attempt)
            placements.append((job, event))
        }
        guard !placements.isEmpty || !notes.isEmpty else { return }
        let records = placements
        let deferrals = notes
        let units = Dictionary(pass.placements.map { ($0.job, $0.units) }, uniquingKeysWith: { a, _ in a })
        let refused: [JobID: String]
        do {
            refused = try await commit(store.enqueueWrite { tx -> [JobID: String] in
                for event in deferrals { try tx.appendEvent(event) }
                var refused: [JobID: String] = [:]
                for (job, event) in records {
                    try tx.updateJob(job)
                    try tx.appendEvent(event)
                    // A job forwarded here was admitted by its home coordinator, which holds
                    // the money; this coordinator does not know the tenant's wallet.
                    if job.origin != nil { continue }
                    // Admission: the tenant's wallet must cover the job's maximum cost before the
                    // site hears of it; otherwise the job does not start, and says why.
                    guard let site = job.siteID, let cls = job.placedClass,
                        let refusal = try self.meter.hold(
                            job: job, site: site, cls: cls, units: units[job.id] ?? job.spec.resources.totalUnits,
                            nowMs: now, tx: tx)
                    else { continue }
                    let cause = "not started: \(refusal)"
                    var failed = job
                    failed.state = .failed
                    try tx.updateJob(failed)
                    try tx.appendEvent(
                        JobEventRecord(
                            jobID: job.id, state: .failed, atMs: now, cause: cause, source: "ledger", siteID: site,
                            attempt: job.attempt))
                    refused[job.id] = cause
                }
                // Placements on a peer's site go to the peer, written with the placement so
                // that neither exists without the other.
                for (job, _) in records where refused[job.id] == nil {
                    guard let peer = job.forwardedTo, let site = job.siteID, let cls = job.placedClass else { continue }
                    let forward = MeshForward(job: job.id, attempt: job.attempt, spec: job.spec, site: site, cls: cls)
                    try tx.appendMeshOutbox(peer: peer, body: try MeshMessage.forward(forward).encoded(), atMs: now)
                }
                return refused
            })
        } catch {
            // `commit` has already stopped the coordinator (`onFatal`): nothing is assigned, and
            // the next start restores the queue from the store.
            return
        }
        for (id, cause) in refused {
            uncommittedPlacements.remove(id)
            guard var job = active[id] else { continue }
            _ = transition(&job, to: .failed, cause: cause, source: "ledger")  // already recorded above
        }
        for (placed, _) in placements where refused[placed.id] == nil {
            uncommittedPlacements.remove(placed.id)
            // The job may have moved on (cancelled, lost) while the commit was in flight.
            if placed.forwardedTo != nil {
                signalOutbox()
                continue
            }
            guard let job = active[placed.id], job.attempt == placed.attempt, let site = job.siteID,
                let link = sites[site]?.link
            else { continue }
            link.sendReliable(.jobAssign(Self.assign(job)))
            if job.cancelRequested {
                link.sendReliable(.jobCancel(.with { $0.jobID = job.id.rawValue; $0.reason = job.cancelReason ?? "cancelled" }))
            }
        }
        logger.debug("placed jobs", metadata: ["count": "\(placements.count)", "queued": "\(scheduler.queuedCount)"])
    }

    /// Why a job is where it is: for a queued job, every site and the rule that rules it out
    /// (`estuaryctl job explain`); for a placed or finished job, where it went.
    func explain(_ id: JobID) async throws -> ExplanationView {
        let now = clock()
        if let job = active[id] {
            if let explanation = scheduler.explain(id, nowMs: now) {
                return ExplanationView(explanation, state: job.state)
            }
            return ExplanationView(
                jobID: id, state: job.state, verdict: "placed",
                summary: "placed on \(job.siteID.map(\.rawValue) ?? "?") (\(job.placedClass.map(\.rawValue) ?? "?")), attempt \(job.attempt)",
                sites: [])
        }
        guard let stored = try await store.read({ tx in try tx.job(id) }) else { throw BackendError.notFound("job \(id)") }
        let place = stored.siteID.map { " on \($0)" } ?? ""
        return ExplanationView(jobID: id, state: stored.state, verdict: "finished", summary: "\(stored.state)\(place)", sites: [])
    }

    /// Where a job described by `spec` could run now, without submitting it (a dry run).
    func explain(spec: JobSpec) throws -> ExplanationView {
        let problems = spec.validate()
        if !problems.isEmpty { throw BackendError.invalid(problems) }
        let now = clock()
        let job = SchedulerJob(id: JobID(rawValue: "dry-run"), spec: spec, submittedAtMs: now)
        return ExplanationView(scheduler.explain(job: job, nowMs: now), state: .submitted)
    }

    /// Installed capacity, free units and PFLOPS per site, per region and for the mesh.
    func capacity() -> CapacitySummary {
        // Peers' sites are in the scheduler too, but they are theirs: `capacity --mesh` shows them.
        CapacitySummary(sites: scheduler.sites.values.filter { remoteSites[$0.id] == nil }, catalog: configuration.catalog)
    }

    static func assign(_ job: JobRecord) -> Estuary_V1_JobAssign {
        .with {
            $0.jobID = job.id.rawValue
            $0.attempt = UInt32(job.attempt)
            var spec = job.spec
            if let cls = job.placedClass { spec.resources = spec.resources.assigned(to: cls) }
            $0.spec = Estuary_V1_JobSpec(spec)
        }
    }

    /// Runs placement whenever something may have changed (a submit, a finished job, a site
    /// arriving). Signals coalesce, so a burst of submits costs a few passes, not one each.
    func runPlacementLoop() async {
        for await _ in placementRequests {
            await placeQueued()
        }
    }

    func stopPlacementLoop() { placementSignal.finish() }
}
