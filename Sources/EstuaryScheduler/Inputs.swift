import EstuaryModel

/// Whether a site takes new work.
public enum SiteStatus: String, Sendable, Hashable, Codable {
    case available, draining, unreachable
}

/// One pool of a site as the scheduler sees it: what the site reports.
public struct SchedulerPool: Sendable, Hashable {
    public var cls: AcceleratorClass
    /// Units in service.
    public var count: Int
    /// Units free as the site last reported them (other users of the site's manager, such
    /// as local Slurm users, make this lower than `count` minus Estuary's own jobs).
    public var reportedFree: Int
    /// Measured FP16 TFLOPS per unit from the enrolment test job, once run.
    public var verifiedFP16TFLOPS: Double?

    public init(cls: AcceleratorClass, count: Int, reportedFree: Int, verifiedFP16TFLOPS: Double? = nil) {
        self.cls = cls
        self.count = count
        self.reportedFree = reportedFree
        self.verifiedFP16TFLOPS = verifiedFP16TFLOPS
    }
}

/// Everything about a site the scheduler decides with.
public struct SchedulerSite: Sendable, Hashable {
    public var id: SiteID
    /// The city or hub; latency is looked up between regions.
    public var region: String
    /// Data zones the site is in (`gba`, `mainland`, `hk`, `overseas` …).
    public var zones: Set<String>
    public var energy: SiteEnergy
    public var priceBook: PriceBook
    public var status: SiteStatus
    public var pools: [SchedulerPool]

    public init(
        id: SiteID, region: String, zones: Set<String>, energy: SiteEnergy = .unstated, priceBook: PriceBook = PriceBook(),
        status: SiteStatus = .available, pools: [SchedulerPool]
    ) {
        self.id = id
        self.region = region
        self.zones = zones
        self.energy = energy
        self.priceBook = priceBook
        self.status = status
        self.pools = pools
    }
}

/// A job as the scheduler sees it.
public struct SchedulerJob: Sendable, Hashable {
    public var id: JobID
    public var tenant: TenantID
    /// Higher first within the tenant's queue.
    public var priority: Int
    public var submittedAtMs: Int64
    public var resources: ResourceRequest
    public var walltimeSeconds: Int
    public var constraints: PlacementConstraints
    /// nil: the policy's default preset.
    public var preference: PlacementPreference?
    public var deferral: Deferral?
    /// Sites that rejected the job or let its hold time out: it goes elsewhere next.
    public var excludedSites: Set<SiteID>

    public init(
        id: JobID, tenant: TenantID, priority: Int = 0, submittedAtMs: Int64, resources: ResourceRequest,
        walltimeSeconds: Int, constraints: PlacementConstraints = .none, preference: PlacementPreference? = nil,
        deferral: Deferral? = nil, excludedSites: Set<SiteID> = []
    ) {
        self.id = id
        self.tenant = tenant
        self.priority = priority
        self.submittedAtMs = submittedAtMs
        self.resources = resources
        self.walltimeSeconds = walltimeSeconds
        self.constraints = constraints
        self.preference = preference
        self.deferral = deferral
        self.excludedSites = excludedSites
    }

    /// The scheduler's view of a submitted job spec.
    public init(id: JobID, spec: JobSpec, submittedAtMs: Int64, excludedSites: Set<SiteID> = []) {
        self.init(
            id: id, tenant: spec.tenant, priority: spec.priority, submittedAtMs: submittedAtMs, resources: spec.resources,
            walltimeSeconds: spec.walltimeSeconds, constraints: spec.constraints, preference: spec.preference,
            deferral: spec.deferral, excludedSites: excludedSites)
    }
}

/// Symmetric round-trip latency between regions, in ms (from configuration now; measured by
/// the coordinators' gossip later). A region to itself is `sameRegionMs` unless listed.
public struct LatencyMatrix: Sendable, Hashable {
    private var entries: [String: [String: Int]] = [:]
    public var sameRegionMs: Int

    public init(sameRegionMs: Int = 1) { self.sameRegionMs = sameRegionMs }

