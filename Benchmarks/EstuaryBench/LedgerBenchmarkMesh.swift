import EstuaryConfig
import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore

/// The synthetic money side of a mesh that the `ledger` and `settlement` benchmarks rate usage
/// against: sites with price books (most with time-of-use periods, some with hourly grid
/// intensity), tenants of three kinds (enrolled in the voucher programme, prepaid with a
/// top-up, postpaid), and usage records derived from their index alone (SplitMix64), so that a
/// job and its record can be rebuilt anywhere without keeping either in memory.
struct LedgerMesh: Sendable {
    let sites: Int
    let tenants: Int
    let seed: UInt64
    /// The billing period everything is posted in, and its first millisecond (UTC+8).
    let period: BillingPeriod
    let periodStartMs: Int64
    /// The coordinator's clock while rating: day 20 of the period, after every record ended.
    let nowMs: Int64
    /// Ids made once, so that building a record (the load generator, which shares the CPUs with
    /// the coordinator's code) stays cheap.
    private let siteIDs: [SiteID]
    private let tenantIDs: [TenantID]
    /// The job spec of every (tenant, site shape, class, units) a record can have, built once:
    /// the load generator shares them instead of building one per record, as the coordinator
    /// holds its jobs in memory rather than building them per usage batch.
    private let specs: [JobSpec]

    static let utcOffsetMinutes = 480
    static let epoch = "bench-epoch"
    static let program = VoucherProgram.guangzhouExample
    static let platformFee = PlatformFee(basisPoints: 300)

    init(sites: Int, tenants: Int, seed: UInt64, period: BillingPeriod) throws {
        self.sites = sites
        self.tenants = tenants
        self.seed = seed
        self.period = period
        periodStartMs = try period.startMs(utcOffsetMinutes: Self.utcOffsetMinutes)
        nowMs = periodStartMs + 20 * 86_400_000
        siteIDs = (0..<sites).map { SiteID(rawValue: "site-\($0 < 10 ? "0" : "")\($0)") }
        tenantIDs = (0..<tenants).map { TenantID(rawValue: "tenant-\($0)") }
        var specs: [JobSpec] = []
        for tenant in tenantIDs {
            for shape in Self.shapes {
                for slot in 0..<Self.maxClasses {
                    let cls = shape[min(slot, shape.count - 1)]
                    for step in 0..<4 {
                        specs.append(
                            JobSpec(
                                name: "ledger", tenant: tenant, command: ["/bin/true"],
                                resources: ResourceRequest(acceleratorClass: cls, count: Self.units(cls, step: step)),
                                walltimeSeconds: 86_400))
                    }
                }
            }
        }
        self.specs = specs
    }

    /// The most classes a site shape has.
    static let maxClasses = shapes.map(\.count).max() ?? 1

    /// A record's units: CPU jobs take 8–64 cores, others 1–8 units.
    static func units(_ cls: AcceleratorClass, step: Int) -> Int { cls.rawValue.hasPrefix("cpu-") ? 8 << step : 1 << step }

    static var settings: MeterSettings {
        var settings = MeterSettings()
        settings.platformFee = platformFee
        settings.ratingRule = .halfUp
        settings.utcOffsetMinutes = utcOffsetMinutes
        return settings
    }

    // MARK: sites

    /// Pools by site shape: GPU, NPU, DCU and CPU classes, foreign and domestic.
    static let shapes: [[AcceleratorClass]] = [
        ["nvidia-a100", "cpu-x86-64"],
        ["ascend-910b", "cpu-kunpeng-920"],
        ["nvidia-h20", "hygon-dcu", "cpu-x86-64"],
        ["nvidia-a100", "ascend-910b"],
    ]

    /// List prices in fen per unit-hour before a site's own markup.
    static let basePrices: [AcceleratorClass: Int64] = [
        "nvidia-a100": 1_200, "nvidia-h20": 900, "ascend-910b": 800, "hygon-dcu": 600, "cpu-x86-64": 8,
        "cpu-kunpeng-920": 6,
    ]

    func siteID(_ index: Int) -> SiteID { siteIDs[index] }
    func classes(ofSite index: Int) -> [AcceleratorClass] { Self.shapes[index % Self.shapes.count] }
    func provider(ofSite index: Int) -> String { "provider-\(index)" }

    /// Three sites in four use time-of-use tariffs (two tariff shapes, one by day type).
    func tariffPeriods(ofSite index: Int) -> [TariffPeriod] {
        switch index % 4 {
        case 0:
            [
                TariffPeriod(kind: .valley, startMinute: 0, endMinute: 480),
                TariffPeriod(kind: .peak, days: .workday, startMinute: 600, endMinute: 720),
                TariffPeriod(kind: .peak, days: .workday, startMinute: 840, endMinute: 1140),
            ]
        case 1:
            [
                TariffPeriod(kind: .valley, startMinute: 1380, endMinute: 420),
                TariffPeriod(kind: .peak, startMinute: 480, endMinute: 660),
                TariffPeriod(kind: .peak, startMinute: 1080, endMinute: 1320),
            ]
        case 2: [TariffPeriod(kind: .valley, startMinute: 0, endMinute: 480)]
        default: []
        }
    }

