/// `GET /v1/jobs/{id}/explain` and `POST /v1/jobs/explain`: why a job is (or would be) where
/// it is, site by site.
public struct ExplanationView: Sendable, Hashable, Codable {
    public var jobID: JobID
    public var state: JobState
    /// `placeable` (a site can take it now), `waiting` (sites fit but are busy), `deferred`
    /// (waiting for a cheaper or greener hour, or `not_before`), `quota` (the tenant is at its
    /// quota), `unplaceable` (no site could ever run it as asked), `placed`, `finished`.
    public var verdict: String
    /// One line for humans.
    public var summary: String
    public var deferredUntilMs: Int64?
    /// Every site, best first for those that pass; each with the rules that rule it out.
    public var sites: [SiteExplanationView]

    public init(
        jobID: JobID, state: JobState, verdict: String, summary: String, deferredUntilMs: Int64? = nil,
        sites: [SiteExplanationView]
    ) {
        self.jobID = jobID
        self.state = state
        self.verdict = verdict
        self.summary = summary
        self.deferredUntilMs = deferredUntilMs
        self.sites = sites
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case state, verdict, summary
        case deferredUntilMs = "deferred_until_ms"
        case sites
    }
}

public struct SiteExplanationView: Sendable, Hashable, Codable {
    public var site: SiteID
    /// The class the site would run the job on, when one fits.
    public var placedClass: AcceleratorClass?
    /// Empty when the site could run the job now.
    public var reasons: [String]
    /// Lower is better; present for sites that pass every rule.
    public var score: Double?

    public init(site: SiteID, placedClass: AcceleratorClass?, reasons: [String], score: Double?) {
        self.site = site
        self.placedClass = placedClass
        self.reasons = reasons
        self.score = score
    }

    enum CodingKeys: String, CodingKey {
        case site
        case placedClass = "class"
        case reasons, score
    }
}
