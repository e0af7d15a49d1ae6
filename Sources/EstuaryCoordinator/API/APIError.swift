import EstuaryModel
import Hummingbird

/// An API failure as the client sees it: one status, one stable code, a message, and for
/// `invalid_request` the fields at fault. Rendered as ``APIErrorBody``.
struct APIError: Error, Sendable, Hashable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var fields: [FieldError]?
    /// Extra response headers (`Allow` on a 405).
    var headers: HTTPFields = [:]

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
