import EstuaryTrust
import EstuaryWire
import Foundation
import Testing

@testable import EstuaryTransport

@Suite("Mesh TLS")
struct MeshTLSTests {
    @Test("over mutual TLS the server sees the client's identity and the client sees the server's")
    func mutualTLSSession() async throws {
        let pki = try TestPKI()
        let site = try pki.issue(TestPKI.site)
        let handler = RecordingHandler()
        let (server, echo) = try await withMeshServer(tls: try pki.serverTLS(), handler: handler) { port in
            try await echoSession(clientConfiguration(port: port, tls: pki.clientTLS(site)))
        }
        #expect(server?.identity == TestPKI.coordinator)
        #expect(echo?.hello.agentVersion == "echo-test")
        let admitted = await handler.admitted
        #expect(admitted.count == 1)
        #expect(admitted.first??.identity == TestPKI.site)
        // NIOSSL hands out the chain our callback validated, leaf first.
        #expect(await handler.validatedLeaves == [try PeerCertificate(pem: site.certificatePEM).der])
    }

    @Test("the server name can be a DNS name instead of the dialed address")
    func serverNameOverride() async throws {
        let pki = try TestPKI()
        let site = try pki.issue(TestPKI.site)
        let server = try pki.issue(TestPKI.coordinator, dnsNames: ["coordinator.mesh.test"], ipAddresses: [])
        let (identity, _) = try await withMeshServer(tls: try pki.serverTLS(server)) { port in
            try await echoSession(
                clientConfiguration(port: port, tls: pki.clientTLS(site, serverName: "coordinator.mesh.test")))
        }
        #expect(identity?.identity == TestPKI.coordinator)
        // Dialing the address the certificate does not name fails.
        await #expect {
            try await withMeshServer(tls: try pki.serverTLS(server)) { port in
                try await echoSession(clientConfiguration(port: port, tls: pki.clientTLS(site)))
            }
        } throws: { error in
            guard case TransportError.tlsFailed(let reason) = error else { return false }
            return reason.contains("not valid for 127.0.0.1")
        }
    }

    @Test("a client certificate from another CA is refused")
    func otherCAIsRefused() async throws {
        let pki = try TestPKI()
        let stranger = try TestPKI().issue(TestPKI.site)
        try await expectRefusedClient(pki: pki, credential: stranger, logged: "not issued by the trusted CA")
    }

    @Test("an expired client certificate is refused")
    func expiredClientIsRefused() async throws {
        let pki = try TestPKI(now: Date() - 30 * 86400)
        let expired = try pki.issue(TestPKI.site, now: Date() - 2 * 86400, validFor: .seconds(3600))
        try await expectRefusedClient(pki: pki, credential: expired, logged: "expired")
    }

    @Test("a client the refuse closure turns away fails the handshake")
    func refuseClosureFailsTheHandshake() async throws {
        let pki = try TestPKI()
        let revoked = try pki.issue(TestPKI.site)
        let serial = try PeerCertificate(pem: revoked.certificatePEM).serial
        let tls = try pki.serverTLS { peer in peer.serial == serial ? "certificate \(peer.serial) is revoked" : nil }
        try await expectRefusedClient(pki: pki, server: tls, credential: revoked, logged: "certificate \(serial) is revoked")
        // Another certificate for the same site still gets in.
        let fresh = try pki.issue(TestPKI.site)
        let (identity, _) = try await withMeshServer(tls: tls) { port in
            try await echoSession(clientConfiguration(port: port, tls: pki.clientTLS(fresh)))
        }
        #expect(identity?.identity == TestPKI.coordinator)
    }

    @Test("a client without a certificate is refused")
    func clientWithoutCertificateIsRefused() async throws {
        let pki = try TestPKI()
        try await expectRefusedClient(pki: pki, credential: nil, logged: "peer did not return a certificate")
    }

    @Test("a client requiring the coordinator role refuses a server presenting a site certificate")
    func siteCannotPoseAsCoordinator() async throws {
        let pki = try TestPKI()
        let impostor = try pki.issue(TestPKI.site)
        let site = try pki.issue(PeerIdentity(role: .site, id: "other")!)
        let handler = RecordingHandler()
        await #expect {
            try await withMeshServer(tls: try pki.serverTLS(impostor), handler: handler) { port in
                try await echoSession(clientConfiguration(port: port, tls: pki.clientTLS(site)))
            }
        } throws: { error in
            guard case TransportError.tlsFailed(let reason) = error else { return false }
            return reason.contains("names site:pengcheng-1, not a coordinator")
        }
        #expect(await handler.admitted.isEmpty)
    }

    @Test("a client trusting another CA refuses the server")
    func clientRefusesUnknownServer() async throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        await #expect {
            try await withMeshServer(tls: try pki.serverTLS()) { port in
                try await echoSession(clientConfiguration(port: port, tls: other.clientTLS(try other.issue(TestPKI.site))))
            }
        } throws: { error in
            guard case TransportError.tlsFailed(let reason) = error else { return false }
            return reason.contains("not issued by the trusted CA")
        }
    }

    @Test("a cleartext client cannot talk to a TLS server")
    func cleartextClientIsRefused() async throws {
        let pki = try TestPKI()
        let handler = RecordingHandler()
        await #expect(throws: (any Error).self) {
            try await withMeshServer(tls: try pki.serverTLS(), handler: handler) { port in
                try await echoSession(clientConfiguration(port: port, tls: nil))
            }
        }
        #expect(await handler.admitted.isEmpty)
    }

    /// Connects with `credential` and expects the handshake to fail, no session to start, and
    /// the server to log `logged` at debug.
    private func expectRefusedClient(
        pki: TestPKI, server: MeshServerTLS? = nil, credential: Credential?, logged: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let handler = RecordingHandler()
        let logs = LogCapture()
        let tls = try server ?? pki.serverTLS()
        await #expect(sourceLocation: sourceLocation) {
            try await withMeshServer(tls: tls, handler: handler, logger: logs.logger) { port in
                try await echoSession(clientConfiguration(port: port, tls: pki.clientTLS(credential)))
            }
        } throws: { error in
            guard case TransportError.tlsFailed = error else {
                Issue.record("expected TransportError.tlsFailed, got \(error)", sourceLocation: sourceLocation)
                return false
            }
            return true
        }
        #expect(await handler.admitted.isEmpty, sourceLocation: sourceLocation)
        #expect(await logs.eventuallyContains("TLS handshake failed"), sourceLocation: sourceLocation)
        #expect(await logs.eventuallyContains(logged), "server log lacks \"\(logged)\": \(logs.records.withLockedValue { $0 })", sourceLocation: sourceLocation)
    }
}
