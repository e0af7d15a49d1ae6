import EstuaryModel
import Hummingbird

/// An API failure as the client sees it: one status, one stable code, a message, and for
/// `invalid_request` the fields at fault. Rendered as ``APIErrorBody``.
struct APIError: Error, Sendable, Hashable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var fields: [FieldError]?
    /// Extra response headers (`Allow` on a 405, `WWW-Authenticate` on a 401, `Retry-After` on a 429).
    var headers: HTTPFields = [:]
    /// For a 403: what was refused, on what, for the audit row.
    var refused: RefusedAction?
    /// The audit row was already written where more was known (enrollment).
    var audited = false

    struct RefusedAction: Sendable, Hashable {
        var action: String
        var target: String
    }

    var body: APIErrorBody {
        APIErrorBody(error: .init(code: code, message: message, fields: fields))
    }

    static func invalid(_ fields: [FieldError]) -> APIError {
        let summary = fields.map(\.description).joined(separator: "; ")
        return APIError(status: .badRequest, code: "invalid_request", message: "invalid request: \(summary)", fields: fields)
    }

    static func invalid(field: String, _ message: String) -> APIError {
        invalid([FieldError(field: field, message: message)])
    }

    static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: message)
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        var headers = HTTPFields()
        headers[.allow] = list
        return APIError(
            status: .methodNotAllowed, code: "method_not_allowed",
            message: "\(method.rawValue) is not allowed here; use \(list)", headers: headers
        )
    }

    static func tooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, code: "payload_too_large", message: "request body is larger than \(limit) bytes")
    }

    /// 401 `unauthenticated`, with the `WWW-Authenticate` challenge of RFC 6750.
    static func unauthenticated(_ failure: AuthFailure) -> APIError {
        var headers = HTTPFields()
        switch failure {
        case .missing: headers[.wwwAuthenticate] = #"Bearer realm="estuary""#
        default: headers[.wwwAuthenticate] = #"Bearer realm="estuary", error="invalid_token""#
        }
        return APIError(status: .unauthorized, code: "unauthenticated", message: failure.description, headers: headers)
    }

    /// 403 `forbidden`: authenticated, but this token's role may not do `action` on `target`.
    static func forbidden(_ denial: Denial, action: String, target: String) -> APIError {
        APIError(
            status: .forbidden, code: "forbidden", message: denial.message,
            refused: RefusedAction(action: action, target: target))
    }

    /// 429 `rate_limited` with `Retry-After` in seconds.
    static func rateLimited(retryAfterSeconds: Int) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(retryAfterSeconds)
        return APIError(
            status: .tooManyRequests, code: "rate_limited",
            message: "too many requests; retry after \(retryAfterSeconds) s", headers: headers)
    }

    static func internalError() -> APIError {
        APIError(status: .internalServerError, code: "internal", message: "internal error; see the coordinator's log")
    }

}

extension APIError {
    /// The one mapping from backend errors to HTTP (see ``BackendError``).
    init(_ error: BackendError) {
        switch error {
        case .invalid(let fields): self = .invalid(fields)
        case .notFound(let what): self = .notFound("\(what) not found")
        case .conflict(let why): self.init(status: .conflict, code: "conflict", message: why)
        case .unavailable(let why): self.init(status: .serviceUnavailable, code: "unavailable", message: why)
        }
    }
}

extension APIError {
    /// A refused join token: 401 `token_invalid`, `token_expired`, `token_used`; 403 `site_revoked`.
    init(_ refusal: EnrollmentRefusal) {
        switch refusal {
        case .siteRevoked: self.init(status: .forbidden, code: refusal.code, message: refusal.description)
        default:
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = #"Bearer realm="estuary-enroll", error="invalid_token""#
            self.init(status: .unauthorized, code: refusal.code, message: refusal.description, headers: headers)
        }
    }
}
