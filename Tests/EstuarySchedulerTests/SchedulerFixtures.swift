import EstuaryModel
import EstuaryScheduler

/// Small meshes for scheduler tests.
enum Mesh {
    static let a100: AcceleratorClass = "nvidia-a100"
    static let a800: AcceleratorClass = "nvidia-a800"
    static let h100: AcceleratorClass = "nvidia-h100"
    static let ascend: AcceleratorClass = "ascend-910b"
    static let v100m16: AcceleratorClass = "V100M16"
    static let v100m32: AcceleratorClass = "V100M32"

    /// Monday 2026-11-23 12:00 China Standard Time.
    static let noon: Int64 = 1_795_406_400_000
    static let hourMs: Int64 = 3_600_000

    static let catalog = AcceleratorCatalog([
        spec(a100, fp16: 312, memory: 80, watts: 400),
        spec(a800, fp16: 312, memory: 80, watts: 400),
        spec(h100, fp16: 989, memory: 80, watts: 700),
        spec(ascend, fp16: 320, memory: 64, watts: 400, domestic: true),
        spec(v100m16, fp16: 125, memory: 16, watts: 300),
        spec(v100m32, fp16: 125, memory: 32, watts: 300),
    ])

    static func spec(_ name: AcceleratorClass, fp16: Double, memory: Double, watts: Int, domestic: Bool = false) -> AcceleratorSpec {
        AcceleratorSpec(
            name: name, vendor: "v", model: name.rawValue, kind: .gpu, domestic: domestic, fp16TFLOPS: fp16, fp32TFLOPS: fp16 / 16,
            fp64TFLOPS: fp16 / 32, memoryGiB: memory, powerWatts: watts)
    }

    static func pool(_ cls: AcceleratorClass, _ count: Int, free: Int? = nil) -> SchedulerPool {
        SchedulerPool(cls: cls, count: count, reportedFree: free ?? count)
    }

    /// A site with flat prices (fen per unit-hour) for every class it lists.
    static func site(
        _ id: SiteID, region: String = "shenzhen", zones: Set<String> = ["gba", "mainland"], pools: [SchedulerPool],
        prices: [AcceleratorClass: Int64]? = nil, greenBP: Int = 0, pueMilli: Int = 1500, grid: Int = 570, hourly: [Int] = [],
        periods: [TariffPeriod] = [], status: SiteStatus = .available
    ) -> SchedulerSite {
        let priced = prices ?? Dictionary(pools.map { ($0.cls, Int64(1000)) }, uniquingKeysWith: { first, _ in first })
        return SchedulerSite(
            id: id, region: region, zones: zones,
            energy: SiteEnergy(greenShareBP: greenBP, pueMilli: pueMilli, gridGramsPerKWh: grid, hourlyGramsPerKWh: hourly),
            priceBook: PriceBook(prices: priced.mapValues { ClassPrice(flat: $0) }, periods: periods), status: status, pools: pools)
    }

    static func job(
        _ id: JobID, tenant: TenantID = "acme", classes: [AcceleratorClass] = [a100], count: Int = 1, tasks: Int = 1,
        walltime: Int = 3600, priority: Int = 0, submitted: Int64 = 0, constraints: PlacementConstraints = .none,
        preference: PlacementPreference? = nil, deferral: Deferral? = nil
    ) -> SchedulerJob {
        SchedulerJob(
            id: id, tenant: tenant, priority: priority, submittedAtMs: submitted,
            resources: ResourceRequest(classes: classes, count: count, tasks: tasks), walltimeSeconds: walltime,
            constraints: constraints, preference: preference, deferral: deferral)
    }

    static func capability(_ id: JobID, minFP16: Double?, minMemory: Double?, count: Int = 1) -> SchedulerJob {
        SchedulerJob(
            id: id, tenant: "acme", submittedAtMs: 0,
            resources: ResourceRequest(classes: [], minFP16TFLOPS: minFP16, minMemoryGiB: minMemory, count: count),
            walltimeSeconds: 3600)
    }

    static func scheduler(_ sites: [SchedulerSite], policy: SchedulerPolicy = SchedulerPolicy()) -> Scheduler {
        var scheduler = Scheduler(catalog: catalog, policy: policy)
        for site in sites { scheduler.upsertSite(site) }
        return scheduler
    }

    /// Policy with one preset's weights replaced, the rest standard.
    static func policy(latency: LatencyMatrix = LatencyMatrix(), tenants: [TenantID: TenantPolicy] = [:], reservationDepth: Int = 16)
        -> SchedulerPolicy
    {
        SchedulerPolicy(latency: latency, tenants: tenants, reservationDepth: reservationDepth)
    }
}

extension SchedulingPass {
    var placedJobs: [JobID] { placements.map(\.job) }

    func placement(_ job: JobID) -> Placement? { placements.first { $0.job == job } }
}

extension Explanation {
    func reasons(at site: SiteID) -> [String] {
        sites.filter { $0.site == site }.flatMap { $0.ruledOut.map(\.description) }
    }
}

/// Shorthands over EstuaryModel's seeded generator, as the property tests read.
extension SplitMix64 {
    mutating func int(_ range: ClosedRange<Int>) -> Int { int(in: range) }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
