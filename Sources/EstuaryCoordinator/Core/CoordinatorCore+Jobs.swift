import EstuaryModel
import EstuaryStore
import EstuaryWire

extension CoordinatorCore {
    /// Records a new job (or finds the one its idempotency key names) and queues it.
    func submit(_ spec: JobSpec) async throws -> SubmitView {
        let problems = spec.validate()
        if !problems.isEmpty { throw BackendError.invalid(problems) }
        // A repeated idempotency key is found inside the write transaction below, which is the
        // only place the check is race-free; a separate read first would only duplicate it.
        let now = clock()
        let id = ids.next(nowMs: now, random: random.next())
        var job = JobRecord(id: id, spec: spec, state: .queued, createdAtMs: now, updatedAtMs: now)
        let events = [
            JobEventRecord(jobID: id, state: .submitted, atMs: now, cause: "submitted via API", source: "api", siteID: nil, attempt: 0),
            JobEventRecord(jobID: id, state: .queued, atMs: now, cause: "waiting for a site", source: "scheduler", siteID: nil, attempt: 0),
        ]
        let record = job
        let existing: JobRecord? = try await commit(
            store.enqueueWrite { tx in
                if let key = spec.idempotencyKey, let existing = try tx.job(tenant: spec.tenant, idempotencyKey: key) {
                    return existing
                }
                try tx.insertJob(record)
                for event in events { try tx.appendEvent(event) }
                return nil
            })
        if let existing { return try Self.matchExisting(existing, spec: spec) }
        job.updatedAtMs = now
        active[id] = job
        queue.insert(spec, id: id)
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
            try await commit(store.enqueueWrite { tx in
                try tx.updateJob(record)
                try tx.appendEvent(event)
            })
            return job.view()
        }
        if job.cancelRequested { return job.view() }
        job.cancelRequested = true
        job.cancelReason = cause
        job.updatedAtMs = clock()
        active[id] = job
        let record = job
        try await commit(store.enqueueWrite { tx in try tx.updateJob(record) })
        if let site = job.siteID, !uncommittedPlacements.contains(id) {
            sites[site]?.link?.sendReliable(.jobCancel(.with { $0.jobID = id.rawValue; $0.reason = cause }))
        }
        return (active[id] ?? job).view()
    }

    /// Places queued jobs on connected sites with free capacity of their class: the simple rule
    /// until the scheduler issue replaces it. Gangs land whole on one site; among sites that fit,
    /// the one with most free units wins (spreads load), ties by site id.
    func placeQueued() async {
        var placements: [(JobRecord, JobEventRecord)] = []
        for (acceleratorClass, entries) in queue.byClass {
            var candidates = sites.filter { $0.value.acceptsWork && $0.value.pools[acceleratorClass] != nil }.map(\.key)
            candidates.sort()
            guard !candidates.isEmpty else { continue }
            var free = Dictionary(uniqueKeysWithValues: candidates.map { ($0, sites[$0]!.freeUnits(acceleratorClass)) })
            var maxFree = free.values.max() ?? 0
            var remaining: [PlacementQueue.Entry] = []
            for entry in entries {
                guard maxFree > 0, var job = active[entry.id] else {
                    remaining.append(entry)
                    continue
                }
                let units = job.spec.resources.totalUnits
                guard units <= maxFree,
                    let site = candidates.filter({ free[$0]! >= units }).max(by: { free[$0]! < free[$1]! || (free[$0]! == free[$1]! && $0 > $1) })
                else {
                    remaining.append(entry)
                    continue
                }
                job.state = .placed
                job.siteID = site
                job.attempt += 1
                job.updatedAtMs = clock()
                active[job.id] = job
                allocate(job, on: site)
                free[site]! -= units
                maxFree = free.values.max() ?? 0
                uncommittedPlacements.insert(job.id)
                let event = JobEventRecord(
                    jobID: job.id, state: .placed, atMs: job.updatedAtMs, cause: "placed on \(site): \(units) × \(acceleratorClass) free",
                    source: "scheduler", siteID: site, attempt: job.attempt)
                placements.append((job, event))
            }
            queue.replace(acceleratorClass, with: remaining)
        }
        guard !placements.isEmpty else { return }
        let records = placements
        do {
            try await commit(store.enqueueWrite { tx in
                for (job, event) in records {
                    try tx.updateJob(job)
                    try tx.appendEvent(event)
                }
            })
        } catch {
            return
        }
        for (placed, _) in placements {
            uncommittedPlacements.remove(placed.id)
            // The job may have moved on (cancelled, lost) while the commit was in flight.
            guard let job = active[placed.id], job.attempt == placed.attempt, let site = job.siteID,
                let link = sites[site]?.link
            else { continue }
            link.sendReliable(.jobAssign(Self.assign(job)))
            if job.cancelRequested {
                link.sendReliable(.jobCancel(.with { $0.jobID = job.id.rawValue; $0.reason = job.cancelReason ?? "cancelled" }))
            }
        }
        logger.debug("placed jobs", metadata: ["count": "\(placements.count)", "queued": "\(queue.count)"])
    }

    static func assign(_ job: JobRecord) -> Estuary_V1_JobAssign {
        .with {
            $0.jobID = job.id.rawValue
            $0.attempt = UInt32(job.attempt)
            $0.spec = Estuary_V1_JobSpec(job.spec)
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
