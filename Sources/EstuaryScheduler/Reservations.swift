import EstuaryModel

// EASY-style backfill. When a tenant's best job is blocked only by busy pools, the pass
// reserves the pool where it could start earliest: a shadow time T (from the expected ends of
// the pool's allocations, held/confirmed time + walltime) and the units it needs. A later job
// of the same pass may take units of that pool only if it ends by T, or if the units free at T
// still cover every reservation active then. Other pools are unaffected.

extension Scheduler {
    /// Reserves the pool where a blocked job could start earliest; nil when no pool ever
    /// could (as far as the scheduler can see), so that such a job blocks nothing.
    mutating func reserve(_ slot: Int, signature: Int, nowMs: Int64) -> Reservation? {
        let units = jobs[slot].units
        let walltimeMs = jobs[slot].walltimeMs
        let quotaFiltered = tenants[jobs[slot].tenant].quotaLimits != nil
        var best: (startMs: Int64, ref: PoolRef)?
        for ref in staticPools(signature, units: units, quotaFiltered: quotaFiltered, sorted: true) {
            guard let start = earliestStart(pool: ref.pool, units: units, walltimeMs: walltimeMs, nowMs: nowMs) else { continue }
            if best == nil || start < best!.startMs { best = (start, ref) }
        }
        guard let best else { return nil }
        let pool = best.ref.pool
        let released = sortedEnds(pool: pool).releasedBy(best.startMs)
        poolReservations[pool, default: []].append(
            PoolReservation(
                job: slot, id: jobs[slot].job.id, units: units, startMs: best.startMs, endMs: best.startMs.saturatingAdd(walltimeMs),
                releasedByStart: released))
        live[pool].reservations += 1
        syncRow(pool)
        let reservation = Reservation(
            job: jobs[slot].job.id, site: slots[best.ref.site].id, cls: classFacts[pools[pool].classId].name, units: units,
            startMs: best.startMs, madeAtMs: nowMs)
        lastReservations[reservation.job] = reservation
        return reservation
    }

    /// Pools a job of `units` could use under its signature's static rules, by class then site
    /// rank, or with `sorted` by site rank then class (with `quotaFiltered`, only classes
    /// `allowedScratch` lets through).
    func staticPools(_ signature: Int, units: Int, quotaFiltered: Bool, sorted: Bool) -> [PoolRef] {
        let entry = signatureEntries[signature]
        let bits = entry.bits
        var refs: [PoolRef] = []
        for (classSlot, classId) in entry.classIds.enumerated() {
            if quotaFiltered && !allowedScratch[classSlot] { continue }
            for (index, row) in classTables[classId].rows.enumerated() {
                if let bits, !Self.test(bits, row.site) { continue }
                guard live[row.pool].count >= units else { continue }
                if let maxPrice = entry.maxPriceFen {
                    let price = entry.effective.isEmpty ? row.listPrice : entry.effective[classSlot][index]
                    if price < 0 || price.saturatingMultiply(Int64(units)) > maxPrice { continue }
                }
                refs.append(PoolRef(pool: row.pool, site: row.site, classSlot: classSlot))
            }
        }
        if sorted && entry.classIds.count > 1 {
            refs.sort {
                slots[$0.site].rank != slots[$1.site].rank ? slots[$0.site].rank < slots[$1.site].rank : $0.classSlot < $1.classSlot
            }
        }
        return refs
    }

    /// A pool's allocations by expected end, cached until they change. Ends before now count
    /// as now: the queries are all at now or later.
    mutating func sortedEnds(pool: Int) -> SortedEnds {
        if let cached = endsCache[pool], cached.version == pools[pool].allocationVersion { return cached }
        let sorted = pools[pool].allocations.map { (endMs: $0.endMs, units: $0.units) }.sorted { $0.endMs < $1.endMs }
        var released = [0]
        released.reserveCapacity(sorted.count + 1)
        for end in sorted { released.append(released[released.count - 1] + end.units) }
        let ends = SortedEnds(version: pools[pool].allocationVersion, ends: sorted.map(\.endMs), released: released)
        endsCache[pool] = ends
        return ends
    }

    /// The earliest time `units` could run for `walltimeMs` in a pool without touching the
    /// reservations already there.
    mutating func earliestStart(pool: Int, units: Int, walltimeMs: Int64, nowMs: Int64) -> Int64? {
        let free = live[pool].free
        let ends = sortedEnds(pool: pool)
        guard free + ends.released[ends.released.count - 1] >= units else { return nil }
        let reservations = poolReservations[pool] ?? []
        var starts = [nowMs]
        for end in ends.ends where end > nowMs { starts.append(end) }
        for reservation in reservations where reservation.endMs > nowMs { starts.append(reservation.endMs) }
        starts.sort()
        var previous: Int64?
        for start in starts where start != previous {
            previous = start
            let end = start.saturatingAdd(walltimeMs)
            // Enough units at the start and whenever another reservation begins during the run.
            var fits = free + ends.releasedBy(start) - activeReserved(reservations, atMs: start) >= units
            for reservation in reservations where fits && reservation.startMs > start && reservation.startMs < end {
                fits = free + ends.releasedBy(reservation.startMs) - activeReserved(reservations, atMs: reservation.startMs) >= units
            }
            if fits { return start }
        }
        return nil
    }

    func activeReserved(_ reservations: [PoolReservation], atMs: Int64) -> Int {
        var units = 0
        for reservation in reservations where reservation.startMs <= atMs && atMs < reservation.endMs { units += reservation.units }
        return units
    }

    /// Whether a job of `units` ending at `endMs` may take units of a reserved pool now.
    func backfillAllowed(pool: Int, units: Int, endMs: Int64) -> Bool {
        guard let reservations = poolReservations[pool] else { return true }
        let free = live[pool].free
        for reservation in reservations where endMs > reservation.startMs {
            if free - units + reservation.releasedByStart < activeReserved(reservations, atMs: reservation.startMs) { return false }
        }
        return true
    }

    /// A job just took units of a reserved pool: count them back for reservations it ends before.
    mutating func noteBackfill(pool: Int, units: Int, endMs: Int64) {
        guard var reservations = poolReservations[pool] else { return }
        for index in reservations.indices where endMs <= reservations[index].startMs {
            reservations[index].releasedByStart += units
        }
        poolReservations[pool] = reservations
    }
}
