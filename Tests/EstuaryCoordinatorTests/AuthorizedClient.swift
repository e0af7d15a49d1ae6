import HTTPTypes
import HummingbirdTesting
import NIOCore

/// A test client that presents a bearer token on every request that does not carry its own
/// `Authorization` header.
struct AuthorizedClient: TestClientProtocol {
    let base: any TestClientProtocol
    let token: String?

    init(_ base: any TestClientProtocol, token: String?) {
        self.base = base
        self.token = token
    }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = headers
        if let token, headers[.authorization] == nil { headers[.authorization] = "Bearer \(token)" }
        return try await base.executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    var port: Int? { base.port }

    /// The same client with another token (nil: none).
    func with(_ token: String?) -> AuthorizedClient { AuthorizedClient(base, token: token) }
}
