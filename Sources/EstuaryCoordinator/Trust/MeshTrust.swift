import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import Foundation
import Logging
import NIOSSL
import Synchronization

/// The coordinator's side of trust (DESIGN.md §8, PROTOCOL.md "Trust"): its CA, its own
/// server certificate for the mesh and API ports, the certificates it issues to sites, and
/// the set of revoked serials that every mesh handshake consults.
///
/// Files under `<data-dir>/tls/`: `ca.pem`, `ca.key` (0600; created on first start or
/// imported), `server.pem` (key and certificate, 0600; issued afresh at every start).
final class MeshTrust: CertificateIssuer {
    let authority: CertificateAuthority
    let serverKeyPEM: String
    let serverCertificate: IssuedCertificate
    /// How long a site certificate is valid; agents renew at two thirds of it.
    let siteCertificateValidity: Duration
    private let revoked: Mutex<Set<String>>

    static let directoryName = "tls"
    static let serverCertificateValidity: Duration = .seconds(90 * 86_400)

    init(
        authority: CertificateAuthority, coordinatorID: String, serverNames: [String], siteCertificateValidity: Duration,
        revokedSerials: Set<String>
    ) throws {
        guard let identity = PeerIdentity(role: .coordinator, id: coordinatorID) else {
            throw ConfigurationError(problems: ["--coordinator-id \(coordinatorID) is not a well-formed identifier"])
        }
        self.authority = authority
        let key = CredentialKey.generate()
        let split = Self.splitNames(serverNames)
        self.serverCertificate = try authority.issue(
            csrPEM: try key.makeCSRPEM(commonName: coordinatorID), identity: identity, validFor: Self.serverCertificateValidity,
            dnsNames: split.dns, ipAddresses: split.ips)
        self.serverKeyPEM = key.pem
        self.siteCertificateValidity = siteCertificateValidity
        self.revoked = Mutex(revokedSerials)
    }

    /// Loads the CA from `<data-dir>/tls`, importing `importing` (certificate and key PEM) or
    /// creating one on first start. Importing over an existing, different CA is refused.
    static func openAuthority(
        dataDirectory: String, importing: (certificatePEM: String, keyPEM: String)?, name: String, logger: Logger
    ) throws -> CertificateAuthority {
        let directory = (dataDirectory as NSString).appendingPathComponent(directoryName)
        let existing = try CertificateAuthority.load(directory: directory)
        if let importing {
            let imported = try CertificateAuthority(certificatePEM: importing.certificatePEM, privateKeyPEM: importing.keyPEM)
            if let existing, existing.fingerprint != imported.fingerprint {
                throw ConfigurationError(problems: [
                    "--ca-cert names CA \(imported.fingerprint), but \(directory) already holds CA \(existing.fingerprint); "
                        + "certificates issued by it would stop working. Use a new --data-dir to switch CAs."
                ])
            }
            if existing == nil {
                try imported.save(directory: directory)
                logger.notice("imported the mesh CA", metadata: ["fingerprint": "\(imported.fingerprint)"])
            }
            return imported
        }
        if let existing { return existing }
        let created = try CertificateAuthority.create(name: "Estuary mesh CA (\(name))")
        try created.save(directory: directory)
        logger.notice(
            "created the mesh CA; give agents \(directory)/ca.pem", metadata: ["fingerprint": "\(created.fingerprint)"])
        return created
    }

    // MARK: revocation

    func isRevoked(_ serial: String) -> Bool { revoked.withLock { $0.contains(serial) } }

    func revoke(_ serials: some Sequence<String>) {
        revoked.withLock { $0.formUnion(serials) }
    }

    /// The mesh handshake's last word on a verified client certificate.
    func refusal(for peer: PeerCertificate) -> String? {
        isRevoked(peer.serial) ? "certificate \(peer.serial) of \(peer.identity) is revoked" : nil
    }

    // MARK: issuing

    func issueSiteCertificate(csrPEM: String, site: SiteID) throws -> IssuedCertificate {
        guard let identity = PeerIdentity.site(site) else {
            throw TrustError(.invalidName, "site id \(site) is not a well-formed identifier")
        }
        return try authority.issue(csrPEM: csrPEM, identity: identity, validFor: siteCertificateValidity)
    }

    // MARK: TLS settings

    var caPEM: String { authority.certificatePEM }
    var caFingerprint: String { authority.fingerprint }

    func meshServerTLS() -> MeshServerTLS {
        MeshServerTLS(
            certificateChainPEM: serverCertificate.certificatePEM, privateKeyPEM: serverKeyPEM, trustedCAPEM: caPEM,
            refuse: { [self] peer in refusal(for: peer) })
    }

    /// Server-authenticated TLS for the API port (HTTP/1.1 and h2 by ALPN). Clients
    /// authenticate with bearer tokens, agents enrolling with their join token.
    func apiTLSConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(serverCertificate.certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(serverKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return configuration
    }

    /// Names for the server certificate: DNS names and IP literals, split.
    static func splitNames(_ names: [String]) -> (dns: [String], ips: [String]) {
        var dns: [String] = []
        var ips: [String] = []
        for name in names where !name.isEmpty {
            if name.contains(":") || name.split(separator: ".").allSatisfy({ Int($0) != nil }) {
                if !ips.contains(name) { ips.append(name) }
            } else if !dns.contains(name) {
                dns.append(name)
            }
        }
        return (dns, ips)
    }
}
