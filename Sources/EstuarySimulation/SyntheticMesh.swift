import EstuaryModel
import EstuaryScheduler

/// A large random mesh for the scheduler benchmark: `siteCount` sites of `poolsPerSite` pools
/// each, and `jobCount` queued jobs with a mix of requests, gangs, constraints and preferences.
/// The same seed gives the same mesh everywhere (SplitMix64, no hashing order involved).
public struct SyntheticMesh: Sendable {
    public var sites: [SchedulerSite]
    public var jobs: [SchedulerJob]
    public var catalog: AcceleratorCatalog
    public var policy: SchedulerPolicy
    /// What the jobs ask for, in counts, for the benchmark's notes.
    public var mix: Mix

    public struct Mix: Sendable, Hashable {
        public var namedClass = 0
        public var alternatives = 0
        public var capability = 0
        public var gangs = 0
        public var withConstraints = 0
        public var withPreference = 0
        public var deferrable = 0
        public var units = 0
        /// Distinct (classes or capability, hard constraints) combinations: how much a
        /// scheduler can share between jobs that want the same sites.
        public var distinctRequirements = 0
    }

    struct Requirement: Hashable {
        var classes: [AcceleratorClass]
        var minFP16TFLOPS: Double?
        var minMemoryGiB: Double?
        var constraints: PlacementConstraints
    }

    /// Cities with rough coordinates (km on a plane) for a plausible latency matrix, and their zones.
    static let regions: [(name: String, x: Double, y: Double, zones: Set<String>)] = [
        ("shenzhen", 0, 0, ["gba", "mainland"]), ("guangzhou", -100, 80, ["gba", "mainland"]),
        ("dongguan", -50, 50, ["gba", "mainland"]), ("foshan", -120, 70, ["gba", "mainland"]),
        ("zhuhai", -60, -50, ["gba", "mainland"]), ("shaoguan", -80, 250, ["gba", "mainland"]),
        ("hongkong", 20, -30, ["gba", "hk"]), ("macau", -70, -60, ["gba", "macau"]),
        ("guiyang", -900, 300, ["mainland"]), ("shanghai", 1200, 1000, ["mainland"]),
        ("beijing", 200, 1900, ["mainland"]), ("ulanqab", -100, 2000, ["mainland"]),
        ("singapore", -1500, -2600, ["overseas"]), ("frankfurt", -9000, 3000, ["overseas"]),
    ]

    /// Classes pools are drawn from; the first ones are common, the rest rarer.
    public static let poolClasses: [AcceleratorClass] = [
        "cpu-x86-64", "nvidia-a100", "nvidia-h100", "nvidia-l40s", "ascend-910b", "nvidia-a10", "nvidia-t4",
        "nvidia-v100-32g", "hygon-dcu", "cpu-kunpeng-920", "nvidia-h20", "nvidia-v100-16g", "nvidia-p100",
    ]

    static func basePrice(_ cls: AcceleratorClass) -> Int64 {
        switch cls.rawValue {
        case "nvidia-h100": 3000
        case "nvidia-a100": 1800
        case "nvidia-l40s": 1200
        case "ascend-910b": 1500
        case "nvidia-a10": 800
        case "nvidia-t4": 450
        case "nvidia-v100-32g", "nvidia-v100-16g": 1000
        case "nvidia-p100": 600
        case "hygon-dcu": 700
        case "nvidia-h20": 1100
        case "cpu-x86-64", "cpu-kunpeng-920": 12
        default: 1000
        }
    }

