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

    public init(id: SiteID, displayName: String, region: String, zones: [String], driver: String) {
        self.id = id
        self.displayName = displayName
        self.region = region
        self.zones = zones
        self.driver = driver
    }

    enum CodingKeys: String, CodingKey {
        case id
        case displayName = "display_name"
        case region, zones, driver
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
