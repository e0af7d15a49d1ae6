import EstuaryModel
import EstuaryTrust
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOSSL
import Testing

@testable import EstuaryCoordinator

/// The API listener under TLS: HTTP/1.1 and h2 (by ALPN) on one port, the protocol still told
/// apart by the decrypted first bytes.
@Suite("API over TLS")
struct APITLSTests {
    /// A CA, a server certificate for 127.0.0.1 signed by it, and the CA's PEM in a file.
    static func credentials(directory: String) throws -> (TLSConfiguration, caFile: String) {
        let authority = try CertificateAuthority.create(name: "Estuary API test CA")
        let key = CredentialKey.generate()
        let identity = try #require(PeerIdentity(role: .coordinator, id: "api-test"))
        let issued = try authority.issue(
            csrPEM: try key.makeCSRPEM(commonName: "api-test"), identity: identity, validFor: .seconds(3600),
            ipAddresses: ["127.0.0.1"])
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let privateKey = try NIOSSLPrivateKey(bytes: Array(key.pem.utf8), format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
        let caFile = (directory as NSString).appendingPathComponent("ca.pem")
        try authority.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        return (configuration, caFile)
    }

    @Test("HTTP/1.1 and h2 by ALPN are served under TLS on one port; cleartext is refused")
    func httpsBothProtocols() async throws {
        guard let curl = APIProtocolSniffingTests.executable("curl") else {
            print("skipping: curl is not installed")
            return
        }
        let backend = APITestBackend()
        let (tls, caFile) = try Self.credentials(directory: backend.directory)
        let configuration = APIConfiguration(port: 0, tls: tls)
        #expect(configuration.validate().isEmpty)
        let token = try await APIAuthTests.token(backend, .admin).text
        let app = makeAPIApplication(backend: backend, configuration: configuration, logger: Logger(label: "api-tls-test"))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let url = "https://127.0.0.1:\(port)"
            for version in ["--http1.1", "--http2"] {
                let result = try await APIProtocolSniffingTests.run(
                    curl, ["-sS", "-i", version, "--cacert", caFile, "-H", "Authorization: Bearer \(token)", "\(url)/v1/jobs"])
                #expect(result.status == 0, "curl \(version) failed: \(result.output)")
                let statusLine = version == "--http2" ? "HTTP/2 200" : "HTTP/1.1 200"
                #expect(result.output.hasPrefix(statusLine), "\(result.output)")
                #expect(result.output.contains(#"{"jobs":[]}"#))
            }
            let unauthenticated = try await APIProtocolSniffingTests.run(curl, ["-sS", "--http2", "--cacert", caFile, "\(url)/v1/jobs"])
            #expect(unauthenticated.output.contains("unauthenticated"))

            let cleartext = try await APIProtocolSniffingTests.run(curl, ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/healthz"])
            #expect(!cleartext.output.contains(#""status":"ok""#), "cleartext must not be served: \(cleartext.output)")
        }
    }

    @Test("a TLS configuration that cannot be loaded is reported by validate()")
    func unusableTLS() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var tls = try Self.credentials(directory: directory).0
        // Another key than the certificate's: the context cannot be built.
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(CredentialKey.generate().pem.utf8), format: .pem))
        let problems = APIConfiguration(tls: tls).validate()
        #expect(problems.count == 1)
        #expect(problems.first?.contains("TLS") == true)
    }
}
