import EstuaryModel

/// What trying one queued job came to.
enum Attempt {
    case placed(Placement)
    case deferred(Deferment)
    /// Some pool could take it but none has room now.
    case busy(signature: Int)
    case quota
    case unplaceable
}

extension Scheduler {
    /// One scheduling pass: tries queued jobs in weighted dominant-resource-fair order across
    /// tenants (priority, then submit time, within a tenant) and holds capacity for each
    /// placement at once. At most `limit` placements.
    public mutating func schedule(nowMs: Int64, limit: Int = .max) -> SchedulingPass {
        beginPass(nowMs: nowMs)
        var pass = SchedulingPass()
        guard limit > 0 else { return pass }
        var heap = TenantHeap()
        for tenant in tenants.indices where tenants[tenant].queued > 0 {
            heap.push(TenantHeap.Key(share: tenants[tenant].share, rank: tenants[tenant].rank, tenant: tenant))
        }
        var reservationsLeft = max(0, policy.reservationDepth)
        // A job no pool can ever hold gets no reservation; a few of the tenant's next jobs may
        // try instead, but the tries are bounded so that a full queue stays cheap.
        var triesLeft = 4 * reservationsLeft
        passLoop: while let top = heap.popMin() {
            let tenant = top.tenant
            while let slot = nextQueued(tenant) {
                switch tryPlace(slot, nowMs: nowMs) {
                case .placed(let placement):
                    pass.placements.append(placement)
                    if pass.placements.count >= limit { break passLoop }
                    // The tenant's share grew: it goes back in line.
                    if tenants[tenant].cursor < tenants[tenant].queue.count {
                        heap.push(TenantHeap.Key(share: tenants[tenant].share, rank: tenants[tenant].rank, tenant: tenant))
                    }
                    continue passLoop
                case .deferred(let deferment):
                    pass.deferred.append(deferment)
                case .busy(let signature):
                    if reservationsLeft > 0 && triesLeft > 0 && !tenants[tenant].reserved && tenants[tenant].reservationTries < 4 {
                        tenants[tenant].reservationTries += 1
                        triesLeft -= 1
                        if let reservation = reserve(slot, signature: signature, nowMs: nowMs) {
                            tenants[tenant].reserved = true
                            reservationsLeft -= 1
                            pass.reservations.append(reservation)
                        }
                    }
                case .quota, .unplaceable:
                    break
                }
            }
        }
        endPass()
        return pass
    }

    mutating func beginPass(nowMs: Int64) {
        refreshIndexes()
        passNumber &+= 1
        if passNumber == 0 { passNumber = 1 }
        for pool in poolReservations.keys {
            live[pool].reservations = 0
            syncRow(pool)
        }
        poolReservations.removeAll()
        lastReservations.removeAll()
        deferralCache = DeferralCache()
        // Caches keyed by what jobs name (regions, zones) are rebuilt rather than let grow.
        if latencyRows.count > 4096 { latencyRows.removeAll() }
        if filterOf.count > 4096 || ruleBits.count > 4096 {
            filterOf.removeAll()
            filters.removeAll()
            ruleBits.removeAll()
        }
        passWeights = [PlacementPreference.cheapest, .fastest, .greenest, .balanced].map { normalisedWeights($0) }
        for tenant in tenants.indices where tenants[tenant].queued > 0 || !tenants[tenant].pending.isEmpty {
            mergePending(tenant)
            tenants[tenant].cursor = tenants[tenant].head
            tenants[tenant].reserved = false
            tenants[tenant].reservationTries = 0
            tenants[tenant].share = dominantShare(tenants[tenant], totals: classTotals)
            let tenantPolicy = policy.tenant(tenants[tenant].id)
            tenants[tenant].weight = Double(max(1, tenantPolicy.weight))
            let quotas = tenantPolicy.quotas
            if quotas.isEmpty {
                tenants[tenant].quotaLimits = nil
            } else {
                var limits = Array(repeating: Int.max, count: classFacts.count)
                for (cls, limit) in quotas {
                    let classId = internClass(cls)
                    if classId >= limits.count { limits += Array(repeating: Int.max, count: classId + 1 - limits.count) }
                    limits[classId] = limit
                }
                tenants[tenant].quotaLimits = limits
            }
        }
    }

