import EstuaryModel
import EstuaryScheduler
import EstuaryStore
import Logging

/// The coordinator as the API sees it: writes go through the core (the single owner of job
/// state); reads come from the store's committed state; tokens, enrollment and the audit log
/// go through ``TrustService``.
struct LiveBackend: CoordinatorBackend {
    let core: CoordinatorCore
    let store: CoordinatorStore
    let logs: LogStore
    let meshBound: AtomicBox<Bool>
    let trust: TrustService
    /// Gossip with other coordinators; nil when this coordinator is not in a mesh.
    var gossip: MeshGossip?
    /// Jobs across coordinators; nil when this coordinator is not in a mesh.
    var federation: MeshFederation?

    /// - Parameter trust: built over the same `store`, with the CA as its issuer and the hook
    ///   that cuts a revoked site's session (see ``TrustService/init(store:issuer:clock:logger:onSiteRevoked:)``).
    init(core: CoordinatorCore, store: CoordinatorStore, logs: LogStore, meshBound: AtomicBox<Bool>, trust: TrustService) {
        self.core = core
        self.store = store
        self.logs = logs
        self.meshBound = meshBound
        self.trust = trust
    }

    /// Without a CA or a revocation hook: enrollment answers 503 and revoking a site only
    /// changes the store. For a coordinator not yet wired to its CA.
    init(core: CoordinatorCore, store: CoordinatorStore, logs: LogStore, meshBound: AtomicBox<Bool>) {
        self.init(
            core: core, store: store, logs: logs, meshBound: meshBound,
            trust: TrustService(store: store, issuer: nil, clock: wallClockMs, logger: Logger(label: "estuary.trust")))
    }

    /// Records a mesh event (a certificate renewed, a session refused) in the audit log.
    func audit(_ entry: AuditEntry) async {
        await trust.audit(entry)
    }

    func submit(_ spec: JobSpec) async throws -> SubmitView {
        try await core.submit(spec)
    }

    func job(_ id: JobID) async throws -> JobView? {
        guard id.isWellFormed else { return nil }
        return try await store.read { tx in
            guard let job = try tx.job(id) else { return nil }
            return job.view(events: try tx.events(job: id).map(\.view))
        }
    }

    func jobs(_ query: JobQuery) async throws -> JobListView {
        let limit = max(1, min(query.limit, JobQuery.maxLimit))
        let records = try await store.read { tx in
            try tx.jobs(state: query.state, site: query.site, tenant: query.tenant, after: query.after, limit: limit + 1)
        }
        let page = Array(records.prefix(limit))
        return JobListView(jobs: page.map { $0.view() }, nextAfter: records.count > limit ? page.last?.id : nil)
    }

    func cancel(_ id: JobID, reason: String) async throws -> JobView {
        guard id.isWellFormed else { throw BackendError.notFound("job \(id)") }
        return try await core.cancel(id, reason: reason)
    }

    func logs(_ id: JobID, stream: LogStreamKind, offset: Int64, limit: Int) async throws -> LogSlice {
        // Only the job's state is needed; `job(_:)` would also load every event on each poll
        // of `estuaryctl job logs --follow`.
        guard id.isWellFormed, let job = try await store.read({ tx in try tx.job(id) }) else {
            throw BackendError.notFound("job \(id)")
        }
        var (data, size) = logs.read(job: id, stream: stream, offset: max(0, offset), limit: max(0, min(limit, 1 << 20)))
        if size == 0, let peer = job.forwardedTo, let federation {
            // The output of a forwarded job stays where it ran; read it there.
            do {
                let remote = try await federation.logs(
                    of: job, peer: peer, stream: stream, offset: max(0, offset), limit: max(0, min(limit, 1 << 20)))
                (data, size) = (Array(remote.data), remote.size)
            } catch {
                throw BackendError.unavailable("the output of \(id) is kept at coordinator \(peer), which did not answer: \(error)")
            }
        }
        let complete = job.state.isTerminal && max(0, offset) + Int64(data.count) >= size
        return LogSlice(data: data, offset: max(0, offset), size: size, complete: complete, state: job.state)
    }

    func jobScope(_ id: JobID) async throws -> JobScope? {
        guard id.isWellFormed else { return nil }
        return try await store.read { tx in try tx.job(id).map { JobScope(tenant: $0.spec.tenant, site: $0.siteID) } }
    }

    func usage(_ query: UsageQuery) async throws -> UsageView {
        UsageView(records: try await store.read { tx in try tx.usage(job: query.job, site: query.site, tenant: query.tenant) })
    }

    func sites() async throws -> SiteListView {
        SiteListView(sites: await core.siteViews())
    }

    func explain(_ id: JobID) async throws -> ExplanationView {
        guard id.isWellFormed else { throw BackendError.notFound("job \(id)") }
        return try await core.explain(id)
    }

    func explain(spec: JobSpec) async throws -> ExplanationView {
        try await core.explain(spec: spec)
    }

    func capacity() async throws -> CapacitySummary {
        await core.capacity()
    }

    func meshMembers() async throws -> MeshMembersView {
        guard let gossip else { throw BackendError.notFound(Self.noMesh) }
        return await gossip.membersView(configured: core.configuration.policy.latency)
    }

    func meshCapacity() async throws -> MeshCapacityView {
        guard let gossip else { throw BackendError.notFound(Self.noMesh) }
        return await gossip.capacityView()
    }

    func readiness() async -> HealthView {
        let storeOK = await store.isHealthy()
        let meshOK = meshBound.value.load(ordering: .relaxed)
        return HealthView(
            status: storeOK && meshOK ? "ok" : "unavailable",
            checks: ["store": storeOK ? "ok" : "failing", "mesh_listener": meshOK ? "ok" : "not bound"])
    }
}
