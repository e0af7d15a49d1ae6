import EstuaryLedger
import EstuaryModel
import Hummingbird
import Logging

/// The API's one responder: matches the route, admits the caller (bearer token and role, or
/// the join token of enrollment; a rate limit per client), calls the route's handler, turns
/// every failure into an ``APIErrorBody`` response, audits what must be audited, and logs the
/// outcome at debug (method, path, status; never bodies or tokens).
///
/// Audited: every refusal (401, 403) as `auth.denied`, and every mutating call whatever its
/// outcome. Not audited: 429s, which would let a flood fill the log.
struct APIResponder<Backend: CoordinatorBackend>: HTTPResponder {
    typealias Context = APIRequestContext

    let backend: Backend
    let jobs: APIJobHandlers<Backend>
    let trustRoutes: APITrustHandlers
    let moneyRoutes: APIMoneyHandlers
    let authenticator: Authenticator
    let limiter: RateLimiter
    let logger: Logger

    init(backend: Backend, configuration: APIConfiguration, logger: Logger, limiterClock: (@Sendable () -> Int64)? = nil) {
        self.backend = backend
        self.jobs = APIJobHandlers(backend: backend, maxBodyBytes: configuration.maxBodyBytes)
        self.authenticator = Authenticator(trust: backend.trust)
        self.trustRoutes = APITrustHandlers(
            trust: backend.trust, tokenCache: authenticator.cache, body: BodyReader(maxBodyBytes: configuration.maxBodyBytes))
        self.moneyRoutes = APIMoneyHandlers(
            money: backend.money, trust: backend.trust, body: BodyReader(maxBodyBytes: configuration.maxBodyBytes))
        self.limiter =
            limiterClock.map { RateLimiter(limit: configuration.rateLimit, clock: $0) } ?? RateLimiter(limit: configuration.rateLimit)
        self.logger = logger
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let client = ClientAddress(context.remoteAddress)
        let match = APIRoute.match(method: request.method, path: request.uri.path)
        var caller = Caller.anonymous(source: client.text)
        let response: Response
        do {
            switch match {
            case .route(let route): response = try await serve(route, request, client, caller: &caller)
            case .methodNotAllowed(let allowed): throw APIError.methodNotAllowed(request.method, allowed: allowed)
            case .notFound: throw APIError.notFound("no such route: \(request.method.rawValue) \(request.uri.path)")
            }
        } catch {
            let failure = apiError(for: error, request: request)
            if case .route(let route) = match { await audit(failure, route: route, caller: caller) }
            response = APIJSON.response(failure)
        }
        logger.debug(
            "api request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "actor": "\(caller.actor)",
            ]
        )
        return response
    }

    private func serve(_ route: APIRoute, _ request: Request, _ client: ClientAddress, caller: inout Caller) async throws -> Response {
        switch route.admission {
        case .probe:
            return await probe(route)
        case .joinToken:
            // Enrollment signs a certificate: limit it per address before any work.
            try admit("address:\(client.host)")
            return try await trustRoutes.enroll(request, client)
        case .bearer:
            let principal = try await authenticate(request, route, client)
            caller = Caller(principal, source: client.text)
            try admit("token:\(principal.tokenID)")
            return try await handle(route, request, principal, caller)
        }
    }

    /// The principal of the request's bearer token, or a 401 (audited here, where the token id
    /// presented is known). Failed attempts count against the client's address.
    private func authenticate(_ request: Request, _ route: APIRoute, _ client: ClientAddress) async throws -> Principal {
        switch try await authenticator.authenticate(authorization: request.headers[.authorization]) {
        case .success(let principal):
            return principal
        case .failure(let failure):
            try admit("address:\(client.host)")
            await backend.trust.audit(
                AuditEntry(
                    caller: Caller(actor: failure.tokenID ?? "anonymous", role: "none", source: client.text),
                    action: "auth.denied", target: route.target, outcome: .denied,
                    detail: "401 \(route.action): token \(failure.reason)"))
            var error = APIError.unauthenticated(failure)
            error.audited = true
            throw error
        }
    }

    private func admit(_ key: String) throws(APIError) {
        if case .limited(let retryAfter) = limiter.take(key) { throw .rateLimited(retryAfterSeconds: retryAfter) }
    }

    /// `/healthz` and `/readyz`: no token, no rate limit (orchestrators poll them).
    private func probe(_ route: APIRoute) async -> Response {
        guard route == .ready else { return APIJSON.response(HealthView(status: "ok", checks: [:])) }
        let health = await backend.readiness()
        return APIJSON.response(health, status: health.status == "ok" ? .ok : .serviceUnavailable)
    }

    /// The routes that need a bearer token, once it is verified.
    private func handle(_ route: APIRoute, _ request: Request, _ principal: Principal, _ caller: Caller) async throws -> Response {
        switch route {
        case .health, .ready, .enroll:
            // Admitted without a bearer token in `serve`; never here.
            throw APIError.internalError()
        case .submitJob: return try await jobs.submit(request, principal, caller)
        case .listJobs: return try await jobs.list(request, principal)
        case .getJob(let id): return try await jobs.get(id, principal)
        case .cancelJob(let id): return try await jobs.cancel(id, request, principal, caller)
        case .jobLogs(let id): return try await jobs.logs(id, request, principal)
        case .explainJob(let id): return try await jobs.explain(id, principal)
        case .explainSpec: return try await jobs.explainSpec(request, principal)
        case .capacity: return APIJSON.response(try await backend.capacity())
        case .meshCapacity: return APIJSON.response(try await backend.meshCapacity())
        case .usage: return try await jobs.usage(request, principal)
        case .sites: return APIJSON.response(AccessPolicy.sites(principal, try await backend.sites()))
        case .money(let route): return try await moneyRoutes.handle(route, request, principal, caller)
        case .addSite, .revokeSite, .createToken, .listTokens, .revokeToken, .audit, .meshMembers:
            if let denial = AccessPolicy.adminOnly(principal, Self.adminWhat(route)) {
                throw APIError.forbidden(denial, action: route.action, target: route.target)
            }
            switch route {
            case .addSite: return try await trustRoutes.addSite(request, caller)
            case .revokeSite(let id): return try await trustRoutes.revokeSite(id, caller)
            case .createToken: return try await trustRoutes.createToken(request, caller)
            case .listTokens: return try await trustRoutes.listTokens()
            case .revokeToken(let id): return try await trustRoutes.revokeToken(id, caller)
            case .meshMembers: return APIJSON.response(try await backend.meshMembers())
            default: return try await trustRoutes.audit(request)
            }
        }
    }

    private static func adminWhat(_ route: APIRoute) -> String {
        switch route {
        case .addSite: "add sites"
        case .revokeSite: "revoke sites"
        case .createToken: "create tokens"
        case .listTokens: "list tokens"
        case .revokeToken: "revoke tokens"
        case .meshMembers: "read the coordinator mesh's members"
        default: "read the audit log"
        }
    }

    /// The audit row of a failed request: refusals always, other failures of mutating routes.
    private func audit(_ failure: APIError, route: APIRoute, caller: Caller) async {
        guard !failure.audited, failure.status != .tooManyRequests else { return }
        if failure.status == .unauthorized || failure.status == .forbidden {
            let refused = failure.refused ?? .init(action: route.action, target: route.target)
            await backend.trust.audit(
                AuditEntry(
                    caller: caller, action: "auth.denied", target: refused.target, outcome: .denied,
                    detail: "\(failure.status.code) \(refused.action): \(failure.message)"))
        } else if route.isMutating {
            await backend.trust.audit(
                AuditEntry(
                    caller: caller, action: route.action, target: route.target, outcome: .failed(failure.code),
                    detail: failure.message))
        }
    }

    private func apiError(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as BackendError: return APIError(error)
        case let error as LedgerError:
            // A money rule refused the request (an amount out of range, an overflow): a conflict
            // with the request as it stands, never a server error.
            return APIError(BackendError.conflict(error.description))
        case let error as EnrollmentRefusal: return APIError(error)
        case let wrapped as AlreadyAudited:
            var inner = apiError(for: wrapped.error, request: request)
            inner.audited = true
            return inner
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
