import AsyncHTTPClient
import EstuaryModel
import Foundation
import NIOCore

/// A tiny client of the coordinator's JSON API, for reading what the coordinator believes.
struct APIClient: Sendable {
    let baseURL: String

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

    func request(_ method: Method, _ path: String, body: Data? = nil, contentType: String = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method == .get ? .GET : .POST
        if let body {
            request.headers.add(name: "content-type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
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

    func isReady() async -> Bool {
        (try? await request(.get, "/readyz").status) == 200
    }
}
