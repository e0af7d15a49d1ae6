import EstuaryGossip
import EstuaryModel
import EstuaryScheduler

extension CoordinatorCore {
    /// What this coordinator's sites offer now, as gossip carries it (one summary per site).
    /// Free units are what the scheduler would still place here: the site's report less holds.
    func capacitySummaries(origin: String) -> [EstuaryGossip.CapacitySummary] {
        let now = clock()
        return sites.values.sorted { $0.descriptor.id < $1.descriptor.id }.map { site in
            let id = site.descriptor.id
            var free: [String: Int] = [:]
            var total: [String: Int] = [:]
            for pool in site.pools.values {
                total[pool.acceleratorClass.rawValue] = pool.count
                free[pool.acceleratorClass.rawValue] = site.acceptsWork ? unpromised(pool, at: id) : 0
            }
            let book = meter.bookInForce(site: id, nowMs: now) ?? site.descriptor.priceBook
            let prices = site.pools.keys.compactMap { book.fenPerUnitHour($0, atMs: now) }
            return EstuaryGossip.CapacitySummary(
                site: id.rawValue, origin: origin, version: 0, region: site.descriptor.region, freeUnits: free, totalUnits: total,
                priceIndexMinor: prices.min() ?? 0, greenShareBP: site.descriptor.energy.greenShareBP, reachable: site.acceptsWork)
        }
    }

    /// The free units of `pool` that this coordinator's scheduler has not promised to a job:
    /// what other coordinators may count on.
    func unpromised(_ pool: PoolCapacity, at site: SiteID) -> Int {
        max(0, min(pool.free, pool.count - scheduler.allocatedUnits(site: site, cls: pool.acceleratorClass)))
    }

    /// Replaces the latency of region pairs the mesh measured or estimated; pairs it knows
    /// nothing about keep the configured figure. Returns whether the scheduler's matrix changed
    /// (its latency rows are rebuilt then, so unchanged figures change nothing).
    @discardableResult
    func applyMeshLatency(_ pairs: [RegionPair: Int]) -> Bool {
        var matrix = configuration.policy.latency
        for (pair, ms) in pairs { matrix.set(pair.a, pair.b, ms: ms) }
        guard matrix != scheduler.policy.latency else { return false }
        scheduler.policy.latency = matrix
        requestPlacement()
        return true
    }
}

/// An unordered pair of regions.
struct RegionPair: Hashable, Sendable {
    let a: String
    let b: String

    init(_ x: String, _ y: String) {
        (a, b) = x <= y ? (x, y) : (y, x)
    }
}
