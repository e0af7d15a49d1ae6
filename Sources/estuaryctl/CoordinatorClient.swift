import AsyncHTTPClient
import EstuaryModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The coordinator's admin/user API over HTTP/1.1 (TLS for https URLs): the only network code
/// in estuaryctl. Every request carries the configured API token as `Authorization: Bearer`.
///
/// Use ``withClient(settings:_:)``, which shuts the underlying `HTTPClient` down on every path.
struct CoordinatorClient: Sendable {
    let baseURL: String
    private let http: HTTPClient
    private let token: String?
    private let tokenSource: String?

    /// Largest JSON answer read (a full job list of 1000 jobs is well under this).
    private static let maxJSONBytes = 64 << 20
    private static let requestTimeout = TimeAmount.seconds(30)

    static func withClient<T: Sendable>(settings: ClientSettings, _ body: (CoordinatorClient) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(60))
        if settings.apiURL.hasPrefix("https://") {
            configuration.tlsConfiguration = try tlsConfiguration(caFile: settings.caFile)
        }
        if settings.sendsTokenInTheClear {
            Output.error("warning: sending the API token in the clear to \(settings.apiURL); use an https:// address")
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let baseURL = settings.apiURL
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let client = CoordinatorClient(baseURL: trimmed, http: http, token: settings.token, tokenSource: settings.tokenSource)
        do {
            let result = try await body(client)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// Verifies the server against `caFile` only, when one is given; otherwise the system's roots.
    static func tlsConfiguration(caFile: String?) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw CLIError.configuration("cannot read the CA certificate \(caFile): \(error)")
            }
            guard !roots.isEmpty else { throw CLIError.configuration("\(caFile) holds no PEM certificate") }
            tls.trustRoots = .certificates(roots)
        }
        return tls
    }

    /// `GET path?query` decoded as `T`.
    func get<T: Decodable>(_ path: String, query: [(String, String)] = [], as type: T.Type = T.self) async throws -> T {
        let (value, _) = try await send(HTTPClientRequest(url: url(path, query)), as: type)
        return value
    }

    /// `POST path` without a body.
    func post<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> (T, Int) {
        var request = HTTPClientRequest(url: url(path, []))
        request.method = .POST
        return try await send(request, as: type)
    }

    /// `POST path` with a JSON body; also returns the status (201 vs 200 matters for submit).
    func post<T: Decodable>(
        _ path: String, json: some Encodable, headers: [(String, String)] = [], as type: T.Type = T.self
    ) async throws -> (T, Int) {
        var request = HTTPClientRequest(url: url(path, []))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(json)))
        return try await send(request, as: type)
    }

    /// `GET path?query` for an answer that is not JSON (a statement as CSV): each piece of the
    /// body is handed to `consume` as it arrives, so an export of any size is never held whole.
    /// An error answer is read and thrown like any other.
    func getBody(
        _ path: String, query: [(String, String)] = [], accept: String, _ consume: (ByteBuffer) throws -> Void
    ) async throws {
        var request = HTTPClientRequest(url: url(path, query))
        request.headers.add(name: "Accept", value: accept)
        let response = try await execute(request)
        guard (200..<300).contains(response.status.code) else {
            throw failure(response, body: try await response.body.collect(upTo: Self.maxJSONBytes))
        }
        for try await piece in response.body { try consume(piece) }
    }

    /// One slice of a job's output and where it sits in the whole.
    struct LogChunk: Sendable {
        var bytes: ByteBuffer
        var offset: Int64
        var size: Int64
        var complete: Bool
        var state: JobState?
    }

    /// `GET /v1/jobs/{id}/logs`
    func logs(job: JobID, stream: LogStreamKind, offset: Int64) async throws -> LogChunk {
        let request = HTTPClientRequest(
            url: url("/v1/jobs/\(job)/logs", [("stream", stream.rawValue), ("offset", String(offset))])
        )
        let response = try await execute(request)
        let body = try await response.body.collect(upTo: Self.maxJSONBytes)
        guard response.status == .ok else { throw failure(response, body: body) }
        let headers = response.headers
        return LogChunk(
            bytes: body,
            offset: headers.first(name: "Estuary-Log-Offset").flatMap { Int64($0) } ?? offset,
            size: headers.first(name: "Estuary-Log-Size").flatMap { Int64($0) } ?? offset + Int64(body.readableBytes),
            complete: headers.first(name: "Estuary-Log-Complete") == "true",
            state: headers.first(name: "Estuary-Job-State").flatMap(JobState.init(rawValue:))
        )
    }

    // MARK: plumbing

    private func send<T: Decodable>(_ request: HTTPClientRequest, as type: T.Type) async throws -> (T, Int) {
        let response = try await execute(request)
        let body = try await response.body.collect(upTo: Self.maxJSONBytes)
        guard (200..<300).contains(response.status.code) else { throw failure(response, body: body) }
        do {
            return (try JSONDecoder().decode(type, from: Data(body.readableBytesView)), Int(response.status.code))
        } catch {
            throw CLIError.unexpectedResponse(status: Int(response.status.code), detail: "cannot read the answer: \(error)")
        }
    }

    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        var request = request
        if let token { request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)") }
        do {
            return try await http.execute(request, timeout: Self.requestTimeout)
        } catch {
            if error is NIOSSLError || error is NIOSSLExtraError { throw CLIError.tls(url: baseURL, reason: "\(error)") }
            throw Self.isConnectionFailure(error) ? CLIError.unreachable(url: baseURL, reason: Self.reason(error)) : error
        }
    }

    private func failure(_ response: HTTPClientResponse, body: ByteBuffer) -> CLIError {
        let status = response.status
        if let decoded = try? JSONDecoder().decode(APIErrorBody.self, from: Data(body.readableBytesView)) {
            return .api(status: Int(status.code), body: decoded, hint: hint(response))
        }
        let text = String(buffer: body).prefix(200)
        return .unexpectedResponse(status: Int(status.code), detail: text.isEmpty ? status.reasonPhrase : String(text))
    }

    /// What to do about a refusal, naming where the token came from (never the token).
    private func hint(_ response: HTTPClientResponse) -> String? {
        switch response.status.code {
        case 401:
            guard let tokenSource else {
                return "no API token is configured: set ESTUARY_TOKEN_FILE (or --token-file, or token_file in the config file)"
            }
            return "the token came from \(tokenSource)"
        case 403:
            return tokenSource.map { "the token from \($0) does not allow this" }
        case 429:
            return response.headers.first(name: "Retry-After").map { "retry after \($0) s" }
        default:
            return nil
        }
    }

    private func url(_ path: String, _ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return baseURL + path }
        let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?"))
        let pairs = query.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }
        return baseURL + path + "?" + pairs.joined(separator: "&")
    }

    /// Errors that mean "nothing answered at that address" rather than "the server failed".
    private static func isConnectionFailure(_ error: any Error) -> Bool {
        switch error {
        case is NIOConnectionError, is SocketAddressError:
            return true
        case let error as IOError:
            return [ECONNREFUSED, ECONNRESET, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT].contains(error.errnoCode)
        case let error as HTTPClientError:
            return error == .connectTimeout || error == .remoteConnectionClosed
        case let error as ChannelError:
            if case .connectTimeout = error { return true }
            return false
        default:
            return false
        }
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if error.dnsAAAAError != nil || error.dnsAError != nil { return "cannot resolve \(error.host)" }
            return error.connectionErrors.first.map { reason($0.error) } ?? "cannot connect"
        case let error as IOError where error.errnoCode == ECONNREFUSED: return "connection refused"
        case let error as IOError: return error.description
        case let error as HTTPClientError where error == .connectTimeout: return "connection timed out"
        case let error as ChannelError: return "\(error)"
        default: return String(describing: error)
        }
    }
}
