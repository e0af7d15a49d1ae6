import EstuaryModel

// Site filters: which sites a job's rules about sites as such let through, one bit per site
// slot. Each rule (a zone, a latency bound from a region, a green share) has its own cached
// bit set; a combination is their AND, narrowed by the job's allow, deny and exclusion lists.

/// The rules about a site as a whole.
struct FilterKey: Hashable, Sendable {
    var allow: [SiteID]
    var deny: [SiteID]
    var excluded: Set<SiteID>
    var dataZone: String?
    var residency: String?
    var maxLatencyMs: Int?
    var fromRegion: String?
    var minGreenShareBP: Int?

    /// No rule: every site that takes work passes.
    var isOpen: Bool {
        allow.isEmpty && deny.isEmpty && excluded.isEmpty && dataZone == nil && residency == nil && maxLatencyMs == nil
            && minGreenShareBP == nil
    }
}

/// One rule about sites as such, with its own cached bit set.
enum SiteRuleKey: Hashable, Sendable {
    case zone(String)
    case latency(from: String?, maxMs: Int)
    case green(Int)
}

/// Site rules in the form the checks read them.
struct SiteRules {
    let key: FilterKey
    let allow: Set<SiteID>?
    let deny: Set<SiteID>

    init(_ key: FilterKey) {
        self.key = key
        allow = key.allow.isEmpty ? nil : Set(key.allow)
        deny = Set(key.deny)
    }
}

/// One bit per site slot: the sites a filter key lets through.
struct SiteFilter: Sendable {
    var epoch: UInt64
    var bits: [UInt64]
}

extension Scheduler {
    /// The sites a job's site rules let through: the shared filter of its zone, latency and
    /// green rules, narrowed by its own allow, deny and exclusion lists.
    mutating func siteBits(_ key: FilterKey) -> [UInt64]? {
        var base = key
        base.allow = []
        base.deny = []
        base.excluded = []
        var bits: [UInt64]?
        if !base.isOpen {
            let index: Int
            if let known = filterOf[base] {
                index = known
            } else {
                index = filters.count
                filterOf[base] = index
                filters.append(SiteFilter(epoch: .max, bits: []))
            }
            if filters[index].epoch != staticEpoch {
                filters[index] = SiteFilter(epoch: staticEpoch, bits: buildFilter(base))
            }
            bits = filters[index].bits
        }
        let words = (slots.count + 63) / 64
        if !key.allow.isEmpty {
            var allowed = Array(repeating: UInt64(0), count: words)
            for id in key.allow {
                if let slot = slotOf[id] { allowed[slot >> 6] |= 1 << UInt64(slot & 63) }
            }
            if let base = bits {
                for word in allowed.indices { allowed[word] &= word < base.count ? base[word] : 0 }
            }
            bits = allowed
        }
        if !key.deny.isEmpty || !key.excluded.isEmpty {
            var narrowed = bits ?? Array(repeating: UInt64.max, count: words)
            for id in key.deny + key.excluded {
                if let slot = slotOf[id], slot >> 6 < narrowed.count { narrowed[slot >> 6] &= ~(1 << UInt64(slot & 63)) }
            }
            bits = narrowed
        }
        return bits
    }

    /// The AND of one cached bit set per rule (zones, latency, green share): few distinct
    /// rules make many distinct combinations.
    mutating func buildFilter(_ key: FilterKey) -> [UInt64] {
        var rules: [SiteRuleKey] = []
        if let zone = key.dataZone { rules.append(.zone(zone)) }
        if let zone = key.residency { rules.append(.zone(zone)) }
        if let maxMs = key.maxLatencyMs { rules.append(.latency(from: key.fromRegion, maxMs: maxMs)) }
        if let minimum = key.minGreenShareBP { rules.append(.green(minimum)) }
        var bits = Array(repeating: UInt64.max, count: (slots.count + 63) / 64)
        for rule in rules {
            if ruleBits[rule]?.epoch != staticEpoch { ruleBits[rule] = SiteFilter(epoch: staticEpoch, bits: buildRuleBits(rule)) }
            let ruleSet = ruleBits[rule]!.bits
            for word in bits.indices { bits[word] &= word < ruleSet.count ? ruleSet[word] : 0 }
        }
        return bits
    }

    /// Sites that meet one rule (the same tests as `siteRuleOuts`).
    func buildRuleBits(_ rule: SiteRuleKey) -> [UInt64] {
        var bits = Array(repeating: UInt64(0), count: (slots.count + 63) / 64)
        for slot in slots.indices {
            guard let site = slots[slot].site else { continue }
            let passes: Bool
            switch rule {
            case .zone(let zone):
                passes = site.zones.contains(zone)
            case .latency(let from, let maxMs):
                passes = from.flatMap { policy.latency.ms(from: $0, to: site.region) }.map { $0 <= maxMs } ?? false
            case .green(let minimum):
                passes = site.energy.greenShareBP >= minimum
            }
            if passes { bits[slot >> 6] |= 1 << UInt64(slot & 63) }
        }
        return bits
    }

}
