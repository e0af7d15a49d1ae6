import EstuaryModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import EstuaryCoordinator

/// The admin/user API over an in-memory backend, through Hummingbird's router test client.
@Suite("admin API")
struct APITests {
    static let spec = JobSpec(
        name: "resnet-train", tenant: "pengcheng-lab", command: ["/bin/sh", "-c", "python train.py"],
        environment: ["EPOCHS": "10"], resources: ResourceRequest(acceleratorClass: "ascend-910b", count: 8, tasks: 2),
        walltimeSeconds: 7200
    )

    static func json(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONEncoder().encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(type, from: Data(response.body.readableBytesView))
    }

    /// Runs `test` against the API over `backend`, with a client that presents a fresh admin token.
    static func withAPI(
        backend: APITestBackend = APITestBackend(), maxBodyBytes: Int = 1 << 20,
        _ test: @escaping @Sendable (any TestClientProtocol, APITestBackend) async throws -> Void
    ) async throws {
        let admin = try await backend.trust.createAPIToken(
            NewAPIToken(role: .admin, subject: nil, name: "test-admin", ttlSeconds: nil), by: .coordinator)
        let app = makeAPIApplication(
            backend: backend, configuration: APIConfiguration(port: 0, maxBodyBytes: maxBodyBytes),
            logger: Logger(label: "api-test")
        )
        try await app.test(.router) { client in
            try await test(AuthorizedClient(client, token: admin.text), backend)
        }
    }

    /// A JSON body with one key replaced, for malformed-body cases.
    static func specJSON(replacing path: [String], with value: Any?) -> ByteBuffer {
        var object = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as! [String: Any]
        func set(_ dictionary: inout [String: Any], _ path: ArraySlice<String>) {
            if path.count == 1 {
                dictionary[path.first!] = value
            } else {
                var inner = dictionary[path.first!] as! [String: Any]
                set(&inner, path.dropFirst())
                dictionary[path.first!] = inner
            }
        }
        set(&object, path[...])
        return ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    @Test("a repeated idempotency key returns the first job with 200 instead of 201")
    func idempotentSubmit() async throws {
        try await Self.withAPI { client, _ in
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "nightly-1"]
            let first = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: Self.json(Self.spec))
            #expect(first.status == .created)
            let created = try Self.decode(SubmitView.self, first)
            #expect(created.created)
            #expect(created.job.spec.idempotencyKey == "nightly-1")

            let again = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: Self.json(Self.spec))
            #expect(again.status == .ok)
            let repeated = try Self.decode(SubmitView.self, again)
            #expect(!repeated.created)
            #expect(repeated.job.id == created.job.id)