    func priceBook(ofSite index: Int) -> PriceBook {
        let markup = Int64(90 + (index * 7) % 30)  // percent
        var prices: [AcceleratorClass: ClassPrice] = [:]
        for cls in classes(ofSite: index) {
            let flat = (Self.basePrices[cls] ?? 100) * markup / 100
            prices[cls] = ClassPrice(flat: flat, peak: flat * 3 / 2, valley: flat / 2)
        }
        return PriceBook(prices: prices, periods: tariffPeriods(ofSite: index), utcOffsetMinutes: Self.utcOffsetMinutes)
    }

    /// Every fifth site states an hourly grid intensity, so its records are also cut at each hour.
    func energy(ofSite index: Int) -> SiteEnergy {
        let hourly = index % 5 == 0 ? (0..<24).map { 420 + 180 * abs(12 - $0) / 12 } : []
        return SiteEnergy(
            greenShareBP: (index * 7 % 10) * 1_000, pueMilli: 1_150 + index * 10, gridGramsPerKWh: 570,
            hourlyGramsPerKWh: hourly)
    }

    // MARK: tenants

    enum TenantKind: String, CaseIterable {
        case voucher = "in the voucher programme (prepaid)"
        case prepaid = "prepaid"
        case postpaid = "postpaid"
    }

    func tenantID(_ index: Int) -> TenantID { tenantIDs[index] }

    /// 30 % enrolled in the programme, 40 % prepaid, 30 % postpaid.
    func kind(ofTenant index: Int) -> TenantKind {
        switch index % 10 {
        case 0, 1, 2: .voucher
        case 3, 4, 5, 6: .prepaid
        default: .postpaid
        }
    }

    func tenantRequest(_ index: Int) -> TenantRequest {
        let kind = kind(ofTenant: index)
        return TenantRequest(
            tenant: tenantID(index), organisation: "org-\(index)",
            // One enrolled tenant is affiliated with site 3's operator: no voucher there.
            affiliates: index == 10 ? [provider(ofSite: 3)] : [],
            category: kind == .voucher && index % 20 == 0 ? "multimodal-foundation" : nil,
            creditLimitFen: kind == .postpaid ? nil : 0,
            voucherProgram: kind == .voucher ? Self.program.id : nil)
    }

    // MARK: records

    /// Where record `index` ran is decided by the workload (`LedgerWorkload.site(of:)`); the rest
    /// comes from the index.
    func record(_ index: Int, site: Int) -> (job: JobRecord, usage: UsageRecord) {
        var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let tenant = random.below(tenants)
        let pools = classes(ofSite: site)
        let slot = random.below(pools.count)
        let cls = pools[slot]
        let cpu = cls.rawValue.hasPrefix("cpu-")
        // CPU jobs take at least 8 cores for at least 10 minutes, so no record rates to 0 fen.
        let step = random.below(4)
        let units = Self.units(cls, step: step)
        let durationMs = Int64(cpu ? 600 + random.below(6_600) : 300 + random.below(random.below(3) == 0 ? 21_300 : 5_100)) * 1000
        let startMs = periodStartMs + 3_600_000 + Int64(random.below(18 * 86_400)) * 1000
        let jobID = JobID(rawValue: "j\(index)")
        let siteName = siteID(site)
        let shape = site % Self.shapes.count
        let spec = specs[((tenant * Self.shapes.count + shape) * Self.maxClasses + slot) * 4 + step]
        let job = JobRecord(
            id: jobID, spec: spec, state: .succeeded, siteID: siteName, attempt: 1, exitCode: 0,
            createdAtMs: startMs - 60_000, updatedAtMs: startMs + durationMs, placedClass: cls)
        let usage = UsageRecord(
            id: .forJob(jobID, attempt: 1), jobID: jobID, siteID: siteName, acceleratorClass: cls, units: units,
            startedAtMs: startMs, endedAtMs: startMs + durationMs)
        return (job, usage)
    }
}

/// How records are cut into batches and which simulated session sends each: batch `k` goes to
/// writer `k % writers`, and every batch holds one site's records (a UsageBatch comes from one
/// site). Writer `w` is the session of sites `w, w + writers, …` and takes them in turn, so
/// every writer sends as many batches, and a site is never sent from two writers at once.
struct LedgerWorkload: Sendable {
    /// Global index of the first record (segments of one store do not overlap).
    let first: Int
    let count: Int
    let batch: Int
    let writers: Int
    let sites: Int

    var batches: Int { (count + batch - 1) / batch }

    func site(ofBatch k: Int) -> Int {
        let writer = k % writers
        guard writer < sites else { return writer % sites }
        let owned = (sites - writer + writers - 1) / writers
        return writer + writers * ((k / writers) % owned)
    }

    func site(of index: Int) -> Int { site(ofBatch: (index - first) / batch) }

    func indices(ofBatch k: Int) -> Range<Int> {
        first + k * batch..<first + min(count, (k + 1) * batch)
    }
}
