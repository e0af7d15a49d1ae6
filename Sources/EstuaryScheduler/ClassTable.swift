import EstuaryModel

/// The pools of one class at sites that take work, by site rank, with the criteria that
/// depend only on the site and the time. Valid until the next site change (`staticEpoch`) or
/// `validUntilMs`, the next tariff edge or local hour at any of its sites.
struct ClassTable: Sendable {
    var version: UInt64 = 0
    var epoch: UInt64 = .max
    var builtAtMs: Int64 = .max
    var validUntilMs: Int64 = .min
    var rows: [ClassRow] = []
}

/// One pool in a class table (plain data, read through a buffer pointer in the hot loop).
struct ClassRow: Sendable {
    var pool: Int
    var site: Int
    var region: Int
    /// A copy of `Scheduler.live[pool]`, kept in step (`syncRow`) so that the placement loop
    /// reads one sequential array.
    var live: PoolLive
    /// List price per unit-hour at the time of the build; -1 when the site publishes none.
    var listPrice: Int64
    var speed: Double
    /// g CO2 per unit-hour at the local hour of the build.
    var carbon: Double
}

extension Scheduler {
    mutating func refreshClassTable(_ classId: Int, nowMs: Int64) {
        let table = classTables[classId]
        if table.epoch == staticEpoch && table.builtAtMs <= nowMs && nowMs < table.validUntilMs { return }
        for row in table.rows where poolRow[row.pool] >= 0 && pools[row.pool].classId == classId { poolRow[row.pool] = -1 }
        var fresh = ClassTable()
        fresh.version = table.version &+ 1
        fresh.epoch = staticEpoch
        fresh.builtAtMs = nowMs
        var validUntil = Int64.max
        let facts = classFacts[classId]
        for pool in classIndex[classId] {
            let slot = pools[pool].site
            guard let site = slots[slot].site, site.status == .available else { continue }
            poolRow[pool] = fresh.rows.count
            fresh.rows.append(
                ClassRow(
                    pool: pool, site: slot, region: slots[slot].regionId, live: live[pool],
                    listPrice: site.priceBook.fenPerUnitHour(facts.name, atMs: nowMs) ?? -1, speed: speedCriterion(pool: pool),
                    carbon: Self.gramsPerUnitHour(facts, site.energy, localHour: Self.localHour(site.priceBook, atMs: nowMs))))
            validUntil = min(
                validUntil,
                Self.nextTariffBoundary(afterMs: nowMs, edges: slots[slot].tariffEdges, utcOffsetMinutes: site.priceBook.utcOffsetMinutes))
            if site.energy.hourlyGramsPerKWh.count == 24 {
                let offset = Int64(site.priceBook.utcOffsetMinutes) * 60_000
                validUntil = min(validUntil, (floorDiv(nowMs + offset, 3_600_000) + 1) * 3_600_000 - offset)
            }
        }
        fresh.validUntilMs = validUntil
        classTables[classId] = fresh
    }

    /// Copies a pool's live figures into its class-table row.
    mutating func syncRow(_ pool: Int) {
        let row = poolRow[pool]
        if row >= 0 { classTables[pools[pool].classId].rows[row].live = live[pool] }
    }

    mutating func internRegion(_ name: String) -> Int {
        if let id = regionIds[name] { return id }
        let id = regionNames.count
        regionIds[name] = id
        regionNames.append(name)
        staticEpoch &+= 1
        return id
    }
}
