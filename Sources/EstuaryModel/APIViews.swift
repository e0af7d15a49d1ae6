/// JSON shapes of the admin/user API (Protocol/admin-api.yaml is their normative description).
/// Shared by the coordinator, which writes them, and estuaryctl, which reads them.
/// Times are Unix epoch milliseconds in the coordinator's clock.

public struct JobEventView: Sendable, Hashable, Codable {
    public var state: JobState
    public var atMs: Int64
    /// Why the transition happened: `submitted via API`, `exit code 0`, `cancelled by user` …
    public var cause: String
    /// Who caused it: `api`, `scheduler`, `site:<id>`, `coordinator`.
    public var source: String
    public var siteID: SiteID?
    public var attempt: Int

    public init(state: JobState, atMs: Int64, cause: String, source: String, siteID: SiteID?, attempt: Int) {
        self.state = state
        self.atMs = atMs
        self.cause = cause
        self.source = source
        self.siteID = siteID
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case state
        case atMs = "at_ms"
        case cause, source
        case siteID = "site_id"
        case attempt
    }
}

public struct JobView: Sendable, Hashable, Codable {
    public var id: JobID
    public var spec: JobSpec
    public var state: JobState
    public var siteID: SiteID?
    /// 1 for the first placement; grows when a site rejects the job and it is placed again.
    public var attempt: Int
    public var exitCode: Int?
    public var signal: Int?
    public var cancelRequested: Bool
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    /// Present on single-job reads; omitted in lists.
    public var events: [JobEventView]?
    /// The class the job was placed on, once placed.
    public var placedClass: AcceleratorClass?
    /// At the coordinator a job was submitted to: the peer coordinator whose site runs it.
    public var forwardedTo: CoordinatorID?
    /// At the coordinator that runs a forwarded job: where it was submitted, and as what.
    public var origin: JobOrigin?

    public init(
        id: JobID, spec: JobSpec, state: JobState, siteID: SiteID?, attempt: Int, exitCode: Int?, signal: Int?,
        cancelRequested: Bool, createdAtMs: Int64, updatedAtMs: Int64, events: [JobEventView]? = nil,
        placedClass: AcceleratorClass? = nil, forwardedTo: CoordinatorID? = nil, origin: JobOrigin? = nil
    ) {
        self.placedClass = placedClass
        self.forwardedTo = forwardedTo
        self.origin = origin
        self.id = id
        self.spec = spec
        self.state = state
        self.siteID = siteID
        self.attempt = attempt
        self.exitCode = exitCode
        self.signal = signal
        self.cancelRequested = cancelRequested
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case id, spec, state
        case siteID = "site_id"
        case attempt
        case exitCode = "exit_code"
        case signal
        case cancelRequested = "cancel_requested"
        case createdAtMs = "created_at_ms"
        case updatedAtMs = "updated_at_ms"
        case events
        case placedClass = "placed_class"
        case forwardedTo = "forwarded_to"
        case origin
    }
}

/// Where a forwarded job came from: the coordinator it was submitted to, its id there, and the
/// attempt (placement) of it that was forwarded. Usage and status go back under these.
public struct JobOrigin: Sendable, Hashable, Codable {
    public var coordinator: CoordinatorID
    public var job: JobID
    public var attempt: Int

    public init(coordinator: CoordinatorID, job: JobID, attempt: Int) {
        self.coordinator = coordinator
        self.job = job
        self.attempt = attempt
    }

    /// The idempotency key the running coordinator files the job under: one per attempt, so a
    /// forward sent again finds its job, and a new placement of the same job is a new job.
    public var idempotencyKey: String { "mesh:\(coordinator.rawValue):\(job.rawValue):\(attempt)" }
}

public struct JobListView: Sendable, Hashable, Codable {
    public var jobs: [JobView]
    /// Pass as `after` to get the next page; absent on the last page.
    public var nextAfter: JobID?

    public init(jobs: [JobView], nextAfter: JobID?) {
        self.jobs = jobs
        self.nextAfter = nextAfter
    }

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextAfter = "next_after"
    }
}

public struct SubmitView: Sendable, Hashable, Codable {
    public var job: JobView
    /// False when the idempotency key matched an existing job with the same spec.
    public var created: Bool

    public init(job: JobView, created: Bool) {
        self.job = job
        self.created = created
    }
}

public struct SiteView: Sendable, Hashable, Codable {
    public var site: SiteDescriptor
    public var state: SiteState
    public var pools: [PoolCapacity]
    /// Units the coordinator has placed there and not yet seen end, per class.
    public var allocated: [String: Int]
    public var runningJobs: Int
    public var lastSeenMs: Int64?
    public var agentVersion: String?
    /// Upstream messages refused since the coordinator started because they spoke for another
    /// site's jobs (job updates and usage records). Non-zero deserves a look.
    public var refusedMessages: Int

    public init(
        site: SiteDescriptor, state: SiteState, pools: [PoolCapacity], allocated: [String: Int], runningJobs: Int,
        lastSeenMs: Int64?, agentVersion: String?, refusedMessages: Int = 0
    ) {
        self.refusedMessages = refusedMessages
        self.site = site
        self.state = state
        self.pools = pools
        self.allocated = allocated
        self.runningJobs = runningJobs
        self.lastSeenMs = lastSeenMs
        self.agentVersion = agentVersion
    }

    enum CodingKeys: String, CodingKey {
        case site, state, pools, allocated
        case runningJobs = "running_jobs"
        case lastSeenMs = "last_seen_ms"
        case agentVersion = "agent_version"
        case refusedMessages = "refused_messages"
    }
}

public struct SiteListView: Sendable, Hashable, Codable {
    public var sites: [SiteView]
    public init(sites: [SiteView]) { self.sites = sites }
}

public enum LogStreamKind: String, Sendable, Codable, CaseIterable {
    case stdout, stderr
}

/// A slice of a job's captured output, from `offset`. `complete` is true once the job is
/// terminal and everything the site captured has arrived.
public struct LogSlice: Sendable, Hashable {
    public var data: [UInt8]
    public var offset: Int64
    public var size: Int64
    public var complete: Bool
    public var state: JobState

    public init(data: [UInt8], offset: Int64, size: Int64, complete: Bool, state: JobState) {
        self.data = data
        self.offset = offset
        self.size = size
        self.complete = complete
        self.state = state
    }
}

public struct UsageView: Sendable, Hashable, Codable {
    public var records: [UsageRecord]
    public init(records: [UsageRecord]) { self.records = records }
}

/// The body of every API error response.
public struct APIErrorBody: Sendable, Hashable, Codable {
    public struct Detail: Sendable, Hashable, Codable {
        /// Stable machine-readable code: `invalid_request`, `not_found`, `conflict`, …
        public var code: String
        public var message: String
        /// Per-field problems for `invalid_request`.
        public var fields: [FieldError]?

        public init(code: String, message: String, fields: [FieldError]? = nil) {
            self.code = code
            self.message = message
            self.fields = fields
        }
    }

    public var error: Detail
    public init(error: Detail) { self.error = error }
}

public struct HealthView: Sendable, Hashable, Codable {
    public var status: String
    public var checks: [String: String]
    public init(status: String, checks: [String: String]) {
        self.status = status
        self.checks = checks
    }
}
