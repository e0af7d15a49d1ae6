/// The coordinator mesh as one coordinator sees it (`GET /v1/mesh/members`,
/// `estuaryctl mesh members`).
public struct MeshMembersView: Sendable, Hashable, Codable {
    /// This coordinator.
    public var coordinator: String
    public var region: String
    /// Lifeguard's local health score: 0 is healthy; higher means this coordinator itself
    /// missed acks lately and waits longer before suspecting others.
    public var localHealth: Int
    public var members: [MeshMemberView]
    /// Latency between regions as the scheduler uses it, with where each figure comes from.
    public var latency: [RegionLatencyView]

    public init(coordinator: String, region: String, localHealth: Int, members: [MeshMemberView], latency: [RegionLatencyView]) {
        self.coordinator = coordinator
        self.region = region
        self.localHealth = localHealth
        self.members = members
        self.latency = latency
    }

    enum CodingKeys: String, CodingKey {
        case coordinator, region
        case localHealth = "local_health"
        case members, latency
    }
}

public struct MeshMemberView: Sendable, Hashable, Codable {
    public var id: String
    /// Its mesh address, `host:port`.
    public var address: String
    public var region: String
    /// `alive`, `suspect`, `dead` or `left`.
    public var state: String
    public var incarnation: UInt64
    /// Since when it is in `state` (this coordinator's clock, Unix ms).
    public var stateSinceMs: Int64
    /// Smoothed round-trip time of this coordinator's own probes; nil before the first.
    public var rttMs: Double?
    /// Round-trip time its network coordinate predicts; nil without coordinates.
    public var estimatedRTTMs: Double?
    public var isSelf: Bool

    public init(
        id: String, address: String, region: String, state: String, incarnation: UInt64, stateSinceMs: Int64, rttMs: Double?,
        estimatedRTTMs: Double?, isSelf: Bool
    ) {
        self.id = id
        self.address = address
        self.region = region
        self.state = state
        self.incarnation = incarnation
        self.stateSinceMs = stateSinceMs
        self.rttMs = rttMs
        self.estimatedRTTMs = estimatedRTTMs
        self.isSelf = isSelf
    }

    enum CodingKeys: String, CodingKey {
        case id, address, region, state, incarnation
        case stateSinceMs = "state_since_ms"
        case rttMs = "rtt_ms"
        case estimatedRTTMs = "estimated_rtt_ms"
        case isSelf = "self"
    }
}

/// Round-trip latency between two regions, in whole ms (rounded up), and its source:
/// `measured` (this coordinator's probes), `estimated` (network coordinates of two other
/// coordinators) or `configured` (the policy file).
public struct RegionLatencyView: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    public var ms: Int
    public var source: String

    public init(from: String, to: String, ms: Int, source: String) {
        self.from = from
        self.to = to
        self.ms = ms
        self.source = source
    }
}

/// Every site of the mesh as gossip last reported it (`GET /v1/mesh/capacity`,
/// `estuaryctl capacity --mesh`).
public struct MeshCapacityView: Sendable, Hashable, Codable {
    public var coordinator: String
    public var sites: [MeshSiteCapacityView]

    public init(coordinator: String, sites: [MeshSiteCapacityView]) {
        self.coordinator = coordinator
        self.sites = sites
    }
}

public struct MeshSiteCapacityView: Sendable, Hashable, Codable {
    public var site: String
    /// The coordinator the site's agent connects to.
    public var origin: String
    public var region: String
    /// The origin's version of this summary; a higher one replaces a lower one everywhere.
    public var version: UInt64
    public var reachable: Bool
    /// Accelerator class → units.
    public var freeUnits: [String: Int]
    public var totalUnits: [String: Int]
    /// The site's lowest list price in force, fen per unit-hour.
    public var priceIndexFen: Int64
    /// Share of the site's energy that is green, basis points.
    public var greenShareBP: Int

    public init(
        site: String, origin: String, region: String, version: UInt64, reachable: Bool, freeUnits: [String: Int],
        totalUnits: [String: Int], priceIndexFen: Int64, greenShareBP: Int
    ) {
        self.site = site
        self.origin = origin
        self.region = region
        self.version = version
        self.reachable = reachable
        self.freeUnits = freeUnits
        self.totalUnits = totalUnits
        self.priceIndexFen = priceIndexFen
        self.greenShareBP = greenShareBP
    }

    enum CodingKeys: String, CodingKey {
        case site, origin, region, version, reachable
        case freeUnits = "free_units"
        case totalUnits = "total_units"
        case priceIndexFen = "price_index_fen"
        case greenShareBP = "green_share_bp"
    }
}
