/// How a site describes itself when it connects: identity, where it is, how it runs jobs.
public struct SiteDescriptor: Sendable, Hashable, Codable {
    public var id: SiteID
    public var displayName: String
    /// City or hub the site belongs to (`shenzhen`, `guangzhou`, `shaoguan` …).
    public var region: String
    /// Data zones the site is in (`gba`, `mainland`, `hk`, `overseas` …).
    public var zones: [String]
    /// The site manager driver: `process`, `slurm`, `kubernetes`.
    public var driver: String
    /// Green share, PUE and grid intensity, for `min_green_share` and carbon estimates.
    public var energy: SiteEnergy
    /// List prices per class with time-of-use periods (fen per unit-hour).
    public var priceBook: PriceBook

    public init(
        id: SiteID, displayName: String, region: String, zones: [String], driver: String,
        energy: SiteEnergy = .unstated, priceBook: PriceBook = PriceBook()
    ) {
        self.id = id
        self.displayName = displayName
        self.region = region
        self.zones = zones
        self.driver = driver
        self.energy = energy
        self.priceBook = priceBook
    }

    enum CodingKeys: String, CodingKey {
        case id
        case displayName = "display_name"
        case region, zones, driver, energy
        case priceBook = "price_book"
    }

    /// `energy` and `price_book` are absent in records written before the scheduler existed.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(SiteID.self, forKey: .id)
        displayName = try c.decode(String.self, forKey: .displayName)
        region = try c.decode(String.self, forKey: .region)
        zones = try c.decode([String].self, forKey: .zones)
        driver = try c.decode(String.self, forKey: .driver)
        energy = try c.decodeIfPresent(SiteEnergy.self, forKey: .energy) ?? .unstated
        priceBook = try c.decodeIfPresent(PriceBook.self, forKey: .priceBook) ?? PriceBook()
    }
}

/// A site's connection state as the coordinator sees it.
public enum SiteState: String, Sendable, Codable, CaseIterable {
    /// A session is open and reports arrive.
    case connected
    /// No session, or reports stopped; its jobs are kept until the lost-job timeout.
    case unreachable
    /// The site asked to stop taking new work.
    case draining
}
