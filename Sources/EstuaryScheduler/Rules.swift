import EstuaryModel

// The hard rules, as operator-readable reasons (`explain`) and as the tests the caches use.

extension Scheduler {
    /// Every rule about the site as a whole that it breaks for a job (`SiteFilters.swift`
    /// applies the same tests in bulk).
    func siteRuleOuts(slot: Int, rules: SiteRules, rejected: [SiteID: Int]) -> [RuleOut] {
        guard let site = slots[slot].site else { return [.unreachable] }
        var out: [RuleOut] = []
        switch site.status {
        case .available: break
        case .draining: out.append(.draining)
        case .unreachable: out.append(.unreachable)
        }
        if let allow = rules.allow, !allow.contains(site.id) { out.append(.notAllowed) }
        if rules.deny.contains(site.id) { out.append(.denied) }
        if rules.key.excluded.contains(site.id) { out.append(.rejectedBefore(attempt: rejected[site.id])) }
        if let zone = rules.key.dataZone, !site.zones.contains(zone) { out.append(.dataZone(zone: zone, siteZones: site.zones.sorted())) }
        if let zone = rules.key.residency, !site.zones.contains(zone) { out.append(.residency(zone: zone, siteZones: site.zones.sorted())) }
        if let maxMs = rules.key.maxLatencyMs {
            if let from = rules.key.fromRegion {
                if let ms = policy.latency.ms(from: from, to: site.region) {
                    if ms > maxMs { out.append(.latencyTooHigh(ms: ms, from: from, to: site.region, maxMs: maxMs)) }
                } else {
                    out.append(.latencyUnknown(from: from, to: site.region))
                }
            } else {
                out.append(.latencyUnknown(from: nil, to: site.region))
            }
        }
        if let minimum = rules.key.minGreenShareBP, site.energy.greenShareBP < minimum {
            out.append(.greenShareTooLow(shareBP: site.energy.greenShareBP, minBP: minimum))
        }
        return out
    }

    /// Rules about a class wherever it is.
    func classRuleOuts(_ classId: Int, domesticOnly: Bool) -> [RuleOut] {
        domesticOnly && !classFacts[classId].domestic ? [.notDomestic(classFacts[classId].name)] : []
    }

    /// Rules about one pool for a job of `units`: price and size.
    func poolRuleOuts(pool: Int, constraints: PlacementConstraints, tenant: TenantID, request: ResourceRequest, units: Int, nowMs: Int64)
        -> [RuleOut]
    {
        var out: [RuleOut] = []
        let classId = pools[pool].classId
        let cls = classFacts[classId].name
        if let maxPrice = constraints.maxPricePerHourFen, let site = slots[pools[pool].site].site {
            if let list = site.priceBook.fenPerUnitHour(cls, atMs: nowMs) {
                let total = effective(tenant: tenant, site: site.id, cls: cls, list: list).saturatingMultiply(Int64(units))
                if total > maxPrice { out.append(.priceTooHigh(fenPerHour: total, maxFenPerHour: maxPrice)) }
            } else {
                out.append(.noPrice(cls))
            }
        }
        if pools[pool].count < units {
            out.append(.poolTooSmall(cls: cls, units: units, perTask: request.count, tasks: request.tasks, count: pools[pool].count))
        }
        return out
    }

    func effective(tenant: TenantID, site: SiteID, cls: AcceleratorClass, list: Int64) -> Int64 {
        guard let effectivePrice else { return list }
        return max(0, effectivePrice(tenant, site, cls, list))
    }

    /// Grams of CO2 one unit emits in an hour: board power × PUE × grid intensity × the share
    /// of the site's power that is not green.
    static func gramsPerUnitHour(_ facts: ClassFacts, _ energy: SiteEnergy, localHour: Int) -> Double {
        carbonFactor(facts, energy) * Double(energy.gramsPerKWh(localHour: localHour))
    }

    /// kWh from the grid per unit-hour, not green: board power × PUE × (1 − green share).
    static func carbonFactor(_ facts: ClassFacts, _ energy: SiteEnergy) -> Double {
        let kW = Double(facts.powerWatts) / 1000
        let pue = Double(energy.pueMilli) / 1000
        let brown = Double(10_000 - min(10_000, max(0, energy.greenShareBP))) / 10_000
        return kW * pue * brown
    }

    static func localHour(_ book: PriceBook, atMs ms: Int64) -> Int { book.localTime(atMs: ms).minuteOfDay / 60 }

    /// Measured TFLOPS when the enrolment test ran, else the catalog's; negated (lower is better).
    func speedCriterion(pool: Int) -> Double { -(pools[pool].verifiedFP16TFLOPS ?? classFacts[pools[pool].classId].fp16TFLOPS) }
}
