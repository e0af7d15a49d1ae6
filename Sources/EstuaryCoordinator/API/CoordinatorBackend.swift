import EstuaryModel
import EstuaryScheduler

/// What the HTTP API needs from the coordinator. The API layer (routes, JSON, status codes)
/// knows nothing else about the coordinator, so it can be tested over an in-memory backend
/// and the coordinator core can change without touching the routes.
public protocol CoordinatorBackend: Sendable {
    /// Creates the job, or returns the existing one when `spec.idempotencyKey` was seen with an
    /// identical spec. Throws `BackendError.invalid` or `.conflict` (same key, different spec).
    func submit(_ spec: JobSpec) async throws -> SubmitView
    /// The job with its events, or nil.
    func job(_ id: JobID) async throws -> JobView?
    func jobs(_ query: JobQuery) async throws -> JobListView
    /// Cancels a job: a queued job ends at once; a placed or running job is cancelled at its
    /// site. Cancelling a terminal job is a conflict; cancelling twice is not an error.
    func cancel(_ id: JobID, reason: String) async throws -> JobView
    func logs(_ id: JobID, stream: LogStreamKind, offset: Int64, limit: Int) async throws -> LogSlice
    /// Whose job it is and where it runs, for access checks (cheaper than ``job(_:)``: no events).
    func jobScope(_ id: JobID) async throws -> JobScope?
    func usage(_ query: UsageQuery) async throws -> UsageView
    func sites() async throws -> SiteListView
    /// Why a job is (or is not yet) placed, site by site. Throws `BackendError.notFound`.
    func explain(_ id: JobID) async throws -> ExplanationView
    /// Where a job with `spec` could run now, without submitting it (a dry run).
    func explain(spec: JobSpec) async throws -> ExplanationView
    /// Installed and free capacity with PFLOPS roll-ups per site, region and mesh.
    func capacity() async throws -> CapacitySummary
    /// Readiness: the store is open, the mesh listener is bound.
    func readiness() async -> HealthView
    /// The coordinator mesh as this coordinator sees it. Throws `BackendError.notFound` when it
    /// does not gossip.
    func meshMembers() async throws -> MeshMembersView
    /// Every site of the coordinator mesh, as gossip last reported it. Throws
    /// `BackendError.notFound` when this coordinator does not gossip.
    func meshCapacity() async throws -> MeshCapacityView
    /// Tokens, sites' enrollment, the audit log: store-backed in production and in tests alike.
    var trust: TrustService { get }
    /// The ledger's routes (tenants, prices, vouchers, bills, settlement); nil answers 503.
    var money: (any MoneyBackend)? { get }
}

extension CoordinatorBackend {
    public func meshMembers() async throws -> MeshMembersView { throw BackendError.notFound(Self.noMesh) }
    public func meshCapacity() async throws -> MeshCapacityView { throw BackendError.notFound(Self.noMesh) }
    static var noMesh: String { "a coordinator mesh (this coordinator does not gossip; see --region and --gossip-seed)" }
}

/// The owner and place of a job, for deciding who may see or cancel it.
public struct JobScope: Sendable, Hashable {
    public var tenant: TenantID
    public var site: SiteID?

    public init(tenant: TenantID, site: SiteID?) {
        self.tenant = tenant
        self.site = site
    }
}

/// `GET /v1/usage` filters; all optional, combined with AND.
public struct UsageQuery: Sendable, Hashable {
    public var job: JobID?
    public var site: SiteID?
    public var tenant: TenantID?

    public init(job: JobID? = nil, site: SiteID? = nil, tenant: TenantID? = nil) {
        self.job = job
        self.site = site
        self.tenant = tenant
    }
}

public struct JobQuery: Sendable, Hashable {
    public var state: JobState?
    public var site: SiteID?
    public var tenant: TenantID?
    public var limit: Int
    /// Return jobs whose id sorts after this one (ids sort by creation).
    public var after: JobID?

    public static let maxLimit = 1000

    public init(state: JobState? = nil, site: SiteID? = nil, tenant: TenantID? = nil, limit: Int = 100, after: JobID? = nil) {
        self.state = state
        self.site = site
        self.tenant = tenant
        self.limit = limit
        self.after = after
    }
}

/// Errors a backend reports; the API maps each to one HTTP status and error code.
public enum BackendError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 400 `invalid_request`
    case invalid([FieldError])
    /// 404 `not_found`
    case notFound(String)
    /// 409 `conflict`
    case conflict(String)
    /// 503 `unavailable`
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let problems): "invalid request: " + problems.map(\.description).joined(separator: "; ")
        case .notFound(let what): "\(what) not found"
        case .conflict(let why): why
        case .unavailable(let why): "unavailable: \(why)"
        }
    }
}
