/// How the scheduler ranks the sites that pass every hard constraint (DESIGN.md §5; the
/// weights are in `docs/SCHEDULING.md`).
public enum PlacementPreference: String, Sendable, Hashable, Codable, CaseIterable {
    case cheapest, fastest, greenest, balanced
}

/// Hard rules a site must meet to run a job. Every field is optional; an empty value means
/// "no rule".
public struct PlacementConstraints: Sendable, Hashable, Codable {
    /// The zone the job's data lives in (`gba`): only sites in that zone may run it.
    public var dataZone: String?
    /// Where the data must stay (`mainland`): only sites in that zone may run it, so mainland
    /// data never goes to `hk` or `overseas` sites.
    public var residency: String?
    /// Domestic accelerators only (Ascend, Hygon DCU, Kunpeng …).
    public var domesticOnly: Bool
    /// Largest round-trip latency in ms from `fromRegion` to the site's region.
    public var maxLatencyMs: Int?
    /// The submitter's region, for `maxLatencyMs` and for latency scoring.
    public var fromRegion: String?
    /// Smallest green-energy share the site must have, in basis points (5000 = 50 %).
    public var minGreenShareBP: Int?
    /// Most the whole job may cost per hour, in fen (all tasks, all units), at the price the
    /// tenant pays now: the list price until the ledger supplies the price after vouchers.
    public var maxPricePerHourFen: Int64?
    /// Only these sites, when non-empty.
    public var allowSites: [SiteID]
    /// Never these sites.
    public var denySites: [SiteID]
    /// Where the job's input data is (a region): a soft preference for sites there.
    public var dataRegion: String?

    public init(
        dataZone: String? = nil, residency: String? = nil, domesticOnly: Bool = false, maxLatencyMs: Int? = nil,
        fromRegion: String? = nil, minGreenShareBP: Int? = nil, maxPricePerHourFen: Int64? = nil,
        allowSites: [SiteID] = [], denySites: [SiteID] = [], dataRegion: String? = nil
    ) {
        self.dataZone = dataZone
        self.residency = residency
        self.domesticOnly = domesticOnly
        self.maxLatencyMs = maxLatencyMs
        self.fromRegion = fromRegion
        self.minGreenShareBP = minGreenShareBP
        self.maxPricePerHourFen = maxPricePerHourFen
        self.allowSites = allowSites
        self.denySites = denySites
        self.dataRegion = dataRegion
    }

    public static let none = PlacementConstraints()

    enum CodingKeys: String, CodingKey {
        case dataZone = "data_zone"
        case residency
        case domesticOnly = "domestic_only"
        case maxLatencyMs = "max_latency_ms"
        case fromRegion = "from_region"
        case minGreenShareBP = "min_green_share_bp"
        case maxPricePerHourFen = "max_price_per_hour_fen"
        case allowSites = "allow_sites"
        case denySites = "deny_sites"
        case dataRegion = "data_region"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataZone = try c.decodeIfPresent(String.self, forKey: .dataZone)
        residency = try c.decodeIfPresent(String.self, forKey: .residency)
        domesticOnly = try c.decodeIfPresent(Bool.self, forKey: .domesticOnly) ?? false
        maxLatencyMs = try c.decodeIfPresent(Int.self, forKey: .maxLatencyMs)
        fromRegion = try c.decodeIfPresent(String.self, forKey: .fromRegion)
        minGreenShareBP = try c.decodeIfPresent(Int.self, forKey: .minGreenShareBP)
        maxPricePerHourFen = try c.decodeIfPresent(Int64.self, forKey: .maxPricePerHourFen)
        allowSites = try c.decodeIfPresent([SiteID].self, forKey: .allowSites) ?? []
        denySites = try c.decodeIfPresent([SiteID].self, forKey: .denySites) ?? []
        dataRegion = try c.decodeIfPresent(String.self, forKey: .dataRegion)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(dataZone, forKey: .dataZone)
        try c.encodeIfPresent(residency, forKey: .residency)
        if domesticOnly { try c.encode(true, forKey: .domesticOnly) }
        try c.encodeIfPresent(maxLatencyMs, forKey: .maxLatencyMs)
        try c.encodeIfPresent(fromRegion, forKey: .fromRegion)
        try c.encodeIfPresent(minGreenShareBP, forKey: .minGreenShareBP)
        try c.encodeIfPresent(maxPricePerHourFen, forKey: .maxPricePerHourFen)
        if !allowSites.isEmpty { try c.encode(allowSites, forKey: .allowSites) }
        if !denySites.isEmpty { try c.encode(denySites, forKey: .denySites) }
        try c.encodeIfPresent(dataRegion, forKey: .dataRegion)
    }
}

