import EstuaryModel

// Deferrable jobs wait for valley prices (or, for `greenest`, low-carbon hours) inside their
// deadline. For each pool that could run the job, the cost of starting at t is the integral
// of the rate over [t, t + walltime); the rate is piecewise constant between tariff edges (or
// local hours), so the cheapest start is now, an edge, an edge minus the walltime, or the
// latest start (deadline − walltime). The job waits only for a start strictly cheaper than the
// best start now, and never once the latest start is near.
//
// Most pools cannot win: for price, sites with the same periods share one timeline of time
// spent in each kind (peak, flat, valley), and a pool whose three prices another pool of the
// same shape matches or beats is dropped; for carbon, one pool per site (the cleanest) is
// enough, and all sites whose intensity is the same all day reduce to the cleanest of them.
// These reductions, timelines and curves are cached for the pass; a job's plan is kept until
// its time unless the sites change.

/// Within this of its latest start a deferrable job is placed as soon as possible.
let deferralSlackMs: Int64 = 60_000
/// Rate segments evaluated per timeline (two days of hourly edges, eight times over).
let maxDeferralBoundaries = 2 * 24 * 8

struct DeferralPlan: Sendable {
    var startMs: Int64
    /// Site slot of the best start.
    var site: Int
    var carbon: Bool
    /// Per unit: fen·ms/h for price, g·ms/h for carbon.
    var nowFen: Int64
    var bestFen: Int64
    var nowGrams: Double
    var bestGrams: Double
}

/// A pool's effective prices per unit-hour in each period kind.
struct KindPrices: Sendable {
    var flat: Int64
    var peak: Int64
    var valley: Int64
}

/// The pools of one signature and size that can win a deferral plan.
struct DeferralGroups: Sendable {
    struct PriceGroup: Sendable {
        var shape: Int
        /// A site of the shape, for its price book and edges.
        var site: Int
        var members: [PoolRef]
        var prices: [KindPrices]
        var ties: [TieKey]
    }

    struct CarbonPick: Sendable {
        var ref: PoolRef
        var tie: TieKey
        /// Grid kWh per unit-hour (hourly sites) or g CO2 per unit-hour (constant sites).
        var rate: Double
    }

    var price: [PriceGroup] = []
    /// The cleanest pool of each site whose grid intensity varies by hour.
    var hourly: [CarbonPick] = []
    /// The cleanest pool among sites with one intensity all day.
    var constant: CarbonPick?
}

struct DeferralGroupKey: Hashable, Sendable {
    var signature: Int
    var units: Int
    var carbon: Bool
}

/// Per-pass caches of deferral planning.
struct DeferralCache: Sendable {
    var groups: [DeferralGroupKey: DeferralGroups] = [:]
    /// By tariff shape, from the pass time.
    var timelines: [Int: KindTimeline] = [:]
    /// Grid intensity (g/kWh) over time by site slot, from the pass time.
    var curves: [Int: RateCurve<Double>] = [:]
}

extension Scheduler {
    mutating func deferIfBetter(_ slot: Int, signature: Int, nowMs: Int64, latestStartMs: Int64) -> Deferment? {
        // A plan holds until its time unless sites or the policy changed.
        if jobs[slot].deferredUntilMs > nowMs && jobs[slot].deferredEpoch == staticEpoch {
            return Deferment(job: jobs[slot].job.id, untilMs: jobs[slot].deferredUntilMs, reason: jobs[slot].deferredReason)
        }
        let units = jobs[slot].units
        let walltimeMs = jobs[slot].walltimeMs
        let carbon = (jobs[slot].job.preference ?? policy.defaultPreference) == .greenest
        let key = DeferralGroupKey(signature: signature, units: units, carbon: carbon)
        let groups: DeferralGroups
        if let cached = deferralCache.groups[key] {
            groups = cached
        } else {
            groups = deferralGroups(
                staticPools(signature, units: units, quotaFiltered: false, sorted: false), tenant: jobs[slot].job.tenant, carbon: carbon)
            deferralCache.groups[key] = groups
        }
        let horizon = latestStartMs.saturatingAdd(walltimeMs)
        if carbon {
            for pick in groups.hourly where (deferralCache.curves[pick.ref.site]?.coversMs ?? .min) < horizon {
                deferralCache.curves[pick.ref.site] = gridCurve(site: pick.ref.site, fromMs: nowMs, toMs: horizon)
            }
        } else {
            for group in groups.price where (deferralCache.timelines[group.shape]?.coversMs ?? .min) < horizon {
                deferralCache.timelines[group.shape] = timeline(site: group.site, fromMs: nowMs, toMs: horizon)
            }
        }
        let plan = planDeferral(
            groups, carbon: carbon, walltimeMs: walltimeMs, nowMs: nowMs, latestStartMs: latestStartMs,
            timeline: { deferralCache.timelines[$0.shape]! }, curve: { deferralCache.curves[$0]! })
        guard let plan else { return nil }
        let reason = deferralReason(plan, units: units)
        jobs[slot].deferredUntilMs = plan.startMs
        jobs[slot].deferredEpoch = staticEpoch
        jobs[slot].deferredReason = reason
        return Deferment(job: jobs[slot].job.id, untilMs: plan.startMs, reason: reason)
    }

