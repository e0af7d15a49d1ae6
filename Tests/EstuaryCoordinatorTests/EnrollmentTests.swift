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

/// `site add`, `POST /v1/enroll` with one-time join tokens and a real CA, and `site revoke`.
@Suite("site enrollment")
struct EnrollmentTests {
    static func backend() throws -> (APITestBackend, CertificateAuthority) {
        let authority = try CertificateAuthority.create(name: "Estuary test CA")
        let backend = APITestBackend(issuer: AuthorityIssuer(authority: authority, validity: .seconds(86_400)))
        return (backend, authority)
    }

    static func addSite(_ admin: AuthorizedClient, _ id: String, org: String = "lab", ttl: String? = nil) async throws -> SiteAddedView {
        var body = ["id": id, "org": org]
        if let ttl { body["ttl"] = ttl }
        let response = try await admin.execute(uri: "/v1/sites", method: .post, body: APITests.json(body))
        #expect(response.status == .created)
        return try APITests.decode(SiteAddedView.self, response)
    }

    static func csr() throws -> String {
        try CredentialKey.generate().makeCSRPEM(commonName: "whatever the agent asks for")
    }

    static func enroll(_ client: AuthorizedClient, token: String, csr: String) async throws -> TestResponse {
        try await client.with(nil).execute(uri: "/v1/enroll", method: .post, body: APITests.json(["token": token, "csr": csr]))
    }

    @Test("a join token enrolls its site once: the certificate names the site, is recorded and audited")
    func enrollOnce() async throws {
        let (backend, authority) = try Self.backend()
        try await APIAuthTests.withAPI(backend: backend) { admin, backend in
            let added = try await Self.addSite(admin, "gz-tianhe")
            #expect(added.joinToken.hasPrefix("estj_"))
            #expect(added.caFingerprint == authority.fingerprint)
            #expect(added.expiresAtMs == backend.clock.now + 3_600_000, "default lifetime 1h")

            let response = try await Self.enroll(admin, token: added.joinToken, csr: try Self.csr())
            #expect(response.status == .created)
            let enrolled = try APITests.decode(EnrollView.self, response)
            #expect(enrolled.site == "gz-tianhe")
            #expect(enrolled.ca == authority.certificatePEM)
            let peer = try PeerCertificate(pem: enrolled.certificate)
            #expect(peer.identity == PeerIdentity.site("gz-tianhe"))
            #expect(peer.serial == enrolled.serial)

            let stored = try await backend.trust.store.read { tx in try tx.certificate(serial: enrolled.serial) }
            #expect(stored?.subject == "gz-tianhe" && stored?.role == "site" && stored?.notAfterMs == enrolled.notAfterMs)

            let again = try await Self.enroll(admin, token: added.joinToken, csr: try Self.csr())
            #expect(again.status == .unauthorized)
            #expect(try APIAuthTests.code(again) == "token_used")

            let rows = try await APIAuthTests.auditRows(backend, action: "site.enroll")
            #expect(rows.map(\.outcome) == ["ok", "denied"])
            #expect(rows.allSatisfy { $0.actor.hasPrefix("join:") && $0.target == "site:gz-tianhe" })
            #expect(try await APIAuthTests.auditRows(backend, action: "site.add").count == 1)
        }
    }

