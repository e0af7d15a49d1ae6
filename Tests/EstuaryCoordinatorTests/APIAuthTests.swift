import EstuaryModel
import EstuaryStore
import EstuaryTrust
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import EstuaryCoordinator

/// Bearer tokens, roles and the audit of refusals, through the API over the test backend.
@Suite("API authentication and roles")
struct APIAuthTests {
    static func spec(tenant: TenantID) -> JobSpec {
        JobSpec(
            name: "train", tenant: tenant, command: ["/bin/true"],
            resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: 1), walltimeSeconds: 60)
    }

    static func token(
        _ backend: APITestBackend, _ role: APIRole, _ subject: String? = nil, ttlSeconds: Int? = nil, name: String = "t"
    ) async throws -> CreatedAPIToken {
        try await backend.trust.createAPIToken(
            NewAPIToken(role: role, subject: subject, name: name, ttlSeconds: ttlSeconds), by: .coordinator)
    }

    /// The API over `backend`, with a client holding a fresh admin token.
    static func withAPI(
        backend: APITestBackend = APITestBackend(), configuration: APIConfiguration = APIConfiguration(port: 0),
        _ test: @escaping @Sendable (AuthorizedClient, APITestBackend) async throws -> Void
    ) async throws {
        let admin = try await token(backend, .admin, name: "admin")
        let app = makeAPIApplication(backend: backend, configuration: configuration, logger: Logger(label: "api-auth-test"))
        try await app.test(.router) { client in try await test(AuthorizedClient(client, token: admin.text), backend) }
    }

    static func auditRows(_ backend: APITestBackend, action: String? = nil) async throws -> [AuditRecord] {
        try await backend.trust.auditLog(sinceSeq: 0, actor: nil, action: action, limit: 1000)
    }

    static func code(_ response: TestResponse) throws -> String {
        try APITests.decode(APIErrorBody.self, response).error.code
    }

    @Test("missing, malformed, unknown, forged, expired and revoked tokens are 401 with a challenge, each audited")
    func unauthenticated() async throws {
        try await Self.withAPI { admin, backend in
            let expiring = try await Self.token(backend, .admin, ttlSeconds: 60)
            let revoked = try await Self.token(backend, .tenant, "tenant-a")
            let revoke = try await admin.execute(uri: "/v1/tokens/\(revoked.record.id)/revoke", method: .post)
            #expect(revoke.status == .ok)
            backend.clock.advance(seconds: 61)

            let unknown = SecretToken.generate(.api).text
            let forged = "estk_\(expiring.record.id)_\(String(repeating: "a", count: 32))"
            let cases: [(String?, String)] = [
                (nil, "needs a bearer token"),
                ("Basic dXNlcjpwYXNz", "not `Bearer estk_"),
                ("Bearer estj_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "not `Bearer estk_"),
                ("Bearer \(unknown)", "not valid"),
                ("Bearer \(forged)", "not valid"),
                ("Bearer \(expiring.text)", "expired"),
                ("Bearer \(revoked.text)", "revoked"),
            ]
            let before = try await Self.auditRows(backend, action: "auth.denied").count
            for (header, message) in cases {
                var headers = HTTPFields()
                if let header { headers[.authorization] = header }
                let response = try await admin.with(nil).execute(uri: "/v1/jobs", method: .get, headers: headers)
                #expect(response.status == .unauthorized, "\(header ?? "no header")")
                #expect(try Self.code(response) == "unauthenticated")
                #expect(try APITests.decode(APIErrorBody.self, response).error.message.contains(message), "\(header ?? "-")")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=\"estuary\"") == true)
            }
            let denied = try await Self.auditRows(backend, action: "auth.denied").dropFirst(before)
            #expect(denied.count == cases.count)
            #expect(denied.allSatisfy { $0.outcome == "denied" && $0.detail.hasPrefix("401 job.list") })
            #expect(denied.map(\.actor).contains(expiring.record.id))
            #expect(denied.map(\.actor).contains(revoked.record.id))
            #expect(denied.first?.actor == "anonymous")

            // Probes need no token.
            #expect(try await admin.with(nil).execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await admin.with(nil).execute(uri: "/readyz", method: .get).status == .ok)
        }
    }

    @Test("tenant A cannot read, cancel, list, fetch logs of or query usage of tenant B's jobs; each refusal is audited")
    func tenantIsolation() async throws {
        try await Self.withAPI { admin, backend in
            let created = try await admin.execute(uri: "/v1/jobs", method: .post, body: APITests.json(Self.spec(tenant: "tenant-b")))
            #expect(created.status == .created)
            let jobB = try APITests.decode(SubmitView.self, created).job.id
            let tenantA = try await Self.token(backend, .tenant, "tenant-a")
            let client = admin.with(tenantA.text)

            let refused: [(String, HTTPRequest.Method)] = [
                ("/v1/jobs/\(jobB)", .get),
                ("/v1/jobs/\(jobB)/cancel", .post),
                ("/v1/jobs/\(jobB)/logs", .get),
                ("/v1/jobs?tenant=tenant-b", .get),
                ("/v1/usage?job=\(jobB)", .get),
                ("/v1/usage?tenant=tenant-b", .get),
            ]
            for (uri, method) in refused {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(try Self.code(response) == "forbidden")
            }
            let own = try APITests.decode(JobListView.self, try await client.execute(uri: "/v1/jobs", method: .get))
            #expect(own.jobs.isEmpty, "the list is narrowed to tenant-a")
            #expect(try await backend.job(jobB)?.state == .submitted, "the refused cancel changed nothing")

            let denied = try await Self.auditRows(backend, action: "auth.denied").filter { $0.actor == tenantA.record.id }
            #expect(denied.count == refused.count)
            #expect(denied.allSatisfy { $0.role == "tenant" && $0.outcome == "denied" && $0.detail.hasPrefix("403 ") })
            #expect(Set(denied.map(\.target)).contains("job:\(jobB)"))
            #expect(denied.contains { $0.detail.hasPrefix("403 job.cancel") })
        }
    }

    @Test("a tenant's submit gets its tenant when the spec names none, and is refused for another tenant")
    func tenantSubmit() async throws {
        try await Self.withAPI { admin, backend in
            let tenantA = try await Self.token(backend, .tenant, "tenant-a")
            let client = admin.with(tenantA.text)
            let withoutTenant = APITests.specJSON(replacing: ["tenant"], with: nil)
            let created = try await client.execute(uri: "/v1/jobs", method: .post, body: withoutTenant)
            #expect(created.status == .created)
            let job = try APITests.decode(SubmitView.self, created).job
            #expect(job.spec.tenant == "tenant-a")

            let other = try await client.execute(uri: "/v1/jobs", method: .post, body: APITests.json(Self.spec(tenant: "tenant-b")))
            #expect(other.status == .forbidden)

            // A dry run follows the same rule, and creates nothing.
            let dryRun = try await client.execute(uri: "/v1/explain", method: .post, body: withoutTenant)
            #expect(dryRun.status == .ok)
            #expect(try APITests.decode(ExplanationView.self, dryRun).jobID == "dry-run")
            let otherDryRun = try await client.execute(
                uri: "/v1/explain", method: .post, body: APITests.json(Self.spec(tenant: "tenant-b")))
            #expect(otherDryRun.status == .forbidden)
            let emptyDryRun = try await client.execute(uri: "/v1/explain", method: .post, body: ByteBuffer())
            #expect(emptyDryRun.status == .badRequest)

            #expect(try await client.execute(uri: "/v1/jobs/\(job.id)", method: .get).status == .ok)
            let list = try APITests.decode(JobListView.self, try await client.execute(uri: "/v1/jobs", method: .get))
            #expect(list.jobs.map(\.id) == [job.id])
            #expect(try await client.execute(uri: "/v1/jobs/\(job.id)/cancel", method: .post).status == .ok)

            let submits = try await Self.auditRows(backend, action: "job.submit")
            #expect(submits.map(\.actor) == [tenantA.record.id])
            #expect(submits.first?.target == "job:\(job.id)")
            let cancels = try await Self.auditRows(backend, action: "job.cancel")
            #expect(cancels.map(\.outcome) == ["ok"])
        }
    }

    @Test("the tenant default touches only a spec without a tenant key")
    func tenantDefault() {
        let filled = TenantDefault.fill(ByteBuffer(string: #" { "name": "x" }"#), tenant: "t-1")
        #expect(String(buffer: filled) == #" {"tenant":"t-1", "name": "x" }"#)
        #expect(String(buffer: TenantDefault.fill(ByteBuffer(string: "{}"), tenant: "t-1")) == #"{"tenant":"t-1"}"#)
        let explicitNull = ByteBuffer(string: #"{"tenant": null}"#)
        #expect(TenantDefault.fill(explicitNull, tenant: "t-1") == explicitNull)
        let notAnObject = ByteBuffer(string: "[1]")
        #expect(TenantDefault.fill(notAnObject, tenant: "t-1") == notAnObject)
    }

    @Test("a site operator sees its site and the jobs placed there, read-only")
    func siteOperator() async throws {
        try await Self.withAPI { admin, backend in
            let views = ["gz", "sz"].map { id in
                SiteView(
                    site: SiteDescriptor(id: SiteID(rawValue: id), displayName: id, region: "r", zones: [], driver: "process"),
                    state: .connected, pools: [], allocated: [:], runningJobs: 0, lastSeenMs: nil, agentVersion: nil)
            }
            await backend.setSites(views)
            for _ in 0..<2 { try await admin.execute(uri: "/v1/jobs", method: .post, body: APITests.json(Self.spec(tenant: "t"))) }
            await backend.place("j-1", at: "gz")
            await backend.place("j-2", at: "sz")
            await backend.addUsage(UsageRecord(id: "u-1", jobID: "j-1", siteID: "gz", acceleratorClass: "cpu-x86-64", units: 1, startedAtMs: 0, endedAtMs: 1000))
            await backend.addUsage(UsageRecord(id: "u-2", jobID: "j-2", siteID: "sz", acceleratorClass: "cpu-x86-64", units: 1, startedAtMs: 0, endedAtMs: 1000))

            let operatorToken = try await Self.token(backend, .siteOperator, "gz")
            let client = admin.with(operatorToken.text)
            let sites = try APITests.decode(SiteListView.self, try await client.execute(uri: "/v1/sites", method: .get))
            #expect(sites.sites.map(\.site.id) == ["gz"])
            let jobs = try APITests.decode(JobListView.self, try await client.execute(uri: "/v1/jobs", method: .get))
            #expect(jobs.jobs.map(\.id) == ["j-1"])
            let usage = try APITests.decode(UsageView.self, try await client.execute(uri: "/v1/usage", method: .get))
            #expect(usage.records.map(\.id) == ["u-1"])
            #expect(try await client.execute(uri: "/v1/jobs/j-1", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/jobs/j-1/logs", method: .get).status == .ok)

            for (uri, method) in [
                ("/v1/jobs/j-2", HTTPRequest.Method.get), ("/v1/jobs/j-2/logs", .get), ("/v1/jobs?site=sz", .get),
                ("/v1/usage?site=sz", .get), ("/v1/jobs/j-1/cancel", .post), ("/v1/jobs", .post),
            ] {
                let body = method == .post && uri == "/v1/jobs" ? APITests.json(Self.spec(tenant: "t")) : nil
                let response = try await client.execute(uri: uri, method: method, body: body)
                #expect(response.status == .forbidden, "\(method) \(uri)")
            }
            #expect(try await backend.job("j-1")?.state == .running)
        }
    }

    @Test("token, site and audit administration is for admin tokens only")
    func adminOnlyRoutes() async throws {
        try await Self.withAPI { admin, backend in
            let tenant = try await Self.token(backend, .tenant, "t")
            let siteOperator = try await Self.token(backend, .siteOperator, "gz")
            let routes: [(String, HTTPRequest.Method, ByteBuffer?)] = [
                ("/v1/tokens", .post, APITests.json(["role": "admin", "name": "x"])),
                ("/v1/tokens", .get, nil),
                ("/v1/tokens/\(tenant.record.id)/revoke", .post, nil),
                ("/v1/sites", .post, APITests.json(["id": "gz", "org": "lab"])),
                ("/v1/sites/gz/revoke", .post, nil),
                ("/v1/audit", .get, nil),
            ]
            for token in [tenant, siteOperator] {
                for (uri, method, body) in routes {
                    let response = try await admin.with(token.text).execute(uri: uri, method: method, body: body)
                    #expect(response.status == .forbidden, "\(token.record.role) \(method) \(uri)")
                }
            }
            #expect(try await Self.auditRows(backend, action: "auth.denied").count == 2 * routes.count)
            #expect(try await Self.auditRows(backend, action: "token.create").count == 3, "admin, tenant, operator; no more")
        }
    }

    @Test("tokens: created with the text shown once, listed without secrets, revoked with immediate effect")
    func tokenLifecycle() async throws {
        try await Self.withAPI { admin, backend in
            let created = try await admin.execute(
                uri: "/v1/tokens", method: .post,
                body: APITests.json(["role": "tenant", "subject": "pengcheng-lab", "name": "ci runner", "ttl": "720h"]))
            #expect(created.status == .created)
            #expect(created.headers[.cacheControl] == "no-store")
            let view = try APITests.decode(CreatedTokenView.self, created)
            #expect(view.token.hasPrefix("estk_\(view.id)_"))
            #expect(view.role == "tenant" && view.subject == "pengcheng-lab" && view.name == "ci runner")
            #expect(view.expiresAtMs == backend.clock.now + 720 * 3_600_000)

            let tenant = admin.with(view.token)
            #expect(try await tenant.execute(uri: "/v1/jobs", method: .get).status == .ok)

            let listed = try await admin.execute(uri: "/v1/tokens", method: .get)
            #expect(!String(buffer: listed.body).contains("estk_"), "no token text in the list")
            let tokens = try APITests.decode(APITokenListView.self, listed).tokens
            #expect(tokens.first { $0.id == view.id }?.state == "active")

            let revoked = try await admin.execute(uri: "/v1/tokens/\(view.id)/revoke", method: .post)
            #expect(revoked.status == .ok)
            #expect(try APITests.decode(APITokenView.self, revoked).state == "revoked")
            #expect(try await tenant.execute(uri: "/v1/jobs", method: .get).status == .unauthorized)
            #expect(try await admin.execute(uri: "/v1/tokens/\(view.id)/revoke", method: .post).status == .ok, "again: harmless")
            #expect(try await admin.execute(uri: "/v1/tokens/nosuchtoken1/revoke", method: .post).status == .notFound)

            let actions = try await Self.auditRows(backend).map(\.action)
            #expect(actions.filter { $0 == "token.create" }.count == 2)
            #expect(actions.filter { $0 == "token.revoke" }.count == 3, "two revocations and the failed one")
        }
    }

    @Test("a revocation made behind the API's back is honoured within the cache's lifetime")
    func revocationOutsideTheAPI() async throws {
        try await Self.withAPI { admin, backend in
            let tenant = try await Self.token(backend, .tenant, "t")
            let client = admin.with(tenant.text)
            #expect(try await client.execute(uri: "/v1/jobs", method: .get).status == .ok)
            let id = tenant.record.id
            _ = try await backend.trust.store.write { tx in try tx.revokeAPIToken(id: id, atMs: 1) }
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await client.execute(uri: "/v1/jobs", method: .get).status == .unauthorized)
        }
    }

    @Test("the last usable admin token cannot be revoked")
    func lastAdmin() async throws {
        try await Self.withAPI { admin, backend in
            let tokens = try APITests.decode(APITokenListView.self, try await admin.execute(uri: "/v1/tokens", method: .get)).tokens
            let only = try #require(tokens.first { $0.role == "admin" })
            let refused = try await admin.execute(uri: "/v1/tokens/\(only.id)/revoke", method: .post)
            #expect(refused.status == .conflict)
            let second = try await Self.token(backend, .admin, name: "second")
            #expect(try await admin.execute(uri: "/v1/tokens/\(only.id)/revoke", method: .post).status == .ok)
            #expect(try await admin.with(second.text).execute(uri: "/v1/tokens", method: .get).status == .ok)
        }
    }

    @Test("a bad token request names every field at fault")
    func tokenValidation() async throws {
        try await Self.withAPI { admin, _ in
            let cases: [([String: String], [String])] = [
                (["role": "root", "name": ""], ["role", "name"]),
                (["role": "admin", "subject": "t", "name": "x"], ["subject"]),
                (["role": "tenant", "name": "x"], ["subject"]),
                (["role": "site-operator", "subject": "a b", "name": "x"], ["subject"]),
                (["role": "admin", "name": "x", "ttl": "forever"], ["ttl"]),
                (["role": "admin", "name": "x", "ttl": "0s"], ["ttl"]),
                (["role": "admin", "name": "tab\there"], ["name"]),
            ]
            for (body, fields) in cases {
                let response = try await admin.execute(uri: "/v1/tokens", method: .post, body: APITests.json(body))
                #expect(response.status == .badRequest, "\(body)")
                #expect(try APITests.decode(APIErrorBody.self, response).error.fields?.map(\.field) == fields, "\(body)")
            }
        }
    }

    @Test("over the rate limit a client gets 429 with Retry-After; other clients and probes are unaffected")
    func rateLimit() async throws {
        let configuration = APIConfiguration(port: 0, rateLimit: RateLimit(requestsPerSecond: 0.1, burst: 3))
        try await Self.withAPI(configuration: configuration) { admin, backend in
            for _ in 0..<3 { #expect(try await admin.execute(uri: "/v1/jobs", method: .get).status == .ok) }
            let limited = try await admin.execute(uri: "/v1/jobs", method: .get)
            #expect(limited.status == .tooManyRequests)
            #expect(try Self.code(limited) == "rate_limited")
            #expect(limited.headers[.retryAfter] == "10")

            let other = try await Self.token(backend, .tenant, "t")
            #expect(try await admin.with(other.text).execute(uri: "/v1/jobs", method: .get).status == .ok)
            #expect(try await admin.execute(uri: "/healthz", method: .get).status == .ok)

            // Failed authentication counts against the address: the fourth bad attempt is 429.
            let statuses = try await (0..<4).asyncMap { _ in
                try await admin.with("estk_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").execute(uri: "/v1/jobs", method: .get).status
            }
            #expect(statuses == [.unauthorized, .unauthorized, .unauthorized, .tooManyRequests])
            #expect(try await Self.auditRows(backend, action: "auth.denied").count == 3, "429s are not audited")
        }
    }

    @Test("the audit log pages newest last, filters by actor and action, and is admin-only")
    func auditRoute() async throws {
        try await Self.withAPI { admin, backend in
            for index in 0..<3 {
                try await admin.execute(uri: "/v1/tokens", method: .post, body: APITests.json(["role": "admin", "name": "n\(index)"]))
            }
            try await admin.execute(uri: "/v1/jobs", method: .post, body: APITests.json(Self.spec(tenant: "t")))
            let tail = try APITests.decode(AuditListView.self, try await admin.execute(uri: "/v1/audit?limit=2", method: .get))
            #expect(tail.entries.map(\.action) == ["token.create", "job.submit"])
            #expect(tail.entries[0].seq < tail.entries[1].seq)
            #expect(tail.nextSinceSeq == tail.entries[1].seq)

            let creates = try APITests.decode(
                AuditListView.self, try await admin.execute(uri: "/v1/audit?since_seq=0&action=token.create&limit=2", method: .get))
            #expect(creates.entries.count == 2 && creates.more)
            let rest = try APITests.decode(
                AuditListView.self,
                try await admin.execute(uri: "/v1/audit?since_seq=\(creates.nextSinceSeq)&action=token.create", method: .get))
            #expect(rest.entries.count == 2 && !rest.more, "the other two")
            #expect(rest.entries.allSatisfy { $0.action == "token.create" })

            let bad = try await admin.execute(uri: "/v1/audit?since_seq=-1&limit=5000", method: .get)
            #expect(try APITests.decode(APIErrorBody.self, bad).error.fields?.map(\.field) == ["since_seq", "limit"])
        }
    }

    @Test("a body nested deeper than the limit is a 400 before decoding")
    func deepJSON() async throws {
        try await Self.withAPI { admin, _ in
            let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            let response = try await admin.execute(uri: "/v1/jobs", method: .post, body: ByteBuffer(string: deep))
            #expect(response.status == .badRequest)
            #expect(try APITests.decode(APIErrorBody.self, response).error.fields?.first?.message.contains("nests deeper") == true)
        }
        #expect(!JSONDepth.exceeds(2, Array(#"{"a": "[[[[[[", "b": [1]}"#.utf8)))
        #expect(JSONDepth.exceeds(2, Array(#"{"a": [[1]]}"#.utf8)))
    }

    @Test("token buckets refill at the configured rate and say when to retry")
    func tokenBucket() {
        let limit = RateLimit(requestsPerSecond: 2, burst: 2)
        var bucket = TokenBucket(limit: limit, nowNs: 0)
        #expect(bucket.take(limit: limit, nowNs: 0) == .allowed)
        #expect(bucket.take(limit: limit, nowNs: 0) == .allowed)
        #expect(bucket.take(limit: limit, nowNs: 0) == .limited(retryAfterSeconds: 1))
        #expect(bucket.take(limit: limit, nowNs: 500_000_000) == .allowed)
        #expect(bucket.isFull(limit: limit, nowNs: 2_000_000_000))
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