    /// `deferrableShare`: the fraction of jobs that are deferrable (they wait within a 48 h
    /// deadline for cheaper or greener hours).
    public static func generate(
        sites siteCount: Int, poolsPerSite: Int, jobs jobCount: Int, seed: UInt64, deferrableShare: Double = 0.02
    ) -> SyntheticMesh {
        var random = SplitMix64(seed: seed)
        let catalog = Simulation.catalog
        let poolsPerSite = min(poolsPerSite, poolClasses.count)

        var latency = LatencyMatrix(sameRegionMs: 1)
        for (i, a) in regions.enumerated() {
            for b in regions[(i + 1)...] {
                let km = ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
                latency.set(a.name, b.name, ms: 1 + Int(km / 100))  // ~1 ms RTT per 100 km of fibre
            }
        }

        var sites: [SchedulerSite] = []
        sites.reserveCapacity(siteCount)
        let timeOfUse = [
            TariffPeriod(kind: .peak, startMinute: 600, endMinute: 720), TariffPeriod(kind: .peak, startMinute: 840, endMinute: 1140),
            TariffPeriod(kind: .valley, startMinute: 1380, endMinute: 420),
        ]
        for index in 0..<siteCount {
            let region = regions[index % regions.count]
            // A random choice of distinct classes per site (Fisher–Yates on the class list).
            var classes = poolClasses
            for i in stride(from: classes.count - 1, to: 0, by: -1) { classes.swapAt(i, random.below(i + 1)) }
            let chosen = Array(classes.prefix(poolsPerSite)).sorted()
            var pools: [SchedulerPool] = []
            var prices: [AcceleratorClass: ClassPrice] = [:]
            for cls in chosen {
                let isCPU = catalog[cls]?.kind == .cpu
                let count = isCPU ? 64 * random.int(in: 2...32) : 8 * random.int(in: 1...16)
                // Some of the units are busy with the site's own users.
                let busy = random.chance(0.3) ? random.below(count / 4 + 1) : 0
                pools.append(
                    SchedulerPool(
                        cls: cls, count: count, reportedFree: count - busy,
                        verifiedFP16TFLOPS: random.chance(0.5) ? (catalog[cls]?.fp16TFLOPS ?? 1) * (0.8 + 0.2 * random.unit()) : nil))
                let flat = basePrice(cls) * Int64(random.int(in: 70...150)) / 100
                prices[cls] = random.chance(0.5) ? ClassPrice(flat: flat, peak: flat * 3 / 2, valley: flat / 2) : ClassPrice(flat: flat)
            }
            let energy = SiteEnergy(
                greenShareBP: random.int(in: 0...9000), pueMilli: random.int(in: 1100...1700), gridGramsPerKWh: random.int(in: 50...800))
            sites.append(
                SchedulerSite(
                    id: SiteID(rawValue: "site-\(index)"), region: region.name, zones: region.zones, energy: energy,
                    priceBook: PriceBook(prices: prices, periods: random.chance(0.5) ? timeOfUse : []),
                    status: random.chance(0.02) ? .draining : .available, pools: pools))
        }

        let tenantCount = 24
        var tenants: [TenantID: TenantPolicy] = [:]
        for index in 0..<tenantCount {
            var quotas: [AcceleratorClass: Int] = [:]
            if index % 6 == 5 { quotas[random.pick(Array(poolClasses.dropFirst()))] = 64 * random.int(in: 1...8) }
            tenants[TenantID(rawValue: "tenant-\(index)")] = TenantPolicy(weight: 1 + index % 3, quotas: quotas)
        }
        let policy = SchedulerPolicy(latency: latency, tenants: tenants)

        var mix = Mix()
        var jobs: [SchedulerJob] = []
        jobs.reserveCapacity(jobCount)
        var requirements = Set<Requirement>()
        let gpuLike = Array(poolClasses.filter { catalog[$0]?.kind != .cpu })
        for index in 0..<jobCount {
            let roll = random.unit()
            var resources: ResourceRequest
            let cpu = random.chance(0.3)
            let count =
                cpu ? random.pick([1, 2, 4, 8, 16, 32]) : random.pick([1, 1, 1, 2, 2, 4, 8])
            if roll < 0.7 {
                resources = ResourceRequest(
                    classes: [cpu ? random.pick(["cpu-x86-64", "cpu-x86-64", "cpu-kunpeng-920"]) : random.pick(gpuLike)], count: count)
                mix.namedClass += 1
            } else if roll < 0.85 || cpu {
                let first = random.below(gpuLike.count)
                let alternatives = cpu ? ["cpu-x86-64", "cpu-kunpeng-920"] : [gpuLike[first], gpuLike[(first + 1 + random.below(gpuLike.count - 1)) % gpuLike.count]]
                resources = ResourceRequest(classes: alternatives, count: count)
                mix.alternatives += 1
            } else {
                resources = ResourceRequest(
                    classes: [], minFP16TFLOPS: random.chance(0.7) ? random.pick([50, 100, 200, 300]) : nil,
                    minMemoryGiB: random.pick([16, 24, 32, 48, 64]), count: count)
                mix.capability += 1
            }
            if random.chance(0.15) {
                resources.tasks = random.pick([2, 2, 4, 8])
                mix.gangs += 1
            }
            mix.units += resources.totalUnits

            var constraints = PlacementConstraints()
            var constrained = false
            if random.chance(0.2) { constraints.residency = "mainland"; constrained = true }
            if random.chance(0.1) { constraints.dataZone = "gba"; constrained = true }
            if random.chance(0.3) { constraints.fromRegion = random.pick(regions).name }
            if constraints.fromRegion != nil, random.chance(0.3) {
                constraints.maxLatencyMs = random.pick([5, 10, 30, 100])
                constrained = true
            }
            if random.chance(0.1) { constraints.minGreenShareBP = random.pick([3000, 5000, 7000]); constrained = true }
            if random.chance(0.05) {
                constraints.maxPricePerHourFen = Int64(resources.totalUnits) * basePrice(resources.classes.first ?? "nvidia-a100") * 2
                constrained = true
            }
            if random.chance(0.03) {
                constraints.allowSites = (0..<5).map { _ in SiteID(rawValue: "site-\(random.below(max(1, siteCount)))") }
                constrained = true
            }
            if random.chance(0.05) {
                constraints.denySites = (0..<3).map { _ in SiteID(rawValue: "site-\(random.below(max(1, siteCount)))") }
                constrained = true
            }
            if random.chance(0.01) { constraints.domesticOnly = true; constrained = true }
            if random.chance(0.2) { constraints.dataRegion = random.pick(regions).name }
            if constrained { mix.withConstraints += 1 }
            var hard = constraints
            hard.fromRegion = hard.maxLatencyMs == nil ? nil : hard.fromRegion
            hard.dataRegion = nil
            requirements.insert(
                Requirement(
                    classes: resources.classes, minFP16TFLOPS: resources.minFP16TFLOPS, minMemoryGiB: resources.minMemoryGiB,
                    constraints: hard))

            let preference: PlacementPreference? = random.chance(0.5) ? random.pick(PlacementPreference.allCases) : nil
            if preference != nil { mix.withPreference += 1 }
            let walltime = random.int(in: 60...86_400)
            var deferral: Deferral?
            if random.chance(deferrableShare) {
                deferral = Deferral(deadlineMs: 48 * 3_600_000, deferrable: true)
                mix.deferrable += 1
            }
            jobs.append(
                SchedulerJob(
                    id: JobID(rawValue: "job-\(index)"), tenant: TenantID(rawValue: "tenant-\(random.below(tenantCount))"),
                    priority: random.int(in: -10...10), submittedAtMs: Int64(random.below(3_600_000)), resources: resources,
                    walltimeSeconds: walltime, constraints: constraints, preference: preference, deferral: deferral))
        }
        mix.distinctRequirements = requirements.count
        return SyntheticMesh(sites: sites, jobs: jobs, catalog: catalog, policy: policy, mix: mix)
    }
}
