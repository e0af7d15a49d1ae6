import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

@testable import EstuaryTransport

/// A key and the certificate our test CA issued for it.
struct Credential {
    let certificatePEM: String
    let keyPEM: String
}

/// A mesh CA with helpers to issue credentials for tests.
struct TestPKI {
    let ca: CertificateAuthority
    static let coordinator = PeerIdentity(role: .coordinator, id: "main")!
    static let site = PeerIdentity(role: .site, id: "pengcheng-1")!

    init(now: Date = Date()) throws {
        ca = try CertificateAuthority.create(name: "Estuary test CA", now: now)
    }

    func issue(
        _ identity: PeerIdentity, now: Date = Date(), validFor: Duration = .seconds(3600),
        dnsNames: [String] = ["localhost"], ipAddresses: [String] = ["127.0.0.1"]
    ) throws -> Credential {
        let key = CredentialKey.generate()
        let issued = try ca.issue(
            csrPEM: try key.makeCSRPEM(commonName: identity.id), identity: identity, validFor: validFor, now: now,
            dnsNames: dnsNames, ipAddresses: ipAddresses)
        return Credential(certificatePEM: issued.certificatePEM, keyPEM: key.pem)
    }

    func serverTLS(
        _ credential: Credential? = nil, refuse: @escaping @Sendable (PeerCertificate) -> String? = { _ in nil }
    ) throws -> MeshServerTLS {
        let credential = try credential ?? issue(Self.coordinator)
        return MeshServerTLS(
            certificateChainPEM: credential.certificatePEM, privateKeyPEM: credential.keyPEM, trustedCAPEM: ca.certificatePEM,
            refuse: refuse)
    }

    func clientTLS(_ credential: Credential?, role: PeerRole = .coordinator, serverName: String? = nil) -> MeshClientTLS {
        MeshClientTLS(
            trustedCAPEM: ca.certificatePEM, certificateChainPEM: credential?.certificatePEM,
            privateKeyPEM: credential?.keyPEM, requiredServerRole: role, serverName: serverName)
    }
}

/// Echoes session envelopes, answers unary requests with their body reversed, and records
/// whom it saw.
actor RecordingHandler: MeshSessionHandler {
    private(set) var admitted: [PeerCertificate?] = []
    private(set) var validatedLeaves: [[UInt8]] = []

    nonisolated func admit(_ request: SessionRequest) async -> SessionRefusal? {
        await record(request.peer)
        return nil
    }

    nonisolated func run(_ session: MeshServerSession) async {
        // NIOSSL keeps the chain our verification callback returned.
        if let chain = try? await session.connection.nioSSL_peerValidatedCertificateChain().get(),
            let leaf = try? chain.leaf.toDERBytes()
        {
            await record(leaf: leaf)
        }
        var reader = session.reader
        do {
            while let envelope = try await reader.next() {
                try await session.writer.send(envelope)
            }
        } catch {}
        await session.writer.finish()
    }

    nonisolated func unary(_ request: SessionRequest, body: [UInt8]) async -> UnaryResponse {
        guard request.headers[":path"] == "/estuary/v1/echo" else {
            return UnaryResponse(status: 404, headers: [WireProtocol.errorHeader: "no such path"])
        }
        return UnaryResponse(
            status: 200,
            headers: ["x-peer": request.peer?.identity.description ?? "none", "content-type": "application/octet-stream"],
            body: body.reversed())
    }

    private func record(_ peer: PeerCertificate?) { admitted.append(peer) }
    private func record(leaf: [UInt8]) { validatedLeaves.append(leaf) }
}

/// Keeps log records so that tests can check what the server logged.
final class LogCapture: Sendable {
    let records = NIOLockedValueBox<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        var logger = Logger(label: "test.mesh") { _ in CaptureHandler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    /// Waits until a record mentions `text`: the server logs on its event loop, possibly just
    /// after the client has seen the outcome.
    func eventuallyContains(_ text: String, within limit: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return contains(text)
    }

    func contains(_ text: String) -> Bool {
        records.withLockedValue { records in
            records.contains { record in
                record.message.contains(text) || record.metadata.values.contains { "\($0)".contains(text) }
            }
        }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.records.withLockedValue {
                $0.append((event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 }))
            }
        }
    }
}

/// Runs a mesh server on a free loopback port for the duration of `body`.
func withMeshServer<Result: Sendable>(
    tls: MeshServerTLS?, handler: RecordingHandler = RecordingHandler(), logger: Logger = Logger(label: "test.mesh"),
    configure: (inout MeshServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (Int) async throws -> Result
) async throws -> Result {
    var configuration = MeshServerConfiguration()
    configuration.port = 0
    configuration.tls = tls
    configure(&configuration)
    let server = try await MeshServer.bind(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run(handler: handler) }
        defer { group.cancelAll() }
        return try await body(server.localPort)
    }
}

func clientConfiguration(port: Int, tls: MeshClientTLS?, host: String = "127.0.0.1") -> MeshClientConfiguration {
    var configuration = MeshClientConfiguration(host: host, port: port)
    configuration.tls = tls
    configuration.connectTimeout = .seconds(5)
    configuration.requestTimeout = .seconds(10)
    return configuration
}

let sessionHeaders = [("estuary-site", "pengcheng-1"), ("estuary-protocol", "1")]

/// Opens a session, sends one envelope and returns the echo and the server's identity.
func echoSession(_ configuration: MeshClientConfiguration) async throws -> (PeerCertificate?, Estuary_V1_Envelope?) {
    try await MeshClient.withSession(configuration: configuration, headers: sessionHeaders) { session in
        var hello = Estuary_V1_Hello()
        hello.agentVersion = "echo-test"
        try await session.writer.send(Estuary_V1_Envelope(body: .hello(hello)))
        var reader = session.reader
        return (session.server, try await reader.next())
    }
}

/// A fresh temporary directory, removed at deinit.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "estuary-transport-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ contents: String) throws -> String {
        let file = path + "/" + name
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}
