import EstuaryCoordinator
import EstuaryModel
import EstuaryScheduler
import EstuaryStore
import Foundation
import Logging
import Synchronization

/// A small in-memory ``CoordinatorBackend`` for the API layer's tests: enough behaviour to
/// exercise every route and status code, none of the real coordinator. Trust state (tokens,
/// enrollment, audit) is the real ``TrustService`` over a store in a temporary directory.
actor APITestBackend: CoordinatorBackend {
    nonisolated let trust: TrustService
    nonisolated let directory: String
    /// The trust service's wall clock, which tests move.
    nonisolated let clock: TestClock
    /// Sites and serials the revocation hook was called with.
    nonisolated let revocations = Revocations()

    init(issuer: (any CertificateIssuer)? = nil, clock: TestClock = TestClock()) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-api-\(UUID().uuidString)").path
        // A temporary directory that cannot be created is a broken test machine, not a test failure to report.
        let store = try! CoordinatorStore(directory: directory, logger: Logger(label: "api-test"))
        self.clock = clock
        let revocations = self.revocations
        trust = TrustService(
            store: store, issuer: issuer, clock: { clock.now }, logger: Logger(label: "api-test"),
            onSiteRevoked: { site, serials in revocations.append(site, serials) })
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    private var jobsByID: [JobID: JobView] = [:]
    private var order: [JobID] = []
    private var byIdempotencyKey: [String: JobID] = [:]
    private var logData: [JobID: [UInt8]] = [:]
    private var usageRecords: [UsageRecord] = []
    private var siteViews: [SiteView] = []
    private var ready = HealthView(status: "ok", checks: ["store": "ok"])
    private let nowMs: Int64 = 1_795_000_000_000

    func setReadiness(_ health: HealthView) { ready = health }
    func setLogs(_ id: JobID, _ bytes: [UInt8]) { logData[id] = bytes }
    func setSites(_ sites: [SiteView]) { siteViews = sites }
    func addUsage(_ record: UsageRecord) { usageRecords.append(record) }
    func finish(_ id: JobID, as state: JobState) { jobsByID[id]?.state = state }

    func submit(_ spec: JobSpec) async throws -> SubmitView {
        if let key = spec.idempotencyKey, let existing = byIdempotencyKey[key], let job = jobsByID[existing] {
            guard job.spec == spec else { throw BackendError.conflict("idempotency key \(key) was used for a different job") }
            return SubmitView(job: job, created: false)
        }
        let id = JobID(rawValue: "j-\(order.count + 1)")
        let event = JobEventView(state: .submitted, atMs: nowMs, cause: "submitted via API", source: "api", siteID: nil, attempt: 1)
        let job = JobView(
            id: id, spec: spec, state: .submitted, siteID: nil, attempt: 1, exitCode: nil, signal: nil,
            cancelRequested: false, createdAtMs: nowMs, updatedAtMs: nowMs, events: [event]
        )
        jobsByID[id] = job
        order.append(id)
        if let key = spec.idempotencyKey { byIdempotencyKey[key] = id }
        return SubmitView(job: job, created: true)
    }

    func job(_ id: JobID) async throws -> JobView? { jobsByID[id] }

    func jobs(_ query: JobQuery) async throws -> JobListView {
        let matching = order.compactMap { jobsByID[$0] }.filter { job in
            (query.state == nil || job.state == query.state) && (query.tenant == nil || job.spec.tenant == query.tenant)
                && (query.site == nil || job.siteID == query.site) && (query.after == nil || job.id > query.after!)
        }
        let page = matching.prefix(query.limit).map { job -> JobView in
            var job = job
            job.events = nil
            return job
        }
        return JobListView(jobs: Array(page), nextAfter: matching.count > query.limit ? page.last?.id : nil)
    }

    func cancel(_ id: JobID, reason: String) async throws -> JobView {
        guard var job = jobsByID[id] else { throw BackendError.notFound("job \(id)") }
        guard !job.state.isTerminal else { throw BackendError.conflict("job \(id) already ended \(job.state)") }
        job.state = .cancelled
        job.cancelRequested = true
        job.events?.append(JobEventView(state: .cancelled, atMs: nowMs, cause: reason, source: "api", siteID: nil, attempt: 1))
        jobsByID[id] = job
        return job
    }

    func logs(_ id: JobID, stream: LogStreamKind, offset: Int64, limit: Int) async throws -> LogSlice {
        guard let job = jobsByID[id] else { throw BackendError.notFound("job \(id)") }
        let data = stream == .stdout ? logData[id] ?? [] : []
        let start = min(Int(offset), data.count)
        let end = min(start + limit, data.count)
        return LogSlice(
            data: Array(data[start..<end]), offset: Int64(start), size: Int64(data.count),
            complete: job.state.isTerminal, state: job.state
        )
    }

    func jobScope(_ id: JobID) async throws -> JobScope? {
        jobsByID[id].map { JobScope(tenant: $0.spec.tenant, site: $0.siteID) }
    }

    func usage(_ query: UsageQuery) async throws -> UsageView {
        UsageView(
            records: usageRecords.filter { record in
                (query.job == nil || record.jobID == query.job) && (query.site == nil || record.siteID == query.site)
                    && (query.tenant == nil || jobsByID[record.jobID]?.spec.tenant == query.tenant)
            })
    }

    /// Puts a job at a site, as placement would.
    func place(_ id: JobID, at site: SiteID) {
        jobsByID[id]?.siteID = site
        jobsByID[id]?.state = .running
    }

    func sites() async throws -> SiteListView { SiteListView(sites: siteViews) }

    /// A fixed explanation naming the job's state, enough to test the route and its access rules.
    func explain(_ id: JobID) async throws -> ExplanationView {
        guard let job = jobsByID[id] else { throw BackendError.notFound("job \(id)") }
        return ExplanationView(jobID: id, state: job.state, verdict: "waiting", summary: "test backend", sites: [])
    }

    func explain(spec: JobSpec) async throws -> ExplanationView {
        ExplanationView(jobID: "dry-run", state: .submitted, verdict: "unplaceable", summary: "test backend: \(spec.name)", sites: [])
    }

    func capacity() async throws -> CapacitySummary {
        CapacitySummary(sites: [SchedulerSite](), catalog: AcceleratorCatalog())
    }

    func readiness() async -> HealthView { ready }
}

/// A settable wall clock (Unix milliseconds) for expiry tests.
final class TestClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64 = 1_795_000_000_000) { value = Mutex(start) }

    var now: Int64 { value.withLock { $0 } }

    func advance(seconds: Int64) { value.withLock { $0 += seconds * 1000 } }
}

/// What a revocation hook was called with, in order.
final class Revocations: Sendable {
    private let calls = Mutex<[(site: SiteID, serials: [String])]>([])

    func append(_ site: SiteID, _ serials: [String]) { calls.withLock { $0.append((site, serials)) } }

    var all: [(site: SiteID, serials: [String])] { calls.withLock { $0 } }
}
