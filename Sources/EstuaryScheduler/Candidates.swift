import EstuaryModel

// Which pools may run a job. The work is cached at three levels so that a placement does not
// re-check every site:
// - a class table per class (ClassTable.swift): its pools at sites that take work, with the
//   criteria that depend only on the site and the time (price, speed, carbon);
// - site filters (SiteFilters.swift): one bit per site for the job's rules about sites;
// - a signature entry per distinct hard job shape (classes, constraints, exclusions): its
//   classes, site bits, effective prices, the largest job any pool could take, and, per pass,
//   what the pass learnt (no room for ≥ N units). The region a job comes from and its data's
//   region only score, so they stay out of the signature (`latencyRow`, per job).
// All are rebuilt when a site, a pool set or the policy changes (`staticEpoch`), and class
// tables also at the next tariff edge or local hour of any of their sites.

/// Everything about a job that decides which pools may run it, apart from its size and the
/// time.
struct SignatureKey: Hashable, Sendable {
    var classes: [AcceleratorClass]
    var minFP16TFLOPS: Double?
    var minMemoryGiB: Double?
    var constraints: PlacementConstraints
    var excluded: Set<SiteID>
    /// Only when an effective-price function is set (prices then depend on the tenant).
    var tenant: TenantID?

    var filterKey: FilterKey {
        FilterKey(
            allow: constraints.allowSites, deny: constraints.denySites, excluded: excluded, dataZone: constraints.dataZone,
            residency: constraints.residency, maxLatencyMs: constraints.maxLatencyMs,
            fromRegion: constraints.maxLatencyMs == nil ? nil : constraints.fromRegion, minGreenShareBP: constraints.minGreenShareBP)
    }
}

/// A job's candidate classes and the rules about them.
struct ClassRules {
    let requested: [AcceleratorClass]
    let minFP16TFLOPS: Double?
    let minMemoryGiB: Double?
    /// Candidate classes, sorted by name.
    let classes: [AcceleratorClass]

    init(_ key: SignatureKey, catalog: AcceleratorCatalog) {
        requested = key.classes
        minFP16TFLOPS = key.minFP16TFLOPS
        minMemoryGiB = key.minMemoryGiB
        classes =
            key.classes.isEmpty
            ? catalog.matching(minFP16TFLOPS: key.minFP16TFLOPS, minMemoryGiB: key.minMemoryGiB) : Array(Set(key.classes)).sorted()
    }

    var noPoolReason: RuleOut {
        requested.isEmpty ? .noCapability(minFP16TFLOPS: minFP16TFLOPS, minMemoryGiB: minMemoryGiB) : .noPool(classes: requested)
    }
}

/// A signature as the current sites and policy see it.
struct SignatureEntry: Sendable {
    var epoch: UInt64
    /// Usable classes (domestic when required), sorted by name.
    var classIds: [Int]
    /// One bit per site slot that the job's site rules let through; nil when all pass.
    var bits: [UInt64]?
    var maxPriceFen: Int64?
    /// Versions of the class tables that `effective` and `maxUnitCap` follow.
    var tableVersions: [UInt64] = []
    /// Per class slot, per table row: effective price (-1 unpriced); empty without a function.
    var effective: [[Int64]] = []
    var maxUnitCap = 0
    var capCountEpoch: UInt64 = .max
    // What the current pass learnt.
    /// A job at least this big and this long found no room this pass (capacity only shrinks
    /// within a pass, so a later one will not either).
    var failures: [(units: Int, walltimeMs: Int64)] = []
}

extension SignatureEntry {
    /// A placeholder that no epoch matches.
    static let unbuilt = SignatureEntry(epoch: .max, classIds: [], bits: nil, maxPriceFen: nil)
}

/// Latency from one region to each site region, by region id.
struct LatencyRow: Sendable {
    var epoch: UInt64
    /// The latency criterion (0 without a from-region; unknown pairs count as far).
    var criterion: [Double]
    var ms: [Int?]
}

/// Latency of a region pair nobody measured, for scoring only (as a rule it rules the site out).
let unknownLatencyPenaltyMs = 1000

extension Scheduler {
    /// The hard part of a job's shape. The region it is submitted from (unless a latency rule
    /// needs it) and its data's region only weigh in scoring; they are read per job.
    func signatureKey(for job: SchedulerJob) -> SignatureKey {
        var hard = job.constraints
        if hard.maxLatencyMs == nil { hard.fromRegion = nil }
        hard.dataRegion = nil
        return SignatureKey(
            classes: job.resources.classes,
            minFP16TFLOPS: job.resources.classes.isEmpty ? job.resources.minFP16TFLOPS : nil,
            minMemoryGiB: job.resources.classes.isEmpty ? job.resources.minMemoryGiB : nil,
            constraints: hard, excluded: job.excludedSites, tenant: effectivePrice == nil ? nil : job.tenant)
    }

