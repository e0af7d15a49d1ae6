import EstuaryModel
import Foundation
import GRDB
import Logging
import Testing

@testable import EstuaryStore

@Suite("Coordinator store: trust tables")
struct TrustStoreTests {
    final class Fixture: Sendable {
        let directory: String
        let store: CoordinatorStore

        init() throws {
            directory = CoordinatorStoreTests.temporaryDirectory()
            store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func audit(_ action: String, actor: String = "tok1", at: Int64 = 1) -> AuditRecord {
        AuditRecord(atMs: at, actor: actor, role: "admin", action: action, target: "-", source: "127.0.0.1:1", outcome: "ok", detail: "")
    }

    static func joinToken(_ id: String, site: SiteID = "gz", expires: Int64 = 10_000) -> JoinTokenRecord {
        JoinTokenRecord(id: id, secretHash: "h", siteID: site, org: "org", createdBy: "admin", createdAtMs: 1, expiresAtMs: expires)
    }

    @Test("the audit log refuses UPDATE and DELETE, and keeps what was appended")
    func auditLogIsAppendOnly() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        let seq = try await store.write { tx in try tx.appendAudit(Self.audit("token.create")) }
        #expect(seq == 1)

        await #expect(throws: (any Error).self) {
            try await store.write { tx in try tx.db.execute(sql: "UPDATE audit_log SET outcome = 'denied'") }
        }
        await #expect(throws: (any Error).self) {
            try await store.write { tx in try tx.db.execute(sql: "DELETE FROM audit_log WHERE seq = 1") }
        }
        do {
            try await store.write { tx in try tx.db.execute(sql: "DELETE FROM audit_log") }
            Issue.record("DELETE succeeded")
        } catch {
            #expect("\(error)".contains("append-only"))
        }
        let rows = try await store.read { tx in try tx.auditRecords(afterSeq: nil, actor: nil, action: nil, limit: 10) }
        #expect(rows.map(\.outcome) == ["ok"])
        #expect(rows.first?.action == "token.create")
    }

    @Test("of many enrollments racing with one join token, exactly one consumes it")
    func consumeJoinTokenRace() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        try await store.write { tx in try tx.insertJoinToken(Self.joinToken("j1")) }
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for attempt in 0..<32 {
                group.addTask {
                    try await store.write { tx in try tx.consumeJoinToken(id: "j1", atMs: 5, from: "10.0.0.\(attempt):1") }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        let token = try await store.read { tx in try tx.joinToken(id: "j1") }
        #expect(token?.usedAtMs == 5)
        #expect(token?.usedFrom?.hasPrefix("10.0.0.") == true)
        #expect(try await store.write { tx in try tx.consumeJoinToken(id: "j1", atMs: 6, from: "x") } == false)
        #expect(try await store.write { tx in try tx.consumeJoinToken(id: "nope", atMs: 6, from: "x") } == false)
    }

    @Test("API tokens: stored, listed, revoked once (the first revocation time stays)")
    func apiTokens() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        let token = APITokenRecord(
            id: "abc", secretHash: "h", role: "tenant", subject: "t1", name: "ci", createdBy: "bootstrap", createdAtMs: 1,
            expiresAtMs: 100)
        try await store.write { tx in try tx.insertAPIToken(token) }
        #expect(try await store.read { tx in try tx.apiToken(id: "abc") } == token)
        #expect(try await store.read { tx in try tx.apiTokenCount() } == 1)
        #expect(try await store.write { tx in try tx.revokeAPIToken(id: "abc", atMs: 50) })
        #expect(try await store.write { tx in try tx.revokeAPIToken(id: "abc", atMs: 60) } == false)
        let stored = try #require(try await store.read { tx in try tx.apiToken(id: "abc") })
        #expect(stored.revokedAtMs == 50)
        #expect(stored.isExpired(atMs: 100))
        #expect(!stored.isExpired(atMs: 99))
    }

    @Test("revoking a site's certificates takes the unexpired, unrevoked ones and names them")
    func certificateRevocation() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        let certificates = [
            CertificateRecord(serial: "01", role: "site", subject: "gz", notBeforeMs: 0, notAfterMs: 500, issuedAtMs: 0),
            CertificateRecord(serial: "02", role: "site", subject: "gz", notBeforeMs: 0, notAfterMs: 5000, issuedAtMs: 0),
            CertificateRecord(serial: "03", role: "site", subject: "sz", notBeforeMs: 0, notAfterMs: 5000, issuedAtMs: 0),
            CertificateRecord(serial: "04", role: "site", subject: "gz", notBeforeMs: 0, notAfterMs: 5000, issuedAtMs: 0, revokedAtMs: 7),
        ]
        try await store.write { tx in for certificate in certificates { try tx.insertCertificate(certificate) } }
        let revoked = try await store.write { tx in try tx.revokeCertificates(role: "site", subject: "gz", atMs: 1000) }
        #expect(revoked == ["02"])
        #expect(try await store.read { tx in try tx.certificate(serial: "01")?.revokedAtMs } == nil)
        #expect(try await store.read { tx in try tx.certificate(serial: "04")?.revokedAtMs } == 7)
        let stillRefused = try await store.read { tx in try tx.revokedCertificates(unexpiredAtMs: 1000) }
        #expect(stillRefused.map(\.serial) == ["02", "04"])
        #expect(try await store.read { tx in try tx.certificates(role: "site", subject: "gz") }.count == 3)
    }

    @Test("enrollments: put, revoke once; unused join tokens of a revoked site end")
    func enrollments() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        try await store.write { tx in
            try tx.putSiteEnrollment(SiteEnrollmentRecord(siteID: "gz", org: "lab", addedAtMs: 1))
            try tx.insertJoinToken(Self.joinToken("a"))
            try tx.insertJoinToken(Self.joinToken("b"))
            try tx.insertJoinToken(Self.joinToken("c", site: "sz"))
            _ = try tx.consumeJoinToken(id: "b", atMs: 2, from: "x")
        }
        #expect(try await store.write { tx in try tx.revokeSiteEnrollment("gz", atMs: 10) })
        #expect(try await store.write { tx in try tx.revokeSiteEnrollment("gz", atMs: 11) } == false)
        #expect(try await store.write { tx in try tx.expireUnusedJoinTokens(site: "gz", atMs: 10) } == 1)
        #expect(try await store.read { tx in try tx.joinToken(id: "a")?.expiresAtMs } == 10)
        #expect(try await store.read { tx in try tx.joinToken(id: "b")?.expiresAtMs } == 10_000)
        #expect(try await store.read { tx in try tx.joinToken(id: "c")?.expiresAtMs } == 10_000)
        #expect(try await store.read { tx in try tx.siteEnrollment("gz")?.revokedAtMs } == 10)
    }

    @Test("audit pages: the newest N without since_seq, forward from since_seq, filtered by actor and action")
    func auditPaging() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        try await store.write { tx in
            for index in 1...10 {
                try tx.appendAudit(Self.audit(index % 2 == 0 ? "job.submit" : "auth.denied", actor: index <= 5 ? "a" : "b", at: Int64(index)))
            }
        }
        let tail = try await store.read { tx in try tx.auditRecords(afterSeq: nil, actor: nil, action: nil, limit: 3) }
        #expect(tail.map(\.seq) == [8, 9, 10])
        let forward = try await store.read { tx in try tx.auditRecords(afterSeq: 2, actor: nil, action: nil, limit: 3) }
        #expect(forward.map(\.seq) == [3, 4, 5])
        let mine = try await store.read { tx in try tx.auditRecords(afterSeq: 0, actor: "a", action: "job.submit", limit: 10) }
        #expect(mine.map(\.seq) == [2, 4])
    }

    @Test("usage filters by site and by the tenant of the job")
    func usageFilters() async throws {
        let fixture = try Fixture()
        let store = fixture.store
        var other = CoordinatorStoreTests.job("j2")
        other.spec.tenant = "other"
        let jobs = [CoordinatorStoreTests.job("j1"), other]
        try await store.write { tx in
            for job in jobs { try tx.insertJob(job) }
            try tx.insertUsage(UsageRecord(id: "u1", jobID: "j1", siteID: "gz", acceleratorClass: "cpu-x86-64", units: 1, startedAtMs: 0, endedAtMs: 10), recordedAtMs: 1)
            try tx.insertUsage(UsageRecord(id: "u2", jobID: "j2", siteID: "sz", acceleratorClass: "cpu-x86-64", units: 1, startedAtMs: 0, endedAtMs: 10), recordedAtMs: 1)
        }
        #expect(try await store.read { tx in try tx.usage(job: nil, site: nil, tenant: "t") }.map(\.id) == ["u1"])
        #expect(try await store.read { tx in try tx.usage(job: nil, site: "sz", tenant: nil) }.map(\.id) == ["u2"])
        #expect(try await store.read { tx in try tx.usage(job: "j2", site: nil, tenant: "t") }.isEmpty)
        #expect(try await store.read { tx in try tx.usage(job: nil) }.count == 2)
    }

    @Test("a v1 store migrates to the current schema with its jobs intact")
    func migratesFromV1() async throws {
        let directory = CoordinatorStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("estuary.sqlite")
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrator().migrate(pool, upTo: "v1: sites, jobs, events, usage, cursors")
            // A job row as v1 wrote it: the columns of v1 only.
            let spec = String(decoding: try JSONEncoder().encode(CoordinatorStoreTests.job("j-old").spec), as: UTF8.self)
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO jobs (id, tenant, spec, state, site_id, attempt, cancel_requested, created_at_ms, updated_at_ms)
                        VALUES ('j-old', 't', ?, 'running', 'gz', 1, 0, 1, 2)
                        """, arguments: [spec])
            }
            #expect(try await pool.read { db in try db.tableExists("audit_log") } == false)
        }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        let migrated = try await store.read { tx in try tx.job("j-old") }
        #expect(migrated?.id == "j-old")
        #expect(migrated?.state == .running)
        #expect(migrated?.placedClass == nil, "v3 adds placed_class, empty for old rows")
        #expect(migrated?.excludedSites == [])
        #expect(try await store.read { tx in try tx.apiTokenCount() } == 0)
    }
}
