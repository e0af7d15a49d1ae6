import EstuaryModel

/// The coordinator's placement engine (DESIGN.md §5): a pure state machine. It takes sites,
/// capacity reports, jobs and the time as arguments and returns placements; it does no I/O,
/// reads no clock and draws no random numbers, so the same calls give the same placements.
///
/// Free units of a pool are `min(count − allocated, reportedFree − unconfirmed)`, at least 0,
/// where `allocated` is the held + confirmed units of Estuary jobs there and `unconfirmed` the
/// held ones the site has not accepted. The site's `reportedFree` already leaves out the
/// Estuary jobs it runs and whatever its other users (local Slurm users …) take, but it cannot
/// see holds yet, so those come off it; `count − allocated` bounds the rest so that a pool is
/// never over-committed by a new hold, whatever a stale or shrunken report says.
public struct Scheduler: Sendable {
    public let catalog: AcceleratorCatalog
    /// Replaceable at runtime; the next pass uses the new one.
    public var policy: SchedulerPolicy {
        didSet { staticEpoch &+= 1 }
    }
    let effectivePrice: EffectivePrice?

    // Interned names.
    var classIds: [AcceleratorClass: Int] = [:]
    var classFacts: [ClassFacts] = []

    // Sites and pools.
    var slots: [SiteSlot] = []
    var slotOf: [SiteID: Int] = [:]
    /// The start criterion by site slot: its accept-latency EWMA in ms (0 before any data).
    var siteStart: [Double] = []
    /// The sites as last upserted, with their latest pools and status.
    public internal(set) var sites: [SiteID: SchedulerSite] = [:]
    var pools: [PoolState] = []
    var live: [PoolLive] = []
    /// Row of each pool in its class table (-1: in none).
    var poolRow: [Int] = []
    /// Class id → pools present at present sites, by site rank.
    var classIndex: [[Int]] = []
    var indexDirty = true
    var siteRanksDirty = false
    /// Class id → units in service at available sites (fair-share denominators).
    var classTotals: [Int] = []
    var totalsDirty = true

    // Jobs and tenants.
    var jobs: [JobRecord] = []
    var freeJobSlots: [Int] = []
    var jobSlotOf: [JobID: Int] = [:]
    var tenants: [TenantState] = []
    var tenantOf: [TenantID: Int] = [:]
    var tenantRanksDirty = false
    public internal(set) var queuedCount = 0
    var nextToken: UInt64 = 1
    var holdQueue: [HoldEntry] = []
    var holdHead = 0
    var holdStale = 0

    // Caches (Candidates.swift). `staticEpoch` moves on every change to sites, pool sets or
    // the policy; `countEpoch` when a pool's size changes.
    var staticEpoch: UInt64 = 1
    var countEpoch: UInt64 = 1
    var regionIds: [String: Int] = [:]
    var regionNames: [String] = []
    var tariffShapes: [TariffShapeKey: Int] = [:]
    var classTables: [ClassTable] = []
    var filterOf: [FilterKey: Int] = [:]
    var filters: [SiteFilter] = []
    var ruleBits: [SiteRuleKey: SiteFilter] = [:]
    var latencyRows: [String: LatencyRow] = [:]
    var noLatencyRow = LatencyRow(epoch: .max, criterion: [], ms: [])
    /// Interned for the life of the scheduler (a job keeps its id until it is requeued).
    var signatureOf: [SignatureKey: Int] = [:]
    var signatureKeys: [SignatureKey] = []
    var signatureEntries: [SignatureEntry] = []
    /// The pass that last prepared each signature.
    var signaturePrepared: [UInt32] = []
    /// Jobs using each signature; free ids are reused.
    var signatureUsers: [Int] = []
    var freeSignatures: [Int] = []
    var passNumber: UInt32 = 0
    var passWeights: [[Double]] = []

    // Reservations of the latest pass (kept for `explain`).
    var poolReservations: [Int: [PoolReservation]] = [:]
    /// Pool allocations sorted by expected end, for reservations (by pool id).
    var endsCache: [Int: SortedEnds] = [:]
    var deferralCache = DeferralCache()
    var lastReservations: [JobID: Reservation] = [:]

    // Scratch buffers reused by every placement.
    var fitScratch: [FitRow] = []
    var allowedScratch: [Bool] = []

    public init(catalog: AcceleratorCatalog, policy: SchedulerPolicy, effectivePrice: EffectivePrice? = nil) {
        self.catalog = catalog
        self.policy = policy
        self.effectivePrice = effectivePrice
        for name in catalog.classes.keys.sorted() { _ = internClass(name) }
    }

    // MARK: sites