    /// Latency from a region to every site region (criterion and ms), cached until sites or
    /// the policy change.
    mutating func latencyRow(from region: String?) -> LatencyRow {
        if region == nil && noLatencyRow.epoch == staticEpoch { return noLatencyRow }
        let key = region ?? ""
        if let row = latencyRows[key], row.epoch == staticEpoch { return row }
        var row = LatencyRow(
            epoch: staticEpoch, criterion: Array(repeating: 0, count: regionNames.count),
            ms: Array(repeating: nil, count: regionNames.count))
        if let region {
            for (index, name) in regionNames.enumerated() {
                let ms = policy.latency.ms(from: region, to: name)
                row.ms[index] = ms
                row.criterion[index] = Double(ms ?? unknownLatencyPenaltyMs)
            }
        }
        if region == nil { noLatencyRow = row } else { latencyRows[key] = row }
        return row
    }

    /// The id of a job's signature, counted as used by one more job (`releaseSignature` undoes).
    mutating func signatureId(for job: SchedulerJob) -> Int {
        let key = signatureKey(for: job)
        if let id = signatureOf[key] {
            signatureUsers[id] += 1
            return id
        }
        let id: Int
        if let reused = freeSignatures.popLast() {
            id = reused
            signatureKeys[id] = key
            signatureEntries[id] = .unbuilt
            signaturePrepared[id] = 0
        } else {
            id = signatureKeys.count
            signatureKeys.append(key)
            signatureEntries.append(.unbuilt)
            signaturePrepared.append(0)
            signatureUsers.append(0)
        }
        signatureOf[key] = id
        signatureUsers[id] = 1
        return id
    }

    /// A job no longer uses a signature; the last one frees it (signatures of requeued jobs
    /// and one-off constraints would otherwise pile up).
    mutating func releaseSignature(_ id: Int) {
        signatureUsers[id] -= 1
        guard signatureUsers[id] == 0 else { return }
        signatureOf[signatureKeys[id]] = nil
        signatureEntries[id] = .unbuilt
        freeSignatures.append(id)
    }

    /// The signature's entry, brought up to date for this pass (sites and time do not change
    /// within a pass, so once is enough).
    mutating func prepareEntry(_ signature: Int, nowMs: Int64) {
        if signaturePrepared[signature] == passNumber { return }
        signaturePrepared[signature] = passNumber
        if signatureEntries[signature].epoch != staticEpoch {
            signatureEntries[signature] = buildEntry(signatureKeys[signature])
        }
        var stale = false
        let classIds = signatureEntries[signature].classIds
        for (classSlot, classId) in classIds.enumerated() {
            refreshClassTable(classId, nowMs: nowMs)
            if signatureEntries[signature].tableVersions.count <= classSlot
                || signatureEntries[signature].tableVersions[classSlot] != classTables[classId].version
            {
                stale = true
            }
        }
        if stale || signatureEntries[signature].capCountEpoch != countEpoch {
            refreshDerived(signature, stale: stale)
        }
        signatureEntries[signature].failures.removeAll()
    }

    func buildEntryClasses(_ key: SignatureKey) -> [Int] {
        let rules = ClassRules(key, catalog: catalog)
        return rules.classes.compactMap { cls in
            guard let classId = classIds[cls] else { return nil }
            return classRuleOuts(classId, domesticOnly: key.constraints.domesticOnly).isEmpty ? classId : nil
        }
    }

    mutating func buildEntry(_ key: SignatureKey) -> SignatureEntry {
        let bits = siteBits(key.filterKey)
        return SignatureEntry(
            epoch: staticEpoch, classIds: buildEntryClasses(key), bits: bits, maxPriceFen: key.constraints.maxPricePerHourFen)
    }

    /// Effective prices and the largest job any pool could take, after a class table or a
    /// pool count changed.
    mutating func refreshDerived(_ signature: Int, stale: Bool) {
        var entry = signatureEntries[signature]
        signatureEntries[signature] = .unbuilt
        if stale {
            entry.tableVersions = entry.classIds.map { classTables[$0].version }
            if let effectivePrice, let tenant = signatureKeys[signature].tenant {
                entry.effective = entry.classIds.map { classId in
                    classTables[classId].rows.map { row in
                        row.listPrice < 0 ? -1 : max(0, effectivePrice(tenant, slots[row.site].id, classFacts[classId].name, row.listPrice))
                    }
                }
            }
        }
        var cap = 0
        let bits = entry.bits
        for (classSlot, classId) in entry.classIds.enumerated() {
            for (index, row) in classTables[classId].rows.enumerated() {
                if let bits, !Self.test(bits, row.site) { continue }
                var rowCap = live[row.pool].count
                if let maxPrice = entry.maxPriceFen {
                    let price = entry.effective.isEmpty ? row.listPrice : entry.effective[classSlot][index]
                    if price < 0 { continue }
                    if price > 0 { rowCap = min(rowCap, Int(clamping: maxPrice / price)) }
                }
                cap = max(cap, rowCap)
            }
        }
        entry.maxUnitCap = cap
        entry.capCountEpoch = countEpoch
        signatureEntries[signature] = entry
    }

    @inline(__always)
    static func test(_ bits: [UInt64], _ slot: Int) -> Bool {
        let word = slot >> 6
        return word < bits.count && bits[word] & (1 << UInt64(slot & 63)) != 0
    }
}
