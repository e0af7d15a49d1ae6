import EstuaryModel

// Queues, holds and allocations: everything that changes when a job enters, is placed,
// accepted, rejected or ends.

extension Scheduler {
    // MARK: queue

    /// Queues a job. A job id the scheduler already knows (queued, held or running) is left alone.
    public mutating func enqueue(_ job: SchedulerJob) {
        guard jobSlotOf[job.id] == nil else { return }
        let slot = makeRecord(job)
        pushQueue(slot)
    }

    /// Drops a queued job (cancelled before placement); no-op for unknown or placed jobs.
    public mutating func dequeue(_ id: JobID) {
        guard let slot = jobSlotOf[id], jobs[slot].phase == .queued else { return }
        leaveQueue(slot)
        freeRecord(slot)
    }

    // MARK: allocations

    /// Re-creates a placed job after a coordinator restart: held (waiting for the site) or
    /// confirmed (running). The site need not be upserted yet.
    public mutating func restore(_ job: SchedulerJob, site: SiteID, cls: AcceleratorClass, heldAtMs: Int64, confirmed: Bool) {
        if jobSlotOf[job.id] != nil { release(job.id) }
        let slot = makeRecord(job)
        let pool = poolFor(slot: slotFor(site), classId: internClass(cls))
        hold(slot, pool: pool, atMs: heldAtMs)
        if confirmed { markConfirmed(slot, atMs: heldAtMs) }
    }

    /// The site accepted the job: the hold becomes an allocation that no longer expires, and
    /// the wait feeds the site's expected-start estimate.
    public mutating func confirm(_ id: JobID, atMs: Int64) {
        guard let slot = jobSlotOf[id], jobs[slot].phase == .held else { return }
        let site = pools[jobs[slot].pool].site
        let sample = max(0, atMs - jobs[slot].heldAtMs)
        // Integer EWMA with α = 1/8: steady under jitter, follows a site whose queue grows.
        let ewma = slots[site].acceptEWMAms.map { $0 + (sample - $0) / 8 } ?? sample
        slots[site].acceptEWMAms = ewma
        siteStart[site] = Double(ewma)
        markConfirmed(slot, atMs: atMs)
    }

    /// The job ended (any terminal state) or was cancelled: its units are free again.
    public mutating func release(_ id: JobID) {
        guard let slot = jobSlotOf[id] else { return }
        switch jobs[slot].phase {
        case .queued: leaveQueue(slot)
        case .held, .confirmed: freeAllocation(slot)
        case .free: return
        }
        freeRecord(slot)
    }

    /// The site rejected the job or its hold lapsed: free the units and queue the job again,
    /// never to that site, keeping its submit time (so it keeps its place).
    public mutating func requeue(_ id: JobID, excluding site: SiteID, atMs: Int64) {
        guard let slot = jobSlotOf[id] else { return }
        let phase = jobs[slot].phase
        if phase == .held || phase == .confirmed { freeAllocation(slot) }
        jobs[slot].job.excludedSites.insert(site)
        if jobs[slot].attempts > 0 { jobs[slot].rejectedOnAttempt[site] = jobs[slot].attempts }
        let previous = jobs[slot].signature
        jobs[slot].signature = signatureId(for: jobs[slot].job)
        releaseSignature(previous)
        if phase != .queued { pushQueue(slot) }
    }

    /// Sites that rejected a job are avoided only while another site could run it: when the
    /// exclusions leave no pool that passes the job's rules, the job forgets them and may go
    /// back (the coordinator's attempt limit bounds the retries). True when that made the job
    /// placeable again.
    mutating func forgetExclusions(_ slot: Int, nowMs: Int64) -> Bool {
        guard !jobs[slot].job.excludedSites.isEmpty else { return false }
        var open = jobs[slot].job
        open.excludedSites = []
        let candidate = signatureId(for: open)
        prepareEntry(candidate, nowMs: nowMs)
        guard jobs[slot].units <= signatureEntries[candidate].maxUnitCap else {
            releaseSignature(candidate)
            return false
        }
        let previous = jobs[slot].signature
        jobs[slot].job.excludedSites = []
        jobs[slot].signature = candidate
        releaseSignature(previous)
        return true
    }

    /// Unconfirmed holds at least `policy.holdTimeoutMs` old, by job id.
    public func expiredHolds(nowMs: Int64) -> [JobID] {
        var expired: [JobID] = []
        var index = holdHead
        while index < holdQueue.count {
            let entry = holdQueue[index]
            if entry.heldAtMs.saturatingAdd(policy.holdTimeoutMs) > nowMs { break }
            if isLive(entry) { expired.append(jobs[entry.job].job.id) }
            index += 1
        }
        return expired.sorted()
    }