            let other = try await client.execute(uri: "/v1/jobs", method: .post, body: Self.json(Self.spec))
            #expect(other.status == .created)
            #expect(try Self.decode(SubmitView.self, other).job.id != created.job.id)
        }
    }

    struct MalformedBody: Sendable, CustomTestStringConvertible {
        var label: String
        var body: @Sendable () -> ByteBuffer
        var field: String
        var message: String
        var testDescription: String { label }
    }

    static let malformedBodies: [MalformedBody] = [
        .init(label: "missing command", body: { specJSON(replacing: ["command"], with: nil) }, field: "command", message: "is required"),
        .init(
            label: "count as a string", body: { specJSON(replacing: ["resources", "count"], with: "8") },
            field: "resources.count", message: "expected an integer, found a string"
        ),
        .init(
            label: "command element not a string", body: { specJSON(replacing: ["command"], with: ["/bin/echo", 3]) },
            field: "command[1]", message: "expected a string, found a number"
        ),
        .init(
            label: "count with a fraction", body: { specJSON(replacing: ["resources", "count"], with: 8.5) },
            field: "resources.count", message: "expected an integer, found 8.5"
        ),
        .init(
            label: "command as an object", body: { specJSON(replacing: ["command"], with: ["a": "b"]) },
            field: "command", message: "expected an array, found an object"
        ),
        .init(label: "not JSON", body: { ByteBuffer(string: "name = 'x'") }, field: "body", message: "is not valid JSON"),
        .init(label: "empty body", body: { ByteBuffer() }, field: "body", message: "is empty; send the job spec as JSON"),
        .init(
            label: "valid JSON, invalid job", body: { specJSON(replacing: ["walltime_seconds"], with: 0) },
            field: "walltime_seconds", message: "must be between 1 second and 30 days"
        ),
    ]

    @Test("a malformed submit body is a 400 that names the field", arguments: malformedBodies)
    func malformedSubmit(_ example: MalformedBody) async throws {
        try await Self.withAPI { client, _ in
            let response = try await client.execute(uri: "/v1/jobs", method: .post, body: example.body())
            #expect(response.status == .badRequest)
            let error = try Self.decode(APIErrorBody.self, response)
            #expect(error.error.code == "invalid_request")
            #expect(error.error.fields == [FieldError(field: example.field, message: example.message)])
        }
    }

    @Test("bad list filters are 400s naming each parameter")
    func badFilters() async throws {
        try await Self.withAPI { client, _ in
            let response = try await client.execute(uri: "/v1/jobs?state=sleeping&limit=0", method: .get)
            #expect(response.status == .badRequest)
            let fields = try Self.decode(APIErrorBody.self, response).error.fields ?? []
            #expect(fields.map(\.field) == ["state", "limit"])
            #expect(fields.first?.message.contains("one of submitted, queued") == true)
        }
    }

    @Test("list filters and pages")
    func listJobs() async throws {
        try await Self.withAPI { client, _ in
            for _ in 0..<3 { try await client.execute(uri: "/v1/jobs", method: .post, body: Self.json(Self.spec)) }
            let page = try Self.decode(JobListView.self, try await client.execute(uri: "/v1/jobs?limit=2&tenant=pengcheng-lab", method: .get))
            #expect(page.jobs.map(\.id) == ["j-1", "j-2"])
            #expect(page.nextAfter == "j-2")
            #expect(page.jobs.allSatisfy { $0.events == nil })
            let rest = try Self.decode(JobListView.self, try await client.execute(uri: "/v1/jobs?after=j-2", method: .get))
            #expect(rest.jobs.map(\.id) == ["j-3"])
            #expect(rest.nextAfter == nil)
        }
    }

    @Test("a job reads back with its events; an unknown job is 404")
    func getJob() async throws {
        try await Self.withAPI { client, _ in
            try await client.execute(uri: "/v1/jobs", method: .post, body: Self.json(Self.spec))
            let found = try await client.execute(uri: "/v1/jobs/j-1", method: .get)
            #expect(found.status == .ok)
            #expect(try Self.decode(JobView.self, found).events?.first?.state == .submitted)

            let missing = try await client.execute(uri: "/v1/jobs/j-404", method: .get)
            #expect(missing.status == .notFound)
            #expect(try Self.decode(APIErrorBody.self, missing).error.code == "not_found")
        }
    }

    @Test("cancel takes an optional reason; cancelling an ended job is 409")
    func cancel() async throws {
        try await Self.withAPI { client, _ in
            try await client.execute(uri: "/v1/jobs", method: .post, body: Self.json(Self.spec))
            let cancelled = try await client.execute(
                uri: "/v1/jobs/j-1/cancel", method: .post, body: Self.json(["reason": "wrong dataset"])
            )
            #expect(cancelled.status == .ok)
            let job = try Self.decode(JobView.self, cancelled)
            #expect(job.state == .cancelled)
            #expect(job.events?.last?.cause == "wrong dataset")

            let again = try await client.execute(uri: "/v1/jobs/j-1/cancel", method: .post)
            #expect(again.status == .conflict)
            #expect(try Self.decode(APIErrorBody.self, again).error.code == "conflict")

            let missing = try await client.execute(uri: "/v1/jobs/nope/cancel", method: .post)
            #expect(missing.status == .notFound)
        }
    }

    @Test("unknown routes are 404 and wrong methods 405, both as JSON errors")
    func routing() async throws {
        try await Self.withAPI { client, _ in
            let unknown = try await client.execute(uri: "/v2/everything", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try Self.decode(APIErrorBody.self, unknown).error.code == "not_found")

            let wrongMethod = try await client.execute(uri: "/v1/jobs", method: .delete)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET, POST")
            #expect(try Self.decode(APIErrorBody.self, wrongMethod).error.code == "method_not_allowed")

            let getCancel = try await client.execute(uri: "/v1/jobs/j-1/cancel", method: .get)
            #expect(getCancel.status == .methodNotAllowed)
            #expect(getCancel.headers[.allow] == "POST")
        }
    }

    @Test("a body over the limit is 413")
    func tooLarge() async throws {
        try await Self.withAPI(maxBodyBytes: 256) { client, _ in
            let big = ByteBuffer(repeating: UInt8(ascii: " "), count: 1000)
            let response = try await client.execute(uri: "/v1/jobs", method: .post, body: big)
            #expect(response.status == .contentTooLarge)
            #expect(try Self.decode(APIErrorBody.self, response).error.code == "payload_too_large")

            let declared = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: [.contentLength: "1000"], body: big
            )
            #expect(declared.status == .contentTooLarge)
        }
    }

    @Test("logs are raw bytes with their position, size, completeness and job state in headers")
    func logs() async throws {
        try await Self.withAPI { client, backend in
            try await client.execute(uri: "/v1/jobs", method: .post, body: Self.json(Self.spec))
            await backend.setLogs("j-1", Array("hello\nworld\n".utf8))

            let first = try await client.execute(uri: "/v1/jobs/j-1/logs?offset=6&limit=3", method: .get)
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "application/octet-stream")
            #expect(String(buffer: first.body) == "wor")
            #expect(first.headers[HTTPField.Name("Estuary-Log-Offset")!] == "6")
            #expect(first.headers[HTTPField.Name("Estuary-Log-Size")!] == "12")
            #expect(first.headers[HTTPField.Name("Estuary-Log-Complete")!] == "false")
            #expect(first.headers[HTTPField.Name("Estuary-Job-State")!] == "submitted")

            await backend.finish("j-1", as: .succeeded)
            let last = try await client.execute(uri: "/v1/jobs/j-1/logs?stream=stdout&offset=9", method: .get)
            #expect(String(buffer: last.body) == "ld\n")
            #expect(last.headers[HTTPField.Name("Estuary-Log-Complete")!] == "true")

            let badStream = try await client.execute(uri: "/v1/jobs/j-1/logs?stream=stdin&offset=-1", method: .get)
            #expect(badStream.status == .badRequest)
            #expect(try Self.decode(APIErrorBody.self, badStream).error.fields?.map(\.field) == ["stream", "offset"])

            let missing = try await client.execute(uri: "/v1/jobs/j-9/logs", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    @Test("healthz is always ok; readyz follows the backend and is 503 when not ready")
    func health() async throws {
        try await Self.withAPI { client, backend in
            let live = try await client.execute(uri: "/healthz", method: .get)
            #expect(live.status == .ok)
            #expect(try Self.decode(HealthView.self, live).status == "ok")
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)

            await backend.setReadiness(HealthView(status: "degraded", checks: ["store": "not open"]))
            let notReady = try await client.execute(uri: "/readyz", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            #expect(try Self.decode(HealthView.self, notReady).checks == ["store": "not open"])
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test("usage and sites pass the backend's views through")
    func usageAndSites() async throws {
        try await Self.withAPI { client, backend in
            await backend.addUsage(
                UsageRecord(
                    id: "u-j-1-1", jobID: "j-1", siteID: "gz-tianhe", acceleratorClass: "cpu-x86-64", units: 4,
                    startedAtMs: 1000, endedAtMs: 61000
                )
            )
            let site = SiteDescriptor(id: "gz-tianhe", displayName: "Tianhe", region: "guangzhou", zones: ["gba"], driver: "slurm")
            await backend.setSites([
                SiteView(
                    site: site, state: .connected,
                    pools: [PoolCapacity(acceleratorClass: "cpu-x86-64", count: 64, free: 48, simulated: true)],
                    allocated: ["cpu-x86-64": 16], runningJobs: 2, lastSeenMs: nil, agentVersion: nil
                )
            ])
            let usage = try Self.decode(UsageView.self, try await client.execute(uri: "/v1/usage?job=j-1", method: .get))
            #expect(usage.records.count == 1)
            let none = try Self.decode(UsageView.self, try await client.execute(uri: "/v1/usage?job=j-2", method: .get))
            #expect(none.records.isEmpty)
            let badID = try await client.execute(uri: "/v1/usage?job=a%20b", method: .get)
            #expect(badID.status == .badRequest)

            let sitesResponse = try await client.execute(uri: "/v1/sites", method: .get)
            let text = String(buffer: sitesResponse.body)
            #expect(try Self.decode(SiteListView.self, sitesResponse).sites.first?.runningJobs == 2)
            #expect(!text.contains("last_seen_ms"), "nil optionals are omitted, as admin-api.yaml says")
        }
    }

    @Test("route matching", arguments: [
        ("GET", "/healthz", APIRoute.Match.route(.health)),
        ("GET", "/v1/jobs/", .route(.listJobs)),
        ("POST", "/v1/jobs", .route(.submitJob)),
        ("GET", "/v1/jobs/j-1/logs", .route(.jobLogs("j-1"))),
        ("PUT", "/v1/sites", .methodNotAllowed(allowed: [.get, .post])),
        ("POST", "/v1/sites/gz/revoke", .route(.revokeSite("gz"))),
        ("POST", "/v1/enroll", .route(.enroll)),
        ("GET", "/v1/enroll", .methodNotAllowed(allowed: [.post])),
        ("POST", "/v1/tokens/abc/revoke", .route(.revokeToken("abc"))),
        ("GET", "/v1/audit", .route(.audit)),
        ("GET", "/v1/jobs/j-1/explain", .route(.explainJob("j-1"))),
        ("POST", "/v1/explain", .route(.explainSpec)),
        ("GET", "/v1/explain", .methodNotAllowed(allowed: [.post])),
        ("GET", "/v1/capacity", .route(.capacity)),
        ("GET", "/v1/jobs/j-1/other", .notFound),
        ("GET", "/", .notFound),
    ])
    func routeMatching(method: String, path: String, expected: APIRoute.Match) {
        #expect(APIRoute.match(method: HTTPRequest.Method(method)!, path: path) == expected)
    }
}