    /// Adds a site or replaces what the scheduler knows of it. Allocations of jobs at the site
    /// stay (they belong to jobs, not to the report).
    public mutating func upsertSite(_ site: SchedulerSite) {
        let slot = slotFor(site.id)
        slots[slot].site = site
        slots[slot].regionId = internRegion(site.region)
        slots[slot].tariffEdges = Self.tariffEdges(site.priceBook)
        let shape = TariffShapeKey(periods: site.priceBook.periods, utcOffsetMinutes: site.priceBook.utcOffsetMinutes)
        if let known = tariffShapes[shape] {
            slots[slot].tariffShape = known
        } else {
            slots[slot].tariffShape = tariffShapes.count
            tariffShapes[shape] = tariffShapes.count
        }
        sites[site.id] = site
        applyPools(slot: slot, reported: site.pools)
        for pool in slots[slot].poolOfClass.values { refreshLive(pool) }
        refreshListPrices(slot: slot)
        indexDirty = true
        totalsDirty = true
        staticEpoch &+= 1
    }

    /// Effective prices changed (vouchers granted or used up): re-read them next pass.
    public mutating func pricesChanged() {
        staticEpoch &+= 1
    }

    /// Forgets a site. Jobs held or running there keep their allocation records until they
    /// are released or requeued, so a site that comes back starts from the truth.
    public mutating func removeSite(_ id: SiteID) {
        guard let slot = slotOf[id], slots[slot].site != nil else { return }
        slots[slot].site = nil
        sites[id] = nil
        for pool in slots[slot].pools { refreshLive(pool) }
        indexDirty = true
        totalsDirty = true
        staticEpoch &+= 1
    }

    public mutating func setStatus(_ status: SiteStatus, site id: SiteID) {
        guard let slot = slotOf[id], slots[slot].site != nil, slots[slot].site!.status != status else { return }
        slots[slot].site!.status = status
        sites[id]?.status = status
        totalsDirty = true
        staticEpoch &+= 1
    }

    /// A capacity report. Pools that vanished stop taking work but keep their allocations;
    /// a shrunken pool takes nothing new until its allocations fit again.
    public mutating func updatePools(site id: SiteID, pools reported: [SchedulerPool]) {
        guard let slot = slotOf[id], slots[slot].site != nil else { return }
        slots[slot].site!.pools = reported
        sites[id]?.pools = reported
        applyPools(slot: slot, reported: reported)
        // A pool seen for the first time needs its prices too (deferral plans read them).
        refreshListPrices(slot: slot)
    }

    /// Each pool's list prices per period kind, from its site's price book.
    mutating func refreshListPrices(slot: Int) {
        guard let book = slots[slot].site?.priceBook else { return }
        for pool in slots[slot].poolOfClass.values {
            pools[pool].listPrices = book.prices[classFacts[pools[pool].classId].name].map {
                KindPrices(flat: $0.flat, peak: $0.fenPerUnitHour(.peak), valley: $0.fenPerUnitHour(.valley))
            }
        }
    }

    /// Held + confirmed units of Estuary jobs in a pool.
    public func allocatedUnits(site: SiteID, cls: AcceleratorClass) -> Int {
        guard let slot = slotOf[site], let classId = classIds[cls], let pool = slots[slot].poolOfClass[classId] else { return 0 }
        return pools[pool].allocated
    }

    /// Units a new job could take in a pool now (0 for unknown pools and removed sites).
    public func freeUnits(site: SiteID, cls: AcceleratorClass) -> Int {
        guard let slot = slotOf[site], let classId = classIds[cls], let pool = slots[slot].poolOfClass[classId] else { return 0 }
        return live[pool].free
    }

    // MARK: internals

    mutating func internClass(_ name: AcceleratorClass) -> Int {
        if let id = classIds[name] { return id }
        let id = classFacts.count
        classIds[name] = id
        let spec = catalog[name]
        classFacts.append(
            ClassFacts(
                name: name, fp16TFLOPS: spec?.fp16TFLOPS ?? 0, powerWatts: spec?.powerWatts ?? 0, domestic: spec?.domestic ?? false))
        classIndex.append([])
        classTables.append(ClassTable())
        classTotals.append(0)
        return id
    }

    mutating func slotFor(_ id: SiteID) -> Int {
        if let slot = slotOf[id] { return slot }
        let slot = slots.count
        slots.append(SiteSlot(id: id))
        siteStart.append(0)
        slotOf[id] = slot
        siteRanksDirty = true
        return slot
    }

    mutating func poolFor(slot: Int, classId: Int) -> Int {
        if let pool = slots[slot].poolOfClass[classId] { return pool }
        let pool = pools.count
        pools.append(PoolState(site: slot, classId: classId))
        live.append(PoolLive())
        poolRow.append(-1)
        slots[slot].poolOfClass[classId] = pool
        return pool
    }

