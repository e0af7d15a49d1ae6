import EstuaryModel
import Hummingbird
import Logging

/// The API's one responder: matches the route, calls its handler, turns every failure into an
/// ``APIErrorBody`` response, and logs the outcome at debug (method, path, status; never bodies).
struct APIResponder<Backend: CoordinatorBackend>: HTTPResponder {
    typealias Context = BasicRequestContext

    let backend: Backend
    let jobs: APIJobHandlers<Backend>
    let logger: Logger

    init(backend: Backend, maxBodyBytes: Int, logger: Logger) {
        self.backend = backend
        self.jobs = APIJobHandlers(backend: backend, maxBodyBytes: maxBodyBytes)
        self.logger = logger
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let match = APIRoute.match(method: request.method, path: request.uri.path)
        let response: Response
        do {
            switch match {
            case .route(let route): response = try await handle(route, request)
            case .methodNotAllowed(let allowed): throw APIError.methodNotAllowed(request.method, allowed: allowed)
            case .notFound: throw APIError.notFound("no such route: \(request.method.rawValue) \(request.uri.path)")
            }
        } catch {
            response = APIJSON.response(apiError(for: error, request: request))
        }
        logger.debug(
            "api request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
            ]
        )
        return response
    }

    private func handle(_ route: APIRoute, _ request: Request) async throws -> Response {
        switch route {
        case .health:
            return APIJSON.response(HealthView(status: "ok", checks: [:]))
        case .ready:
            let health = await backend.readiness()
            return APIJSON.response(health, status: health.status == "ok" ? .ok : .serviceUnavailable)
        case .submitJob: return try await jobs.submit(request)
        case .listJobs: return try await jobs.list(request)
        case .getJob(let id): return try await jobs.get(id)
        case .cancelJob(let id): return try await jobs.cancel(id, request)
        case .jobLogs(let id): return try await jobs.logs(id, request)
        case .usage:
            var parameters = APIParameters(request)
            let job = parameters.identifier("job", as: JobID.self)
            try parameters.check()
            return APIJSON.response(try await backend.usage(job: job))
        case .sites:
            return APIJSON.response(try await backend.sites())
        }
    }

    private func apiError(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as BackendError: return APIError(error)
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return .tooLarge(limit: jobs.maxBodyBytes)
        default:
            logger.error(
                "api request failed",
                metadata: ["method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "error": "\(error)"]
            )
            return .internalError()
        }
    }
}