    /// Reduces the pools a job could use to those that can win a plan.
    func deferralGroups(_ refs: [PoolRef], tenant: TenantID, carbon: Bool) -> DeferralGroups {
        var groups = DeferralGroups()
        func tie(_ ref: PoolRef) -> TieKey { TieKey(rank: slots[ref.site].rank, classSlot: ref.classSlot) }
        if !carbon {
            var byShape = Array(repeating: [PoolRef](), count: tariffShapes.count + 1)
            for ref in refs { byShape[slots[ref.site].tariffShape].append(ref) }
            for (shape, members) in byShape.enumerated() where !members.isEmpty {
                let prices = members.map { kindPrices($0, tenant: tenant) }
                let ties = members.map(tie)
                let kept = Self.undominated(prices, ties: ties)
                groups.price.append(
                    DeferralGroups.PriceGroup(
                        shape: shape, site: members[0].site, members: kept.map { members[$0] }, prices: kept.map { prices[$0] },
                        ties: kept.map { ties[$0] }))
            }
            return groups
        }
        var cleanest: [Int: DeferralGroups.CarbonPick] = [:]
        for ref in refs {
            guard let energy = slots[ref.site].site?.energy else { continue }
            let factor = Self.carbonFactor(classFacts[pools[ref.pool].classId], energy)
            let hourly = energy.hourlyGramsPerKWh.count == 24
            let pick = DeferralGroups.CarbonPick(ref: ref, tie: tie(ref), rate: hourly ? factor : factor * Double(energy.gridGramsPerKWh))
            if hourly {
                if let current = cleanest[ref.site],
                    (current.rate, current.tie.rank, current.tie.classSlot) <= (pick.rate, pick.tie.rank, pick.tie.classSlot)
                {
                    continue
                }
                cleanest[ref.site] = pick
            } else if groups.constant == nil
                || (pick.rate, pick.tie.rank, pick.tie.classSlot) < (
                    groups.constant!.rate, groups.constant!.tie.rank, groups.constant!.tie.classSlot
                )
            {
                groups.constant = pick
            }
        }
        groups.hourly = cleanest.keys.sorted().map { cleanest[$0]! }
        return groups
    }

    /// The best start within the window when it is later than now and strictly cheaper (or
    /// greener) than the best start now; nil to place the job as soon as possible.
    func planDeferral(
        _ groups: DeferralGroups, carbon: Bool, walltimeMs: Int64, nowMs: Int64, latestStartMs: Int64,
        timeline: (DeferralGroups.PriceGroup) -> KindTimeline, curve: (Int) -> RateCurve<Double>
    ) -> DeferralPlan? {
        guard latestStartMs > nowMs else { return nil }
        if carbon {
            var bestNow = Double.infinity
            var best = Best<Double>()
            if let constant = groups.constant {
                bestNow = constant.rate * Double(walltimeMs)
                best.consider(bestNow, startMs: nowMs, tie: constant.tie, ref: constant.ref)
            }
            for pick in groups.hourly {
                let grid = curve(pick.ref.site)
                for start in startTimes(grid.times, nowMs: nowMs, latestStartMs: latestStartMs, walltimeMs: walltimeMs) {
                    let cost = pick.rate * grid.cost(startMs: start, walltimeMs: walltimeMs)
                    if start == nowMs { bestNow = min(bestNow, cost) }
                    best.consider(cost, startMs: start, tie: pick.tie, ref: pick.ref)
                }
            }
            guard let found = best.found, found.startMs > nowMs, found.cost < bestNow else { return nil }
            return DeferralPlan(
                startMs: found.startMs, site: found.ref.site, carbon: true, nowFen: 0, bestFen: 0, nowGrams: bestNow, bestGrams: found.cost)
        }
        var bestNow = Int64.max
        var best = Best<Int64>()
        for group in groups.price {
            guard let book = slots[group.site].site?.priceBook, !book.periods.isEmpty else {
                for (k, prices) in group.prices.enumerated() {
                    let cost = prices.flat.saturatingMultiply(walltimeMs)
                    bestNow = min(bestNow, cost)
                    best.consider(cost, startMs: nowMs, tie: group.ties[k], ref: group.members[k])
                }
                continue
            }
            let kinds = timeline(group)
            for start in startTimes(kinds.times, nowMs: nowMs, latestStartMs: latestStartMs, walltimeMs: walltimeMs) {
                let spent = kinds.durations(startMs: start, walltimeMs: walltimeMs)
                for (k, prices) in group.prices.enumerated() {
                    let cost = prices.flat.saturatingMultiply(spent.flat).saturatingAdd(prices.peak.saturatingMultiply(spent.peak))
                        .saturatingAdd(prices.valley.saturatingMultiply(spent.valley))
                    if start == nowMs { bestNow = min(bestNow, cost) }
                    best.consider(cost, startMs: start, tie: group.ties[k], ref: group.members[k])
                }
            }
        }
        guard let found = best.found, found.startMs > nowMs, found.cost < bestNow else { return nil }
        return DeferralPlan(
            startMs: found.startMs, site: found.ref.site, carbon: false, nowFen: bestNow, bestFen: found.cost, nowGrams: 0, bestGrams: 0)
    }