    mutating func endPass() {
        for tenant in tenants.indices where tenants[tenant].head < tenants[tenant].queue.count {
            compactQueue(tenant)
        }
    }

    /// The next live queued job of a tenant in this pass.
    mutating func nextQueued(_ tenant: Int) -> Int? {
        while tenants[tenant].cursor < tenants[tenant].queue.count {
            let entry = tenants[tenant].queue[tenants[tenant].cursor]
            tenants[tenant].cursor += 1
            if isLive(entry) { return entry.job }
        }
        return nil
    }

    /// Weighted dominant share: the largest fraction of any class's available units the tenant
    /// holds, divided by its weight.
    func dominantShare(_ tenant: TenantState, totals: [Int]) -> Double {
        var share = 0.0
        for (classId, units) in tenant.usage.enumerated() where units > 0 && classId < totals.count && totals[classId] > 0 {
            share = max(share, Double(units) / Double(totals[classId]))
        }
        return share / Double(max(1, policy.tenant(tenant.id).weight))
    }

    /// Current weighted dominant share of every tenant that holds or queues something.
    public func tenantShares() -> [TenantID: Double] {
        let totals = totalsDirty ? computeTotals() : classTotals
        var shares: [TenantID: Double] = [:]
        for tenant in tenants where tenant.queued > 0 || tenant.usage.contains(where: { $0 > 0 }) {
            shares[tenant.id] = dominantShare(tenant, totals: totals)
        }
        return shares
    }

