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

    /// The longest a record may last: the longest walltime plus a day of slack for a job that
    /// outlived its walltime while its site was cut off. With at most 10^9 units per job this
    /// keeps unit-milliseconds far below `Int64.max`.
    public static let maxDurationMs: Int64 = (Int64(JobLimits.maxWalltimeSeconds) + 86_400) * 1000
    /// The most units one record may count: a job's largest possible allocation.
    public static let maxUnits = JobLimits.maxUnitsPerTask * JobLimits.maxTasks

    public var durationMs: Int64 {
        let (duration, overflow) = endedAtMs.subtractingReportingOverflow(startedAtMs)
        return overflow ? Self.maxDurationMs : min(max(0, duration), Self.maxDurationMs)
    }

    /// Unit-milliseconds: the exact integer measure of use. Unit-seconds are this / 1000.
    /// Saturates instead of trapping; records from the wire are validated long before this.
    public var unitMilliseconds: Int64 {
        let (product, overflow) = durationMs.multipliedReportingOverflow(by: Int64(units))
        return overflow ? Int64.max : product
    }

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
