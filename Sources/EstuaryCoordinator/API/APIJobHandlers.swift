import EstuaryModel
import HTTPTypes
import Hummingbird
import NIOCore

/// The handlers of the `/v1/jobs` routes: HTTP in, backend call, HTTP out.
struct APIJobHandlers<Backend: CoordinatorBackend>: Sendable {
    let backend: Backend
    let maxBodyBytes: Int

    static var idempotencyKeyHeader: HTTPField.Name { HTTPField.Name("Idempotency-Key")! }
    static var logOffsetHeader: HTTPField.Name { HTTPField.Name("Estuary-Log-Offset")! }
    static var logSizeHeader: HTTPField.Name { HTTPField.Name("Estuary-Log-Size")! }
    static var logCompleteHeader: HTTPField.Name { HTTPField.Name("Estuary-Log-Complete")! }
    static var jobStateHeader: HTTPField.Name { HTTPField.Name("Estuary-Job-State")! }

    /// Default and largest `limit` of one logs request.
    static var defaultLogLimit: Int64 { 1 << 20 }
    static var maxLogLimit: Int64 { 8 << 20 }
    static var maxCancelReasonCharacters: Int { 1024 }
    static var specIntegerFields: [[String]] {
        [
            ["walltime_seconds"], ["priority"], ["resources", "count"], ["resources", "tasks"], ["resources", "memory_mib"],
            ["constraints", "max_latency_ms"], ["constraints", "min_green_share_bp"], ["constraints", "max_price_per_hour_fen"],
            ["schedule", "not_before_ms"], ["schedule", "deadline_ms"],
        ]
    }

    /// `POST /v1/jobs`: 201 when created, 200 when the idempotency key matched an existing job.
    /// A tenant token submits only for its tenant (filled in when the spec leaves it out).
    func submit(_ request: Request, _ principal: Principal, _ caller: Caller) async throws -> Response {
        var spec = try await submittedSpec(request, principal, action: "job.submit", path: "/v1/jobs")
        if let key = request.headers[Self.idempotencyKeyHeader] { spec.idempotencyKey = key }
        let problems = spec.validate()
        guard problems.isEmpty else { throw APIError.invalid(problems) }
        let view = try await backend.submit(spec)
        await backend.trust.audit(
            AuditEntry(
                caller: caller, action: "job.submit", target: "job:\(view.job.id)", outcome: .ok,
                detail: "tenant=\(spec.tenant)" + (view.created ? "" : " (idempotency key matched an existing job)")))
        return APIJSON.response(view, status: view.created ? .created : .ok)
    }

    /// `POST /v1/explain`: where a job with this spec could run now, without submitting it (a
    /// dry run). Allowed to whoever may submit the spec.
    func explainSpec(_ request: Request, _ principal: Principal) async throws -> Response {
        let spec = try await submittedSpec(request, principal, action: "job.explain", path: "/v1/explain")
        let problems = spec.validate()
        guard problems.isEmpty else { throw APIError.invalid(problems) }
        return APIJSON.response(try await backend.explain(spec: spec))
    }

    /// The job spec in a submit or dry-run body, with the tenant filled in for a tenant token,
    /// once the caller may submit for that tenant.
    private func submittedSpec(_ request: Request, _ principal: Principal, action: String, path: String) async throws -> JobSpec {
        if let denial = AccessPolicy.submitAtAll(principal) {
            throw APIError.forbidden(denial, action: action, target: path)
        }
        var body = try await readBody(request)
        guard body.readableBytes > 0 else { throw APIError.invalid(field: "body", "is empty; send the job spec as JSON") }
        if principal.role == .tenant, let tenant = principal.subject { body = TenantDefault.fill(body, tenant: tenant) }
        let spec = try APIJSON.decode(JobSpec.self, from: body, integerFields: Self.specIntegerFields)
        if let denial = AccessPolicy.submit(principal, tenant: spec.tenant) {
            throw APIError.forbidden(denial, action: action, target: "tenant:\(spec.tenant)")
        }
        return spec
    }

    /// `GET /v1/jobs?state=&site=&tenant=&limit=&after=`, narrowed to what the token may see.
    func list(_ request: Request, _ principal: Principal) async throws -> Response {
        var parameters = APIParameters(request)
        let asked = JobQuery(
            state: parameters.oneOf("state", as: JobState.self),
            site: parameters.identifier("site", as: SiteID.self),
            tenant: parameters.identifier("tenant", as: TenantID.self),
            limit: Int(parameters.integer("limit", in: 1...Int64(JobQuery.maxLimit)) ?? 100),
            after: parameters.identifier("after", as: JobID.self)
        )
        try parameters.check()
        switch AccessPolicy.jobList(principal, asked) {
        case .success(let query): return APIJSON.response(try await backend.jobs(query))
        case .failure(let denial): throw APIError.forbidden(denial, action: "job.list", target: "/v1/jobs")
        }
    }

