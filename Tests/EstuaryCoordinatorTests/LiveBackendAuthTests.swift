import EstuaryModel
import EstuaryStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import EstuaryCoordinator

/// Roles over the real backend: the coordinator core, the SQLite store's job and usage
/// queries, and the trust service on the same store.
@Suite("API roles over the live backend")
struct LiveBackendAuthTests {
    static func withLiveAPI(
        _ test: @escaping @Sendable (AuthorizedClient, LiveBackend, CoreTests.Fixture) async throws -> Void
    ) async throws {
        let fixture = try await CoreTests.Fixture()
        let logs = try LogStore(dataDirectory: fixture.directory, maxBytesPerStream: 1 << 20)
        let trust = TrustService(store: fixture.store, issuer: nil, clock: { 1_000 }, logger: Logger(label: "live-auth"))
        let backend = LiveBackend(core: fixture.core, store: fixture.store, logs: logs, meshBound: AtomicBox(true), trust: trust)
        let admin = try await trust.createAPIToken(NewAPIToken(role: .admin, subject: nil, name: "a", ttlSeconds: nil), by: .coordinator)
        let app = makeAPIApplication(backend: backend, configuration: APIConfiguration(port: 0), logger: Logger(label: "live-auth"))
        try await app.test(.router) { client in try await test(AuthorizedClient(client, token: admin.text), backend, fixture) }
    }

    static func token(_ backend: LiveBackend, _ role: APIRole, _ subject: String) async throws -> String {
        try await backend.trust.createAPIToken(NewAPIToken(role: role, subject: subject, name: "t", ttlSeconds: nil), by: .coordinator).text
    }

    @Test("tenants see, cancel and meter only their own jobs in the store; site operators only their site's")
    func isolation() async throws {
        try await Self.withLiveAPI { admin, backend, fixture in
            let tenantA = admin.with(try await Self.token(backend, .tenant, "tenant-a"))
            let tenantB = admin.with(try await Self.token(backend, .tenant, "tenant-b"))
            let created = try await tenantA.execute(uri: "/v1/jobs", method: .post, body: APITests.specJSON(replacing: ["tenant"], with: nil))
            #expect(created.status == .created)
            let job = try APITests.decode(SubmitView.self, created).job
            #expect(job.spec.tenant == "tenant-a")

            _ = try await fixture.connect("gz", pool: "ascend-910b", count: 16)
            await fixture.core.placeQueued()
            #expect(try await fixture.state(job.id) == .placed)
            _ = try await fixture.store.write { tx in
                try tx.insertUsage(
                    UsageRecord(id: "u-1", jobID: job.id, siteID: "gz", acceleratorClass: "cpu-x86-64", units: 1, startedAtMs: 0, endedAtMs: 10),
                    recordedAtMs: 1)
            }

            #expect(try await tenantB.execute(uri: "/v1/jobs/\(job.id)", method: .get).status == .forbidden)
            #expect(try await tenantB.execute(uri: "/v1/jobs/\(job.id)/logs", method: .get).status == .forbidden)
            #expect(try await tenantB.execute(uri: "/v1/jobs/\(job.id)/cancel", method: .post).status == .forbidden)
            #expect(try await tenantB.execute(uri: "/v1/usage?job=\(job.id)", method: .get).status == .forbidden)
            let listB = try APITests.decode(JobListView.self, try await tenantB.execute(uri: "/v1/jobs", method: .get))
            #expect(listB.jobs.isEmpty)
            let usageB = try APITests.decode(UsageView.self, try await tenantB.execute(uri: "/v1/usage", method: .get))
            #expect(usageB.records.isEmpty)
            let usageA = try APITests.decode(UsageView.self, try await tenantA.execute(uri: "/v1/usage", method: .get))
            #expect(usageA.records.map(\.id) == ["u-1"])

            let gz = admin.with(try await Self.token(backend, .siteOperator, "gz"))
            let sz = admin.with(try await Self.token(backend, .siteOperator, "sz"))
            let atGZ = try APITests.decode(JobListView.self, try await gz.execute(uri: "/v1/jobs", method: .get))
            #expect(atGZ.jobs.map(\.id) == [job.id])
            #expect(try await gz.execute(uri: "/v1/jobs/\(job.id)", method: .get).status == .ok)
            #expect(try await sz.execute(uri: "/v1/jobs/\(job.id)", method: .get).status == .forbidden)
            let sitesSZ = try APITests.decode(SiteListView.self, try await sz.execute(uri: "/v1/sites", method: .get))
            #expect(sitesSZ.sites.isEmpty)
            let usageSZ = try APITests.decode(UsageView.self, try await sz.execute(uri: "/v1/usage", method: .get))
            #expect(usageSZ.records.isEmpty)

            let cancelled = try await tenantA.execute(uri: "/v1/jobs/\(job.id)/cancel", method: .post)
            #expect(cancelled.status == .ok)
            let audit = try await backend.trust.auditLog(sinceSeq: 0, actor: nil, action: nil, limit: 100)
            #expect(audit.filter { $0.action == "auth.denied" }.count == 5)
            #expect(audit.filter { $0.action == "job.submit" || $0.action == "job.cancel" }.map(\.outcome) == ["ok", "ok"])
        }
    }
}