    @Test("expired, forged and malformed join tokens are refused with their own codes, and audited")
    func refusedTokens() async throws {
        let (backend, _) = try Self.backend()
        try await APIAuthTests.withAPI(backend: backend) { admin, backend in
            let short = try await Self.addSite(admin, "sz", ttl: "1m")
            let good = try await Self.addSite(admin, "gz")
            let goodID = try #require(SecretToken.parse(good.joinToken, as: .join)).id
            let cases: [(String, String)] = [
                ("estj_\(goodID)_\(String(repeating: "b", count: 32))", "token_invalid"),
                (SecretToken.generate(.join).text, "token_invalid"),
                ("not a token", "token_invalid"),
                (SecretToken.generate(.api).text, "token_invalid"),
            ]
            for (token, code) in cases {
                let response = try await Self.enroll(admin, token: token, csr: try Self.csr())
                #expect(response.status == .unauthorized, "\(token)")
                #expect(try APIAuthTests.code(response) == code, "\(token)")
            }
            backend.clock.advance(seconds: 61)
            let expired = try await Self.enroll(admin, token: short.joinToken, csr: try Self.csr())
            #expect(try APIAuthTests.code(expired) == "token_expired")

            // A CSR the CA cannot sign is the client's mistake, and does not use the token up.
            let badCSR = try await Self.enroll(admin, token: good.joinToken, csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
            #expect(badCSR.status == .badRequest)
            #expect(try APITests.decode(APIErrorBody.self, badCSR).error.fields?.map(\.field) == ["csr"])
            #expect(try await Self.enroll(admin, token: good.joinToken, csr: try Self.csr()).status == .created)

            let rows = try await APIAuthTests.auditRows(backend, action: "site.enroll")
            #expect(rows.map(\.outcome) == ["denied", "denied", "denied", "denied", "denied", "failed: invalid csr", "ok"])
            #expect(rows[0].actor == "join:\(goodID)" && rows[0].detail.hasPrefix("token_invalid: wrong secret"))
            #expect(rows[2].actor == "anonymous")
        }
    }

    @Test("of concurrent enrollments with one join token, exactly one gets a certificate")
    func enrollmentRace() async throws {
        let (backend, _) = try Self.backend()
        try await APIAuthTests.withAPI(backend: backend) { admin, backend in
            let added = try await Self.addSite(admin, "gz")
            let csrs = try (0..<8).map { _ in try Self.csr() }
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                for csr in csrs {
                    group.addTask {
                        let response = try await Self.enroll(admin, token: added.joinToken, csr: csr)
                        let code = response.status == .created ? "" : try APIAuthTests.code(response)
                        return (response.status, code)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == .created }.count == 1)
            #expect(statuses.filter { $0.0 == .unauthorized && $0.1 == "token_used" }.count == 7)
            let certificates = try await backend.trust.store.read { tx in try tx.certificates(role: "site", subject: "gz") }
            #expect(certificates.count == 1)
        }
    }

    @Test("revoking a site revokes its certificates and unused join tokens, and calls the hook; it can be added again")
    func revokeSite() async throws {
        let (backend, _) = try Self.backend()
        try await APIAuthTests.withAPI(backend: backend) { admin, backend in
            let first = try await Self.addSite(admin, "gz")
            let spare = try await Self.addSite(admin, "gz")
            let enrolled = try APITests.decode(EnrollView.self, try await Self.enroll(admin, token: first.joinToken, csr: try Self.csr()))

            let conflict = try await admin.execute(uri: "/v1/sites", method: .post, body: APITests.json(["id": "gz", "org": "other"]))
            #expect(conflict.status == .conflict)

            let response = try await admin.execute(uri: "/v1/sites/gz/revoke", method: .post)
            #expect(response.status == .ok)
            let revoked = try APITests.decode(SiteRevokedView.self, response)
            #expect(revoked.revokedCertificates == [enrolled.serial])
            #expect(backend.revocations.all.map(\.site) == ["gz"])
            #expect(backend.revocations.all.first?.serials == [enrolled.serial])
            let stored = try await backend.trust.store.read { tx in try tx.certificate(serial: enrolled.serial) }
            #expect(stored?.revokedAtMs != nil)

            let late = try await Self.enroll(admin, token: spare.joinToken, csr: try Self.csr())
            #expect(late.status == .forbidden)
            #expect(try APIAuthTests.code(late) == "site_revoked")

            #expect(try await admin.execute(uri: "/v1/sites/nowhere/revoke", method: .post).status == .notFound)

            backend.clock.advance(seconds: 1)
            let readded = try await Self.addSite(admin, "gz", org: "other")
            #expect(try await Self.enroll(admin, token: readded.joinToken, csr: try Self.csr()).status == .created)
            #expect(try await Self.enroll(admin, token: spare.joinToken, csr: try Self.csr()).status == .forbidden)

            let actions = try await APIAuthTests.auditRows(backend).map(\.action)
            #expect(actions.filter { $0 == "site.revoke" }.count == 2, "the revocation and the 404")
            #expect(actions.filter { $0 == "site.add" }.count == 4, "three added and the conflict")
        }
    }

    @Test("without a CA, enrollment is 503 and site add has no fingerprint")
    func noCA() async throws {
        try await APIAuthTests.withAPI { admin, _ in
            let added = try await Self.addSite(admin, "gz")
            #expect(added.caFingerprint == nil)
            let response = try await Self.enroll(admin, token: added.joinToken, csr: try Self.csr())
            #expect(response.status == .serviceUnavailable)
        }
    }

    @Test("the bootstrap admin token is written once, 0600, and works")
    func bootstrap() async throws {
        let backend = APITestBackend()
        let store = backend.trust.store
        let path = try #require(try await bootstrapAdminToken(store: store, dataDirectory: backend.directory, now: 5))
        #expect(path == backend.directory + "/admin.token")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try #require(SecretToken.parse(text, as: .api))
        let record = try #require(try await backend.trust.apiToken(id: token.id))
        #expect(record.role == "admin" && record.name == "bootstrap" && record.expiresAtMs == nil)
        #expect(token.matches(storedHash: record.secretHash))
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))

        #expect(try await bootstrapAdminToken(store: store, dataDirectory: backend.directory, now: 6) == nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix(text))

        let app = makeAPIApplication(backend: backend, configuration: APIConfiguration(port: 0), logger: Logger(label: "t"))
        try await app.test(.router) { client in
            let response = try await AuthorizedClient(client, token: text).execute(uri: "/v1/tokens", method: .get)
            #expect(response.status == .ok)
        }
    }
}
