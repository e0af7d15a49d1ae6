import EstuaryCoordinator
import EstuaryModel

/// A small in-memory ``CoordinatorBackend`` for the API layer's tests: enough behaviour to
/// exercise every route and status code, none of the real coordinator.
actor APITestBackend: CoordinatorBackend {
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

    func usage(job: JobID?) async throws -> UsageView {
        UsageView(records: usageRecords.filter { job == nil || $0.jobID == job })
    }

    func sites() async throws -> SiteListView { SiteListView(sites: siteViews) }

    func readiness() async -> HealthView { ready }
}