    public mutating func set(_ a: String, _ b: String, ms: Int) {
        entries[a, default: [:]][b] = ms
        entries[b, default: [:]][a] = ms
    }

    /// nil when the pair is unknown: a job with `max_latency_ms` never runs where latency is unknown.
    public func ms(from a: String, to b: String) -> Int? {
        if let known = entries[a]?[b] { return known }
        return a == b ? sameRegionMs : nil
    }
}

/// A tenant's share of the mesh and its limits.
public struct TenantPolicy: Sendable, Hashable {
    /// Weight in dominant-resource fair share (2 = entitled to twice the share of weight 1).
    public var weight: Int
    /// Most units of a class the tenant may hold at once, over all sites.
    public var quotas: [AcceleratorClass: Int]

    public init(weight: Int = 1, quotas: [AcceleratorClass: Int] = [:]) {
        self.weight = weight
        self.quotas = quotas
    }
}

/// Weights of the scoring criteria of one preset (any non-negative numbers; they are
/// normalised by their sum).
public struct ScoreWeights: Sendable, Hashable {
    public var price: Double
    public var start: Double
    public var speed: Double
    public var latency: Double
    public var carbon: Double
    public var spread: Double
    public var locality: Double

    public init(price: Double, start: Double, speed: Double, latency: Double, carbon: Double, spread: Double, locality: Double) {
        self.price = price
        self.start = start
        self.speed = speed
        self.latency = latency
        self.carbon = carbon
        self.spread = spread
        self.locality = locality
    }
}

/// Site-independent scheduler settings (`--policy FILE`, docs/SCHEDULING.md).
public struct SchedulerPolicy: Sendable, Hashable {
    public var latency: LatencyMatrix
    public var tenants: [TenantID: TenantPolicy]
    /// For tenants the policy does not list.
    public var defaultTenant: TenantPolicy
    public var defaultPreference: PlacementPreference
    public var weights: [PlacementPreference: ScoreWeights]
    /// How long a site has to accept an assigned job before it is placed elsewhere.
    public var holdTimeoutMs: Int64
    /// How many blocked jobs at the front of the queues get a reservation that backfill must
    /// not delay.
    public var reservationDepth: Int

    public init(
        latency: LatencyMatrix = LatencyMatrix(), tenants: [TenantID: TenantPolicy] = [:],
        defaultTenant: TenantPolicy = TenantPolicy(), defaultPreference: PlacementPreference = .balanced,
        weights: [PlacementPreference: ScoreWeights] = SchedulerPolicy.standardWeights, holdTimeoutMs: Int64 = 60_000,
        reservationDepth: Int = 16
    ) {
        self.latency = latency
        self.tenants = tenants
        self.defaultTenant = defaultTenant
        self.defaultPreference = defaultPreference
        self.weights = weights
        self.holdTimeoutMs = holdTimeoutMs
        self.reservationDepth = reservationDepth
    }

    public func tenant(_ id: TenantID) -> TenantPolicy { tenants[id] ?? defaultTenant }

    /// The documented presets (docs/SCHEDULING.md).
    public static let standardWeights: [PlacementPreference: ScoreWeights] = [
        .cheapest: ScoreWeights(price: 70, start: 10, speed: 0, latency: 5, carbon: 5, spread: 5, locality: 5),
        .fastest: ScoreWeights(price: 0, start: 30, speed: 30, latency: 20, carbon: 0, spread: 10, locality: 10),
        .greenest: ScoreWeights(price: 10, start: 10, speed: 0, latency: 0, carbon: 70, spread: 5, locality: 5),
        .balanced: ScoreWeights(price: 25, start: 15, speed: 10, latency: 15, carbon: 15, spread: 10, locality: 10),
    ]
}

/// The price a tenant pays per unit-hour at a site, given the list price: the ledger supplies
/// voucher coverage here (issue #5); until then it is the list price.
public typealias EffectivePrice = @Sendable (_ tenant: TenantID, _ site: SiteID, _ cls: AcceleratorClass, _ listFenPerUnitHour: Int64) -> Int64