    // MARK: records

    /// `tasks × count`, at least 1 and at most 2³⁰ (validation keeps real jobs far below).
    static func units(of request: ResourceRequest) -> Int {
        max(1, clampUnits(max(1, request.count).saturatingMultiply(max(1, request.tasks))))
    }

    mutating func makeRecord(_ job: SchedulerJob) -> Int {
        let tenant = tenantFor(job.tenant)
        let walltimeMs = Int64(max(1, job.walltimeSeconds)).saturatingMultiply(1000)
        let record = JobRecord(
            job: job, phase: .queued, tenant: tenant, units: Self.units(of: job.resources), walltimeMs: walltimeMs,
            signature: signatureId(for: job))
        let slot: Int
        if let reused = freeJobSlots.popLast() {
            slot = reused
            jobs[slot] = record
        } else {
            slot = jobs.count
            jobs.append(record)
        }
        jobSlotOf[job.id] = slot
        return slot
    }

    mutating func freeRecord(_ slot: Int) {
        jobSlotOf[jobs[slot].job.id] = nil
        releaseSignature(jobs[slot].signature)
        jobs[slot].phase = .free
        jobs[slot].rejectedOnAttempt = [:]
        freeJobSlots.append(slot)
    }

    mutating func tenantFor(_ id: TenantID) -> Int {
        if let index = tenantOf[id] { return index }
        let index = tenants.count
        tenants.append(TenantState(id: id))
        tenantOf[id] = index
        tenantRanksDirty = true
        return index
    }

    mutating func takeToken() -> UInt64 {
        defer { nextToken &+= 1 }
        return nextToken
    }

    // MARK: queues

    mutating func pushQueue(_ slot: Int) {
        let token = takeToken()
        jobs[slot].phase = .queued
        jobs[slot].queueToken = token
        let tenant = jobs[slot].tenant
        tenants[tenant].pending.append(
            QueueEntry(priority: jobs[slot].job.priority, submittedAtMs: jobs[slot].job.submittedAtMs, job: slot, token: token))
        tenants[tenant].queued += 1
        queuedCount += 1
    }

    mutating func leaveQueue(_ slot: Int) {
        let tenant = jobs[slot].tenant
        jobs[slot].queueToken = 0
        tenants[tenant].queued -= 1
        tenants[tenant].stale += 1
        queuedCount -= 1
    }

    func isLive(_ entry: QueueEntry) -> Bool {
        jobs[entry.job].queueToken == entry.token && jobs[entry.job].phase == .queued
    }

