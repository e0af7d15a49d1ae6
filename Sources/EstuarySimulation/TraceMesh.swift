import EstuaryModel
import EstuaryScheduler

/// The Alibaba cluster split into federated sites, and its tasks as scheduler jobs.
///
/// Node *i* goes to site `i % siteCount` (round-robin by position in the node list, so every
/// site gets a share of every model). A site has one pool per GPU class it holds (count = Σ
/// GPUs of its nodes of that model) and one `cpu-x86-64` pool (count = Σ cpu_milli / 1000 over
/// all its nodes, GPU nodes included). Sites differ in region, zones, energy and prices so that
/// scoring has something to choose between.
public struct TraceMesh: Sendable {
    public var sites: [SchedulerSite]
    /// Every GPU class present in the cluster, sorted: what a task with an empty gpu_spec accepts.
    public var gpuClasses: [AcceleratorClass]
    public var catalog: AcceleratorCatalog
    public var policy: SchedulerPolicy

    public static let cpuClass: AcceleratorClass = "cpu-x86-64"

    /// The class of a trace GPU model: catalog names for the published models, `alibaba-g1` …
    /// for the anonymised ones (absent from the catalog: matched by exact name only), and a
    /// sanitised `gpu-<model>` for anything else.
    public static func gpuClass(model: String) -> AcceleratorClass {
        switch model {
        case "V100M16": return "nvidia-v100-16g"
        case "V100M32": return "nvidia-v100-32g"
        case "P100": return "nvidia-p100"
        case "T4": return "nvidia-t4"
        case "A10": return "nvidia-a10"
        case "G1", "G2", "G3": return AcceleratorClass(rawValue: "alibaba-" + model.lowercased())
        default:
            let cleaned = model.lowercased().unicodeScalars.map { scalar -> Character in
                (("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)) ? Character(scalar) : "-"
            }
            return AcceleratorClass(rawValue: "gpu-" + String(cleaned))
        }
    }

    /// The site of node `index` (0-based position in the node list).
    public static func siteIndex(ofNode index: Int, siteCount: Int) -> Int { index % siteCount }

    struct Template {
        var name: String
        var region: String
        var zones: Set<String>
        var energy: SiteEnergy
        /// Price factor in percent of the base list price.
        var pricePercent: Int64
        var timeOfUse: Bool
    }

    static let templates: [Template] = [
        Template(
            name: "shenzhen", region: "shenzhen", zones: ["gba", "mainland"],
            energy: SiteEnergy(greenShareBP: 3000, pueMilli: 1300, gridGramsPerKWh: 480), pricePercent: 115, timeOfUse: true),
        Template(
            name: "guangzhou", region: "guangzhou", zones: ["gba", "mainland"],
            energy: SiteEnergy(greenShareBP: 2500, pueMilli: 1400, gridGramsPerKWh: 520), pricePercent: 100, timeOfUse: true),
        Template(
            name: "shaoguan", region: "shaoguan", zones: ["gba", "mainland"],
            energy: SiteEnergy(greenShareBP: 6000, pueMilli: 1200, gridGramsPerKWh: 380), pricePercent: 80, timeOfUse: true),
        Template(
            name: "hongkong", region: "hongkong", zones: ["gba", "hk"],
            energy: SiteEnergy(greenShareBP: 800, pueMilli: 1500, gridGramsPerKWh: 700), pricePercent: 140, timeOfUse: false),
    ]

    /// Base list prices in fen per unit-hour.
    static func basePrice(_ cls: AcceleratorClass) -> Int64 {
        switch cls.rawValue {
        case "nvidia-v100-16g": 1200
        case "nvidia-v100-32g": 1600
        case "nvidia-p100": 700
        case "nvidia-t4": 500
        case "nvidia-a10": 900
        case "alibaba-g1": 1000
        case "alibaba-g2": 1400
        case "alibaba-g3": 2000
        case "cpu-x86-64": 15
        default: 1000
        }
    }

    /// Peak 10:00–12:00 and 14:00–19:00, valley 23:00–07:00 (a typical Guangdong tariff shape).
    static let tariff: [TariffPeriod] = [
        TariffPeriod(kind: .peak, startMinute: 600, endMinute: 720),
        TariffPeriod(kind: .peak, startMinute: 840, endMinute: 1140),
        TariffPeriod(kind: .valley, startMinute: 1380, endMinute: 420),
    ]

    public init(nodes: [AlibabaTrace.Node], siteCount: Int = 4) {
        precondition(siteCount >= 1, "a mesh needs at least one site")
        var gpus = Array(repeating: [AcceleratorClass: Int](), count: siteCount)
        var cpuMilli = Array(repeating: 0, count: siteCount)
        var present = Set<AcceleratorClass>()
        for (index, node) in nodes.enumerated() {
            let site = Self.siteIndex(ofNode: index, siteCount: siteCount)
            cpuMilli[site] += node.cpuMilli
            if let model = node.model, node.gpus > 0 {
                let cls = Self.gpuClass(model: model)
                gpus[site][cls, default: 0] += node.gpus
                present.insert(cls)
            }
        }
        gpuClasses = present.sorted()

        var sites: [SchedulerSite] = []
        for index in 0..<siteCount {
            let template = Self.templates[index % Self.templates.count]
            let round = index / Self.templates.count
            var pools = gpus[index].sorted { $0.key < $1.key }.map { SchedulerPool(cls: $0.key, count: $0.value, reportedFree: $0.value) }
            let cores = cpuMilli[index] / 1000
            if cores > 0 { pools.append(SchedulerPool(cls: Self.cpuClass, count: cores, reportedFree: cores)) }
            var prices: [AcceleratorClass: ClassPrice] = [:]
            for pool in pools {
                let flat = Self.basePrice(pool.cls) * template.pricePercent / 100
                prices[pool.cls] = template.timeOfUse ? ClassPrice(flat: flat, peak: flat * 3 / 2, valley: flat / 2) : ClassPrice(flat: flat)
            }
            sites.append(
                SchedulerSite(
                    id: SiteID(rawValue: "trace-" + template.name + (round == 0 ? "" : "-\(round + 1)")), region: template.region,
                    zones: template.zones, energy: template.energy,
                    priceBook: PriceBook(prices: prices, periods: template.timeOfUse ? Self.tariff : []), pools: pools))
        }
        self.sites = sites
        catalog = Simulation.catalog

        var latency = LatencyMatrix(sameRegionMs: 1)
        latency.set("shenzhen", "guangzhou", ms: 3)
        latency.set("shenzhen", "shaoguan", ms: 6)
        latency.set("shenzhen", "hongkong", ms: 2)
        latency.set("guangzhou", "shaoguan", ms: 4)
        latency.set("guangzhou", "hongkong", ms: 5)
        latency.set("shaoguan", "hongkong", ms: 8)
        policy = SchedulerPolicy(
            latency: latency,
            tenants: [
                Self.tenant(qos: "Guaranteed"): TenantPolicy(weight: 4), Self.tenant(qos: "LS"): TenantPolicy(weight: 2),
                Self.tenant(qos: "Burstable"): TenantPolicy(weight: 1), Self.tenant(qos: "BE"): TenantPolicy(weight: 1),
            ])
    }

    /// The tenant of a QoS class: `LS` → `ls`, `BE` → `be` …
    public static func tenant(qos: String) -> TenantID { TenantID(rawValue: qos.lowercased()) }
}

/// One trace task as a scheduler job, with its arrival and its measured runtime (both scaled).
public struct TraceJob: Sendable, Hashable {
    public var job: SchedulerJob
    public var arrivalMs: Int64
    public var runtimeMs: Int64
    /// The task asked for a share of one GPU (gpu_milli < 1000) and gets a whole one.
    public var sharedGPU: Bool
}

/// The trace's tasks as jobs.
///
/// GPU tasks ask for `num_gpu` units of any class their gpu_spec allows (every GPU class of the
/// cluster when it is empty); a GPU share (gpu_milli < 1000) becomes one whole unit, since GPU
/// sharing is out of scope. CPU-only tasks ask for ⌈cpu_milli / 1000⌉ `cpu-x86-64` cores. The
/// tenant is the QoS class. Runtime = deletion_time − scheduled_time (≥ 1 s); a task never
/// scheduled counts from its creation, a task not yet deleted runs to the end of the trace.
/// Times are multiplied by `timeScale`; the job's walltime is its scaled runtime.
///
/// The trace itself never has more than ~71 GPUs busy at once on a cluster of 6,212, so a
/// replay as it is shows no contention. `arrivalSpeedup` > 1 divides the arrival times (not the
/// runtimes): the same tasks arrive that many times faster, which multiplies the offered load.
public struct TraceWorkload: Sendable {
    public var jobs: [TraceJob]
    public var timeScale: Double
    public var arrivalSpeedup: Double
    /// Latest time in the trace, in trace seconds.
    public var traceEndSeconds: Int64
    public var sharedGPUTasks: Int { jobs.lazy.filter(\.sharedGPU).count }

    public init(tasks: [AlibabaTrace.Task], mesh: TraceMesh, timeScale: Double = 1, arrivalSpeedup: Double = 1) {
        precondition(timeScale > 0 && arrivalSpeedup > 0, "timeScale and arrivalSpeedup must be positive")
        self.timeScale = timeScale
        self.arrivalSpeedup = arrivalSpeedup
        let end = tasks.reduce(Int64(0)) { latest, task in
            max(latest, task.creationTime, task.deletionTime ?? 0, task.scheduledTime ?? 0)
        }
        traceEndSeconds = end
        let regions = TraceMesh.templates.map(\.region)
        jobs = tasks.enumerated().map { index, task in
            let resources: ResourceRequest
            if task.gpus > 0 {
                let classes = task.gpuSpec.isEmpty ? mesh.gpuClasses : task.gpuSpec.map(TraceMesh.gpuClass(model:))
                resources = ResourceRequest(classes: classes, count: task.gpus, tasks: 1, memoryMiB: task.memoryMiB > 0 ? task.memoryMiB : nil)
            } else {
                resources = ResourceRequest(
                    classes: [TraceMesh.cpuClass], count: (task.cpuMilli + 999) / 1000, tasks: 1,
                    memoryMiB: task.memoryMiB > 0 ? task.memoryMiB : nil)
            }
            let start = task.scheduledTime ?? task.creationTime
            let runtimeSeconds = max(1, (task.deletionTime ?? end) - start)
            let arrivalMs = Int64((Double(task.creationTime) * 1000 * timeScale / arrivalSpeedup).rounded())
            let runtimeMs = max(1, Int64((Double(runtimeSeconds) * 1000 * timeScale).rounded()))
            let job = SchedulerJob(
                id: JobID(rawValue: task.name), tenant: TraceMesh.tenant(qos: task.qos), submittedAtMs: arrivalMs,
                resources: resources, walltimeSeconds: Int((runtimeMs + 999) / 1000),
                constraints: PlacementConstraints(fromRegion: regions[index % regions.count]))
            return TraceJob(job: job, arrivalMs: arrivalMs, runtimeMs: runtimeMs, sharedGPU: task.gpus > 0 && task.gpuMilli < 1000)
        }
    }
}

extension AlibabaTrace {
    /// Names of the tasks that fit no site even when the whole cluster is idle, computed from
    /// the raw rows alone (not from the scheduler's pools): per site (node *i* → site
    /// `i % siteCount`), the GPUs of each model and the whole cores of all its nodes; a GPU task
    /// fits when some site has `num_gpu` GPUs of one model its gpu_spec allows (any model when
    /// empty), a CPU-only task when some site has ⌈cpu_milli / 1000⌉ cores.
    public static func neverPlaceable(tasks: [Task], nodes: [Node], siteCount: Int) -> Set<String> {
        var gpusByModel = Array(repeating: [String: Int](), count: siteCount)
        var milli = Array(repeating: 0, count: siteCount)
        for (index, node) in nodes.enumerated() {
            milli[index % siteCount] += node.cpuMilli
            if let model = node.model { gpusByModel[index % siteCount][model, default: 0] += node.gpus }
        }
        let largestCPU = milli.map { $0 / 1000 }.max() ?? 0
        var result = Set<String>()
        for task in tasks {
            let fits: Bool
            if task.gpus > 0 {
                fits = gpusByModel.contains { site in
                    site.contains { model, count in (task.gpuSpec.isEmpty || task.gpuSpec.contains(model)) && count >= task.gpus }
                }
            } else {
                fits = (task.cpuMilli + 999) / 1000 <= largestCPU
            }
            if !fits { result.insert(task.name) }
        }
        return result
    }
}