    /// `GET /v1/jobs/{id}`: the job with its events.
    func get(_ id: JobID, _ principal: Principal) async throws -> Response {
        guard id.isWellFormed, let job = try await backend.job(id) else { throw APIError.notFound("job \(id) not found") }
        if let denial = AccessPolicy.readJob(principal, id, JobScope(tenant: job.spec.tenant, site: job.siteID)) {
            throw APIError.forbidden(denial, action: "job.get", target: "job:\(id)")
        }
        return APIJSON.response(job)
    }

    /// `GET /v1/jobs/{id}/explain`: for a queued job, every site and what rules it out.
    func explain(_ id: JobID, _ principal: Principal) async throws -> Response {
        guard id.isWellFormed, let scope = try await backend.jobScope(id) else { throw APIError.notFound("job \(id) not found") }
        if let denial = AccessPolicy.readJob(principal, id, scope) {
            throw APIError.forbidden(denial, action: "job.explain", target: "job:\(id)")
        }
        return APIJSON.response(try await backend.explain(id))
    }

    /// `POST /v1/jobs/{id}/cancel` with an optional `{"reason": "..."}`.
    func cancel(_ id: JobID, _ request: Request, _ principal: Principal, _ caller: Caller) async throws -> Response {
        guard id.isWellFormed, let scope = try await backend.jobScope(id) else { throw APIError.notFound("job \(id) not found") }
        if let denial = AccessPolicy.cancelJob(principal, id, scope) {
            throw APIError.forbidden(denial, action: "job.cancel", target: "job:\(id)")
        }
        let body = try await readBody(request)
        var reason = "cancelled by user"
        if body.readableBytes > 0 {
            let decoded = try APIJSON.decode(CancelRequest.self, from: body)
            if let given = decoded.reason, !given.isEmpty {
                guard given.unicodeScalars.count <= Self.maxCancelReasonCharacters else {
                    throw APIError.invalid(field: "reason", "must be at most \(Self.maxCancelReasonCharacters) characters")
                }
                reason = given
            }
        }
        let job = try await backend.cancel(id, reason: reason)
        await backend.trust.audit(
            AuditEntry(caller: caller, action: "job.cancel", target: "job:\(id)", outcome: .ok, detail: "reason=\(reason)"))
        return APIJSON.response(job)
    }

    /// `GET /v1/jobs/{id}/logs?stream=&offset=&limit=`: raw bytes, position in headers.
    func logs(_ id: JobID, _ request: Request, _ principal: Principal) async throws -> Response {
        guard id.isWellFormed, let scope = try await backend.jobScope(id) else { throw APIError.notFound("job \(id) not found") }
        if let denial = AccessPolicy.readJob(principal, id, scope) {
            throw APIError.forbidden(denial, action: "job.logs", target: "job:\(id)")
        }
        var parameters = APIParameters(request)
        let stream = parameters.oneOf("stream", as: LogStreamKind.self) ?? .stdout
        let offset = parameters.integer("offset", in: 0...Int64.max) ?? 0
        let limit = parameters.integer("limit", in: 1...Self.maxLogLimit) ?? Self.defaultLogLimit
        try parameters.check()

        let slice = try await backend.logs(id, stream: stream, offset: offset, limit: Int(limit))
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[Self.logOffsetHeader] = String(slice.offset)
        headers[Self.logSizeHeader] = String(slice.size)
        headers[Self.logCompleteHeader] = slice.complete ? "true" : "false"
        headers[Self.jobStateHeader] = slice.state.rawValue
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: slice.data)))
    }

    /// `GET /v1/usage?job=&site=&tenant=`, narrowed to what the token may see.
    func usage(_ request: Request, _ principal: Principal) async throws -> Response {
        var parameters = APIParameters(request)
        let asked = UsageQuery(
            job: parameters.identifier("job", as: JobID.self),
            site: parameters.identifier("site", as: SiteID.self),
            tenant: parameters.identifier("tenant", as: TenantID.self))
        try parameters.check()
        var scope: JobScope?
        if principal.role == .tenant, let job = asked.job { scope = try await backend.jobScope(job) }
        switch AccessPolicy.usage(principal, asked, job: scope) {
        case .success(let query):
            // With a ledger, each record comes with what it cost (`metered`).
            if let money = backend.money { return APIJSON.response(try await money.meteredUsage(query)) }
            return APIJSON.response(try await backend.usage(query))
        case .failure(let denial):
            throw APIError.forbidden(denial, action: "usage.read", target: asked.job.map { "job:\($0)" } ?? "/v1/usage")
        }
    }

    /// The body, refusing more than `maxBodyBytes` (413) before reading it when the length is declared.
    func readBody(_ request: Request) async throws -> ByteBuffer {
        try await BodyReader(maxBodyBytes: maxBodyBytes).read(request)
    }
}

/// Body of `POST /v1/jobs/{id}/cancel`.
struct CancelRequest: Codable, Sendable {
    var reason: String?
}