    /// Priority (higher first), then submit time, then job id.
    func queueOrder(_ a: QueueEntry, _ b: QueueEntry) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.submittedAtMs != b.submittedAtMs { return a.submittedAtMs < b.submittedAtMs }
        return jobs[a.job].job.id < jobs[b.job].job.id
    }

    /// Sorts what was enqueued since the last pass into the tenant's queue. New jobs usually
    /// sort after every queued one (same priority, later submit), which is an append.
    mutating func mergePending(_ tenant: Int) {
        compactQueue(tenant)
        guard !tenants[tenant].pending.isEmpty else { return }
        var pending = tenants[tenant].pending.filter { isLive($0) }
        tenants[tenant].pending.removeAll()
        pending.sort { queueOrder($0, $1) }
        guard let firstNew = pending.first else { return }
        let head = tenants[tenant].head
        // The last live entry (a dead one's job slot may hold another job by now).
        var lastLive = tenants[tenant].queue.count - 1
        while lastLive >= head && !isLive(tenants[tenant].queue[lastLive]) { lastLive -= 1 }
        if lastLive >= head && queueOrder(firstNew, tenants[tenant].queue[lastLive]) {
            var merged: [QueueEntry] = []
            merged.reserveCapacity(tenants[tenant].queue.count - head + pending.count)
            var i = head
            var j = 0
            let queue = tenants[tenant].queue
            while i < queue.count || j < pending.count {
                if i < queue.count && !isLive(queue[i]) {
                    i += 1
                } else if j == pending.count || (i < queue.count && !queueOrder(pending[j], queue[i])) {
                    merged.append(queue[i])
                    i += 1
                } else {
                    merged.append(pending[j])
                    j += 1
                }
            }
            tenants[tenant].queue = merged
            tenants[tenant].head = 0
            tenants[tenant].stale = 0
        } else {
            tenants[tenant].queue += pending
        }
    }

    /// Drops the stale prefix, and every stale entry once they are half the queue.
    mutating func compactQueue(_ tenant: Int) {
        while tenants[tenant].head < tenants[tenant].queue.count, !isLive(tenants[tenant].queue[tenants[tenant].head]) {
            tenants[tenant].head += 1
        }
        let head = tenants[tenant].head
        let count = tenants[tenant].queue.count
        if head == count {
            tenants[tenant].queue.removeAll(keepingCapacity: count < 4096)
            tenants[tenant].head = 0
            tenants[tenant].stale = 0
        } else if (head > 1024 && head * 2 > count) || (tenants[tenant].stale > 1024 && tenants[tenant].stale * 2 > count - head) {
            tenants[tenant].queue = tenants[tenant].queue[head...].filter { isLive($0) }
            tenants[tenant].head = 0
            tenants[tenant].stale = 0
        }
    }

    // MARK: holds

    mutating func hold(_ slot: Int, pool: Int, atMs: Int64) {
        let units = jobs[slot].units
        pools[pool].allocated += units
        pools[pool].unconfirmed += units
        jobs[slot].allocationIndex = pools[pool].allocations.count
        pools[pool].allocationVersion += 1
        pools[pool].allocations.append(PoolAllocation(job: slot, units: units, endMs: atMs.saturatingAdd(jobs[slot].walltimeMs)))
        refreshLive(pool)
        let token = takeToken()
        jobs[slot].phase = .held
        jobs[slot].pool = pool
        jobs[slot].heldAtMs = atMs
        jobs[slot].attempts += 1
        jobs[slot].holdToken = token
        tenants[jobs[slot].tenant].add(units, classId: pools[pool].classId)
        let entry = HoldEntry(heldAtMs: atMs, job: slot, token: token)
        if let last = holdQueue.last, last.heldAtMs > atMs {
            var low = holdHead
            var high = holdQueue.count
            while low < high {
                let mid = (low + high) / 2
                if holdQueue[mid].heldAtMs <= atMs { low = mid + 1 } else { high = mid }
            }
            holdQueue.insert(entry, at: low)
        } else {
            holdQueue.append(entry)
        }
    }

    func isLive(_ entry: HoldEntry) -> Bool {
        jobs[entry.job].holdToken == entry.token && jobs[entry.job].phase == .held
    }

    mutating func markConfirmed(_ slot: Int, atMs: Int64) {
        let pool = jobs[slot].pool
        pools[pool].unconfirmed -= jobs[slot].units
        pools[pool].allocations[jobs[slot].allocationIndex].endMs = atMs.saturatingAdd(jobs[slot].walltimeMs)
        pools[pool].allocationVersion += 1
        refreshLive(pool)
        jobs[slot].phase = .confirmed
        jobs[slot].holdToken = 0
        holdStale += 1
        trimHoldQueue()
    }

    mutating func freeAllocation(_ slot: Int) {
        let pool = jobs[slot].pool
        let units = jobs[slot].units
        pools[pool].allocated -= units
        if jobs[slot].phase == .held { pools[pool].unconfirmed -= units }
        let index = jobs[slot].allocationIndex
        let last = pools[pool].allocations.count - 1
        if index != last {
            pools[pool].allocations[index] = pools[pool].allocations[last]
            jobs[pools[pool].allocations[index].job].allocationIndex = index
        }
        pools[pool].allocations.removeLast()
        pools[pool].allocationVersion += 1
        jobs[slot].allocationIndex = -1
        refreshLive(pool)
        tenants[jobs[slot].tenant].add(-units, classId: pools[pool].classId)
        if jobs[slot].phase == .held { holdStale += 1 }
        jobs[slot].holdToken = 0
        jobs[slot].pool = -1
        trimHoldQueue()
    }

    /// Drops stale entries at the front, and all of them once they dominate.
    mutating func trimHoldQueue() {
        while holdHead < holdQueue.count, !isLive(holdQueue[holdHead]) {
            holdHead += 1
            holdStale = max(0, holdStale - 1)
        }
        if holdHead == holdQueue.count {
            holdQueue.removeAll(keepingCapacity: holdQueue.count < 4096)
            holdHead = 0
            holdStale = 0
        } else if holdStale > 1024 && holdStale * 2 > holdQueue.count - holdHead {
            // Confirmed jobs leave stale entries behind live ones; sweep them.
            holdQueue = holdQueue[holdHead...].filter { isLive($0) }
            holdHead = 0
            holdStale = 0
        } else if holdHead > 1024 && holdHead * 2 > holdQueue.count {
            holdQueue.removeFirst(holdHead)
            holdHead = 0
        }
    }
}