/// When a job may run: not before `notBeforeMs`, finished by `deadlineMs`; a `deferrable` job
/// also waits inside that window for valley-price or low-carbon hours.
public struct Deferral: Sendable, Hashable, Codable {
    public var notBeforeMs: Int64?
    public var deadlineMs: Int64?
    public var deferrable: Bool

    public init(notBeforeMs: Int64? = nil, deadlineMs: Int64? = nil, deferrable: Bool = false) {
        self.notBeforeMs = notBeforeMs
        self.deadlineMs = deadlineMs
        self.deferrable = deferrable
    }

    enum CodingKeys: String, CodingKey {
        case notBeforeMs = "not_before_ms"
        case deadlineMs = "deadline_ms"
        case deferrable
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        notBeforeMs = try c.decodeIfPresent(Int64.self, forKey: .notBeforeMs)
        deadlineMs = try c.decodeIfPresent(Int64.self, forKey: .deadlineMs)
        deferrable = try c.decodeIfPresent(Bool.self, forKey: .deferrable) ?? false
    }
}

/// How green and how efficient a site is, for carbon estimates and `min_green_share`.
public struct SiteEnergy: Sendable, Hashable, Codable {
    /// Share of the site's electricity from renewable sources, in basis points.
    public var greenShareBP: Int
    /// Power usage effectiveness × 1000 (1250 = PUE 1.25).
    public var pueMilli: Int
    /// Grid carbon intensity in g CO2 per kWh.
    public var gridGramsPerKWh: Int
    /// Optional intensity per local hour (24 values) where the grid varies over the day; when
    /// present it replaces `gridGramsPerKWh` for that hour.
    public var hourlyGramsPerKWh: [Int]

    /// China's national grid average emission factor, 0.5703 t CO2/MWh (Ministry of Ecology and
    /// Environment, 2022 factor published 2024), and a typical data-centre PUE of 1.5.
    public static let unstated = SiteEnergy(greenShareBP: 0, pueMilli: 1500, gridGramsPerKWh: 570)

    public init(greenShareBP: Int, pueMilli: Int, gridGramsPerKWh: Int, hourlyGramsPerKWh: [Int] = []) {
        self.greenShareBP = greenShareBP
        self.pueMilli = pueMilli
        self.gridGramsPerKWh = gridGramsPerKWh
        self.hourlyGramsPerKWh = hourlyGramsPerKWh
    }

    enum CodingKeys: String, CodingKey {
        case greenShareBP = "green_share_bp"
        case pueMilli = "pue_milli"
        case gridGramsPerKWh = "grid_g_per_kwh"
        case hourlyGramsPerKWh = "hourly_g_per_kwh"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        greenShareBP = try c.decode(Int.self, forKey: .greenShareBP)
        pueMilli = try c.decode(Int.self, forKey: .pueMilli)
        gridGramsPerKWh = try c.decode(Int.self, forKey: .gridGramsPerKWh)
        hourlyGramsPerKWh = try c.decodeIfPresent([Int].self, forKey: .hourlyGramsPerKWh) ?? []
    }

    /// Grid intensity in force at a local hour (0–23).
    public func gramsPerKWh(localHour hour: Int) -> Int {
        hourlyGramsPerKWh.count == 24 ? hourlyGramsPerKWh[((hour % 24) + 24) % 24] : gridGramsPerKWh
    }

    public func validate() -> [String] {
        var problems: [String] = []
        if !(0...10_000).contains(greenShareBP) { problems.append("green_share: must be between 0 and 1") }
        if !(1000...5000).contains(pueMilli) { problems.append("pue: must be between 1.0 and 5.0") }
        if !(0...2000).contains(gridGramsPerKWh) { problems.append("grid_g_per_kwh: must be between 0 and 2000") }
        if !hourlyGramsPerKWh.isEmpty && hourlyGramsPerKWh.count != 24 {
            problems.append("hourly_g_per_kwh: must have 24 values, one per local hour")
        }
        if hourlyGramsPerKWh.contains(where: { !(0...2000).contains($0) }) {
            problems.append("hourly_g_per_kwh: values must be between 0 and 2000")
        }
        return problems
    }
}
