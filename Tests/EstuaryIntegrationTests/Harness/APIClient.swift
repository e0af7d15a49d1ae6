import AsyncHTTPClient
import EstuaryModel
import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// A tiny client of the coordinator's JSON API, for reading what the coordinator believes.
struct APIClient: Sendable {
    let baseURL: String
    /// Bearer token sent with every request (nil: none).
    var token: String? = nil
    /// CA to trust for https (the coordinator's mesh CA).
    var caPath: String? = nil

    struct Reply: Sendable {
        var status: Int
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct UnexpectedStatus: Error, CustomStringConvertible {
        var method: String
        var path: String
        var status: Int
        var body: String
        var description: String { "\(method) \(path) answered HTTP \(status): \(body.prefix(500))" }
    }

    enum Method: Sendable { case get, post }

    func request(
        _ method: Method, _ path: String, body: Data? = nil, contentType: String = "application/json", headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method == .get ? .GET : .POST
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let client = caPath.map(TLSClients.client(trusting:)) ?? HTTPClient.shared
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), body: Data(bytes.readableBytesView))
    }

    func get<Value: Decodable>(_ path: String, as type: Value.Type = Value.self) async throws -> Value {
        let reply = try await request(.get, path)
        guard reply.status == 200 else { throw UnexpectedStatus(method: "GET", path: path, status: reply.status, body: reply.text) }
        return try JSONDecoder().decode(Value.self, from: reply.body)
    }

    func job(_ id: JobID) async throws -> JobView { try await get("/v1/jobs/\(id.rawValue)") }

    /// Every job, following `next_after` across pages.
    func allJobs(state: JobState? = nil) async throws -> [JobView] {
        var jobs: [JobView] = []
        var after: JobID?
        repeat {
            var query = "limit=1000"
            if let state { query += "&state=\(state.rawValue)" }
            if let after { query += "&after=\(after.rawValue)" }
            let page: JobListView = try await get("/v1/jobs?\(query)")
            jobs += page.jobs
            after = page.nextAfter
        } while after != nil
        return jobs
    }

    func usage(job: JobID? = nil) async throws -> [UsageRecord] {
        let view: UsageView = try await get("/v1/usage" + (job.map { "?job=\($0.rawValue)" } ?? ""))
        return view.records
    }

    func sites() async throws -> [SiteView] {
        let view: SiteListView = try await get("/v1/sites")
        return view.sites
    }

    /// `POST path` with a JSON object; throws unless the status is `expect`.
    @discardableResult
    func post<Value: Decodable>(
        _ path: String, json: [String: String], expect: Int = 200, as type: Value.Type = Value.self
    ) async throws -> Value {
        let reply = try await request(.post, path, body: try JSONSerialization.data(withJSONObject: json))
        guard reply.status == expect else { throw UnexpectedStatus(method: "POST", path: path, status: reply.status, body: reply.text) }
        return try JSONDecoder().decode(Value.self, from: reply.body)
    }

    func isReady() async -> Bool {
        (try? await request(.get, "/readyz").status) == 200
    }
}

/// One HTTPClient per trusted CA file, shared by every APIClient of a test process.
enum TLSClients {
    private static let clients = Mutex<[String: HTTPClient]>([:])

    static func client(trusting caPath: String) -> HTTPClient {
        clients.withLock { clients in
            if let existing = clients[caPath] { return existing }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caPath)
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.timeout = .init(connect: .seconds(3), read: .seconds(30))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[caPath] = client
            return client
        }
    }
}