    /// Positions of `prices` that no other position matches or beats in every kind (an exact
    /// tie keeps the earlier `ties`), in their original order.
    static func undominated(_ prices: [KindPrices], ties: [TieKey]) -> [Int] {
        let order = prices.indices.sorted { a, b in
            (prices[a].flat, prices[a].peak, prices[a].valley, ties[a].rank, ties[a].classSlot)
                < (prices[b].flat, prices[b].peak, prices[b].valley, ties[b].rank, ties[b].classSlot)
        }
        var kept: [Int] = []
        for k in order where !kept.contains(where: { prices[$0].peak <= prices[k].peak && prices[$0].valley <= prices[k].valley }) {
            kept.append(k)
        }
        return kept.sorted()
    }

    /// A pool's effective prices per unit-hour in each period kind (0 when unpriced).
    func kindPrices(_ ref: PoolRef, tenant: TenantID) -> KindPrices {
        guard let list = pools[ref.pool].listPrices, let site = slots[ref.site].site else { return KindPrices(flat: 0, peak: 0, valley: 0) }
        guard effectivePrice != nil else { return list }
        let cls = classFacts[pools[ref.pool].classId].name
        return KindPrices(
            flat: effective(tenant: tenant, site: site.id, cls: cls, list: list.flat),
            peak: effective(tenant: tenant, site: site.id, cls: cls, list: list.peak),
            valley: effective(tenant: tenant, site: site.id, cls: cls, list: list.valley))
    }

    func timeline(site: Int, fromMs: Int64, toMs: Int64) -> KindTimeline {
        KindTimeline(book: slots[site].site?.priceBook ?? PriceBook(), edges: slots[site].tariffEdges, fromMs: fromMs, toMs: toMs)
    }

    /// A site's grid intensity (g/kWh) by local hour over time.
    func gridCurve(site: Int, fromMs: Int64, toMs: Int64) -> RateCurve<Double> {
        let energy = slots[site].site?.energy ?? .unstated
        let offset = Int64(slots[site].site?.priceBook.utcOffsetMinutes ?? 480) * 60_000
        return RateCurve<Double>(
            fromMs: fromMs, toMs: toMs, next: { t in (floorDiv(t + offset, 3_600_000) + 1) * 3_600_000 - offset },
            rate: { t in Double(energy.gramsPerKWh(localHour: Int(floorMod(floorDiv(t + offset, 3_600_000), 24)))) })
    }

    /// Now, every edge, every edge minus the walltime, and the latest start, within the window.
    func startTimes(_ edges: [Int64], nowMs: Int64, latestStartMs: Int64, walltimeMs: Int64) -> [Int64] {
        var starts: [Int64] = [nowMs]
        for edge in edges {
            if edge > nowMs && edge <= latestStartMs { starts.append(edge) }
            let before = edge.saturatingAdd(-walltimeMs)
            if before > nowMs && before <= latestStartMs { starts.append(before) }
        }
        starts.append(latestStartMs)
        return starts.sorted()
    }

    /// "deferred to 23:00 local for valley price (1,234.00 → 617.00 CNY)".
    func deferralReason(_ plan: DeferralPlan, units: Int) -> String {
        let book = slots[plan.site].site?.priceBook ?? PriceBook()
        let clock = Format.localClock(atMs: plan.startMs, utcOffsetMinutes: book.utcOffsetMinutes)
        if plan.carbon {
            let now = Format.fixed(plan.nowGrams / 3_600_000 * Double(units) / 1000, decimals: 1)
            let best = Format.fixed(plan.bestGrams / 3_600_000 * Double(units) / 1000, decimals: 1)
            return "deferred to \(clock) local for lower carbon (\(now) → \(best) kg CO2)"
        }
        let kind = book.kind(atMs: plan.startMs).rawValue
        let now = Format.cny(Self.fen(plan.nowFen, units: units))
        let best = Format.cny(Self.fen(plan.bestFen, units: units))
        return "deferred to \(clock) local for \(kind) price (\(now) → \(best) CNY)"
    }

    /// fen·ms/h per unit → fen for the whole job.
    static func fen(_ perUnit: Int64, units: Int) -> Int64 {
        let hour: Int64 = 3_600_000
        let whole = (perUnit / hour).saturatingMultiply(Int64(units))
        let part = (perUnit % hour).saturatingMultiply(Int64(units)) / hour
        return whole.saturatingAdd(part)
    }
}