    /// Maps a report onto the site's pools; duplicate classes in one report are summed.
    mutating func applyPools(slot: Int, reported: [SchedulerPool]) {
        // Fast path: the classes of the last report, in the same order (the usual report).
        let current = slots[slot].pools
        if reported.count == current.count && zip(reported, current).allSatisfy({ classFacts[pools[$1].classId].name == $0.cls }) {
            for (entry, pool) in zip(reported, current) {
                let count = Self.clampUnits(entry.count)
                if pools[pool].count != count {
                    countEpoch &+= 1
                    totalsDirty = true
                    pools[pool].count = count
                }
                if pools[pool].verifiedFP16TFLOPS != entry.verifiedFP16TFLOPS {
                    staticEpoch &+= 1
                    pools[pool].verifiedFP16TFLOPS = entry.verifiedFP16TFLOPS
                }
                pools[pool].reportedFree = Self.clampUnits(entry.reportedFree)
                refreshLive(pool)
            }
            return
        }
        var present: [Int] = []
        present.reserveCapacity(reported.count)
        var counts: [Int] = []
        var frees: [Int] = []
        var verified: [Double?] = []
        for entry in reported {
            let pool = poolFor(slot: slot, classId: internClass(entry.cls))
            if let at = present.firstIndex(of: pool) {
                counts[at] = Self.clampUnits(counts[at] + Self.clampUnits(entry.count))
                frees[at] = Self.clampUnits(frees[at] + Self.clampUnits(entry.reportedFree))
                verified[at] = verified[at] ?? entry.verifiedFP16TFLOPS
            } else {
                present.append(pool)
                counts.append(Self.clampUnits(entry.count))
                frees.append(Self.clampUnits(entry.reportedFree))
                verified.append(entry.verifiedFP16TFLOPS)
            }
        }
        for (index, pool) in present.enumerated() {
            if !pools[pool].present || pools[pool].verifiedFP16TFLOPS != verified[index] { staticEpoch &+= 1 }
            if pools[pool].count != counts[index] {
                countEpoch &+= 1
                totalsDirty = true
            }
            pools[pool].present = true
            pools[pool].count = counts[index]
            pools[pool].reportedFree = frees[index]
            pools[pool].verifiedFP16TFLOPS = verified[index]
            refreshLive(pool)
        }
        for old in slots[slot].pools where !present.contains(old) {
            pools[old].present = false
            refreshLive(old)
        }
        if present.count != slots[slot].pools.count || !slots[slot].pools.allSatisfy({ present.contains($0) }) {
            indexDirty = true
            totalsDirty = true
            staticEpoch &+= 1
        }
        slots[slot].pools = present
    }

    /// Units as the scheduler counts them: 0…2³⁰ (no report or job can make a sum overflow).
    static func clampUnits(_ units: Int) -> Int { min(max(0, units), 1 << 30) }

    /// Recomputes a pool's free units after any change to its report or allocations.
    mutating func refreshLive(_ pool: Int) {
        let count = pools[pool].count
        let allocated = pools[pool].allocated
        let usable = pools[pool].present && slots[pools[pool].site].site != nil
        let free = usable ? max(0, min(count - allocated, pools[pool].reportedFree - pools[pool].unconfirmed)) : 0
        live[pool].free = free
        live[pool].allocated = allocated
        live[pool].count = usable ? count : 0
        live[pool].inverseCount = usable && count > 0 ? 1 / Double(count) : 0
        syncRow(pool)
    }

    static func tariffEdges(_ book: PriceBook) -> [Int] {
        var edges = Set([0, 1440])
        for period in book.periods {
            edges.insert(period.startMinute)
            edges.insert(period.endMinute)
        }
        return edges.sorted()
    }

    /// Rebuilds the class index and the fair-share totals when sites or pools changed.
    mutating func refreshIndexes() {
        if siteRanksDirty {
            let order = slots.indices.sorted { slots[$0].id < slots[$1].id }
            for (rank, index) in order.enumerated() { slots[index].rank = rank }
            siteRanksDirty = false
            indexDirty = true
        }
        if indexDirty {
            for index in classIndex.indices { classIndex[index].removeAll(keepingCapacity: true) }
            let order = slots.indices.filter { slots[$0].site != nil }.sorted { slots[$0].rank < slots[$1].rank }
            for slot in order {
                for pool in slots[slot].pools { classIndex[pools[pool].classId].append(pool) }
            }
            indexDirty = false
            staticEpoch &+= 1
        }
        if totalsDirty {
            classTotals = computeTotals()
            totalsDirty = false
        }
        if tenantRanksDirty {
            let order = tenants.indices.sorted { tenants[$0].id < tenants[$1].id }
            for (rank, index) in order.enumerated() { tenants[index].rank = rank }
            tenantRanksDirty = false
        }
    }

    func computeTotals() -> [Int] {
        var totals = Array(repeating: 0, count: classFacts.count)
        for slot in slots {
            guard let site = slot.site, site.status == .available else { continue }
            for pool in slot.pools { totals[pools[pool].classId] += pools[pool].count }
        }
        return totals
    }
}
