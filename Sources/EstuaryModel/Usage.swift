/// What a site measured for one job attempt: `units` units of one class held from `startedAt`
/// to `endedAt` (agent clock, Unix milliseconds). Rating turns it into money later.
public struct UsageRecord: Sendable, Hashable, Codable {
    public var id: UsageRecordID
    public var jobID: JobID
    public var siteID: SiteID
    public var acceleratorClass: AcceleratorClass
    public var units: Int
    public var startedAtMs: Int64
    public var endedAtMs: Int64

    public init(
        id: UsageRecordID, jobID: JobID, siteID: SiteID, acceleratorClass: AcceleratorClass,
        units: Int, startedAtMs: Int64, endedAtMs: Int64
    ) {
        self.id = id
        self.jobID = jobID
        self.siteID = siteID
        self.acceleratorClass = acceleratorClass
        self.units = units
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
    }

    public var durationMs: Int64 { max(0, endedAtMs - startedAtMs) }

    /// Unit-milliseconds: the exact integer measure of use. Unit-seconds are this / 1000.
    public var unitMilliseconds: Int64 { durationMs * Int64(units) }

    enum CodingKeys: String, CodingKey {
        case id
        case jobID = "job_id"
        case siteID = "site_id"
        case acceleratorClass = "class"
        case units
        case startedAtMs = "started_at_ms"
        case endedAtMs = "ended_at_ms"
    }
}
