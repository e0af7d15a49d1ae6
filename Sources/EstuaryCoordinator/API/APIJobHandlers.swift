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
        [["walltime_seconds"], ["priority"], ["resources", "count"], ["resources", "tasks"], ["resources", "memory_mib"]]
    }

    /// `POST /v1/jobs`: 201 when created, 200 when the idempotency key matched an existing job.
    func submit(_ request: Request) async throws -> Response {
        let body = try await readBody(request)
        guard body.readableBytes > 0 else { throw APIError.invalid(field: "body", "is empty; send the job spec as JSON") }
        var spec = try APIJSON.decode(JobSpec.self, from: body, integerFields: Self.specIntegerFields)
        if let key = request.headers[Self.idempotencyKeyHeader] { spec.idempotencyKey = key }
        let problems = spec.validate()
        guard problems.isEmpty else { throw APIError.invalid(problems) }
        let view = try await backend.submit(spec)
        return APIJSON.response(view, status: view.created ? .created : .ok)
    }

    /// `GET /v1/jobs?state=&site=&tenant=&limit=&after=`
    func list(_ request: Request) async throws -> Response {
        var parameters = APIParameters(request)
        let query = JobQuery(
            state: parameters.oneOf("state", as: JobState.self),
            site: parameters.identifier("site", as: SiteID.self),
            tenant: parameters.identifier("tenant", as: TenantID.self),
            limit: Int(parameters.integer("limit", in: 1...Int64(JobQuery.maxLimit)) ?? 100),
            after: parameters.identifier("after", as: JobID.self)
        )
        try parameters.check()
        return APIJSON.response(try await backend.jobs(query))
    }

    /// `GET /v1/jobs/{id}`: the job with its events.
    func get(_ id: JobID) async throws -> Response {
        guard id.isWellFormed, let job = try await backend.job(id) else { throw APIError.notFound("job \(id) not found") }
        return APIJSON.response(job)
    }

    /// `POST /v1/jobs/{id}/cancel` with an optional `{"reason": "..."}`.
    func cancel(_ id: JobID, _ request: Request) async throws -> Response {
        guard id.isWellFormed else { throw APIError.notFound("job \(id) not found") }
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
        return APIJSON.response(try await backend.cancel(id, reason: reason))
    }

    /// `GET /v1/jobs/{id}/logs?stream=&offset=&limit=`: raw bytes, position in headers.
    func logs(_ id: JobID, _ request: Request) async throws -> Response {
        guard id.isWellFormed else { throw APIError.notFound("job \(id) not found") }
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

    /// The body, refusing more than `maxBodyBytes` (413) before reading it when the length is declared.
    private func readBody(_ request: Request) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
    }
}

/// Body of `POST /v1/jobs/{id}/cancel`.
struct CancelRequest: Codable, Sendable {
    var reason: String?
}