    /// Tries to place one queued job now.
    mutating func tryPlace(_ slot: Int, nowMs: Int64) -> Attempt {
        let units = jobs[slot].units
        let walltimeMs = jobs[slot].walltimeMs
        let tenant = jobs[slot].tenant
        if let notBefore = jobs[slot].job.deferral?.notBeforeMs, notBefore > nowMs {
            return .deferred(
                Deferment(
                    job: jobs[slot].job.id, untilMs: notBefore,
                    reason: "not before its start time, in \(Format.duration(ms: notBefore - nowMs))"))
        }
        var signature = jobs[slot].signature
        prepareEntry(signature, nowMs: nowMs)
        // Fields of the entry, not the entry: copying it would retain every array it holds.
        if units > signatureEntries[signature].maxUnitCap {
            guard forgetExclusions(slot, nowMs: nowMs) else { return .unplaceable }
            signature = jobs[slot].signature
        }
        let classIds = signatureEntries[signature].classIds

        let limits = tenants[tenant].quotaLimits
        if let limits {
            allowedScratch.removeAll(keepingCapacity: true)
            var anyAllowed = false
            for classId in classIds {
                let limit = classId < limits.count ? limits[classId] : .max
                let allowed = units <= limit - tenants[tenant].held(classId)
                allowedScratch.append(allowed)
                anyAllowed = anyAllowed || allowed
            }
            if !anyAllowed { return .quota }
        }

        if let deferral = jobs[slot].job.deferral, deferral.deferrable, let deadline = deferral.deadlineMs {
            let latestStart = deadline.saturatingAdd(-walltimeMs)
            if nowMs < latestStart.saturatingAdd(-deferralSlackMs),
                let deferment = deferIfBetter(slot, signature: signature, nowMs: nowMs, latestStartMs: latestStart)
            {
                return .deferred(deferment)
            }
        }

        for failure in signatureEntries[signature].failures where units >= failure.units && walltimeMs >= failure.walltimeMs {
            return .busy(signature: signature)
        }

        let endMs = nowMs.saturatingAdd(walltimeMs)
        let latency = latencyRow(from: jobs[slot].job.constraints.fromRegion)
        let dataRegion = jobs[slot].job.constraints.dataRegion.map { regionIds[$0] ?? -2 } ?? -1
        let scanned = scanSignature(
            signature, classIds: classIds, latency: latency.criterion,
            job: ScanJob(units: units, maxPriceFen: signatureEntries[signature].maxPriceFen, dataRegion: dataRegion, endMs: endMs),
            quotaFiltered: limits != nil)
        guard scanned.count > 0 else {
            if limits == nil {
                let failure = (units: units, walltimeMs: scanned.blockedByReservation ? walltimeMs : 0)
                if signatureEntries[signature].failures.count < 8 {
                    signatureEntries[signature].failures.append(failure)
                } else {
                    signatureEntries[signature].failures[7] = failure
                }
            }
            return .busy(signature: signature)
        }

        let preference = jobs[slot].job.preference ?? policy.defaultPreference
        // The lowest score; an exact tie goes to the lower site id, then the lower class name.
        let lo = scanned.lo
        let k = Criteria(coefficients: passWeights[Self.presetIndex(preference)], lo: lo, hi: scanned.hi)
        var best = 0
        var bestScore = Double.infinity
        for index in 0..<scanned.count {
            let score = k.weigh(fitScratch[index].x, lo: lo)
            if score < bestScore || (score == bestScore && fitBefore(fitScratch[index], fitScratch[best], classIds: classIds)) {
                best = index
                bestScore = score
            }
        }
        let chosen = fitScratch[best]
        let classSlot = Int(chosen.classSlot)
        let classId = classIds[classSlot]
        let row = classTables[classId].rows[Int(chosen.row)]
        let pool = row.pool
        let site = row.site
        let effectiveAll = signatureEntries[signature].effective
        let priceFen = max(0, effectiveAll.isEmpty ? row.listPrice : effectiveAll[classSlot][Int(chosen.row)])
        let reason = placementReason(
            preference, priceFen: priceFen, latencyMs: latency.ms[row.region], carbonPerUnitHour: row.carbon,
            fitCount: scanned.count, units: units, walltimeMs: walltimeMs)

        leaveQueue(slot)
        hold(slot, pool: pool, atMs: nowMs)
        if live[pool].reservations > 0 { noteBackfill(pool: pool, units: units, endMs: endMs) }
        if classId < classTotals.count, classTotals[classId] > 0 {
            let share = Double(tenants[tenant].held(classId)) / Double(classTotals[classId]) / tenants[tenant].weight
            tenants[tenant].share = max(tenants[tenant].share, share)
        }
        return .placed(
            Placement(
                job: jobs[slot].job.id, site: slots[site].id, cls: classFacts[classId].name, units: units, score: bestScore,
                reason: reason, holdExpiresAtMs: nowMs.saturatingAdd(policy.holdTimeoutMs)))
    }
}

extension Scheduler {
    func fitBefore(_ a: FitRow, _ b: FitRow, classIds: [Int]) -> Bool {
        let rankA = slots[classTables[classIds[Int(a.classSlot)]].rows[Int(a.row)].site].rank
        let rankB = slots[classTables[classIds[Int(b.classSlot)]].rows[Int(b.row)].site].rank
        return rankA != rankB ? rankA < rankB : a.classSlot < b.classSlot
    }
}

/// Tenants by (weighted dominant share, tenant id): the lowest goes next.
struct TenantHeap {
    struct Key {
        var share: Double
        var rank: Int
        var tenant: Int

        @inline(__always)
        static func before(_ a: Key, _ b: Key) -> Bool { a.share != b.share ? a.share < b.share : a.rank < b.rank }
    }

    private var items: [Key] = []

    mutating func push(_ key: Key) {
        items.append(key)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Key.before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> Key? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && Key.before(items[left], items[smallest]) { smallest = left }
                if right < items.count && Key.before(items[right], items[smallest]) { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
