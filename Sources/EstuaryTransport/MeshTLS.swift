import EstuaryTrust
import NIOCore
import NIOSSL

/// TLS of the mesh listener (PROTOCOL.md §2.1, "TLS"): TLS 1.3 only, ALPN `h2` only, and a
/// client certificate issued by the mesh CA is required.
public struct MeshServerTLS: Sendable {
    /// The coordinator's certificate (identity `coordinator/<id>`, DNS/IP SANs), PEM; further
    /// certificates after the first are sent as its chain.
    public var certificateChainPEM: String
    public var privateKeyPEM: String
    /// The mesh CA. Client certificates must be issued directly by it; nothing else is trusted.
    public var trustedCAPEM: String
    /// Called during the handshake with the verified client certificate: a reason string fails
    /// the handshake (revoked serial, wrong role …), nil admits the client.
    public var refuse: @Sendable (PeerCertificate) -> String?

    public init(
        certificateChainPEM: String, privateKeyPEM: String, trustedCAPEM: String,
        refuse: @escaping @Sendable (PeerCertificate) -> String? = { _ in nil }
    ) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustedCAPEM = trustedCAPEM
        self.refuse = refuse
    }

    func makeSetup() throws -> TLSSetup {
        let chain = try TLSSetup.certificates(certificateChainPEM, what: "the server certificate chain")
        let key = try TLSSetup.privateKey(privateKeyPEM, what: "the server key")
        let authority = try TLSSetup.authority(trustedCAPEM)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        TLSSetup.restrict(&configuration, authority: authority.certificate)
        // Tell clients which CA we accept, so tools like curl pick the right certificate.
        configuration.sendCANameList = true
        let refuse = self.refuse
        return TLSSetup(
            context: try TLSSetup.context(configuration),
            verification: PeerVerification(authority: authority.certificate, authorityDER: authority.der, check: refuse)
        )
    }
}

/// TLS of a connection to the coordinator: TLS 1.3, ALPN `h2`, the server's certificate must
/// be issued by the mesh CA, carry `requiredServerRole` and name the dialed host.
public struct MeshClientTLS: Sendable {
    /// The mesh CA (PEM). Nothing else is trusted.
    public var trustedCAPEM: String
    /// This peer's certificate (PEM); nil sends none (enrollment over server-authenticated TLS).
    public var certificateChainPEM: String?
    public var privateKeyPEM: String?
    /// The server must present a certificate with this role, so that a site's certificate can
    /// never pose as the coordinator.
    public var requiredServerRole: PeerRole
    /// The name to check the server's certificate against (a DNS or IP address SAN); nil
    /// checks the dialed host.
    public var serverName: String?

    public init(
        trustedCAPEM: String, certificateChainPEM: String? = nil, privateKeyPEM: String? = nil,
        requiredServerRole: PeerRole = .coordinator, serverName: String? = nil
    ) {
        self.trustedCAPEM = trustedCAPEM
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.requiredServerRole = requiredServerRole
        self.serverName = serverName
    }

    func makeSetup(host: String) throws -> (setup: TLSSetup, sni: String?) {
        let authority = try TLSSetup.authority(trustedCAPEM)
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch (certificateChainPEM, privateKeyPEM) {
        case (let chain?, let key?):
            configuration.certificateChain = try TLSSetup.certificates(chain, what: "the client certificate chain")
                .map { .certificate($0) }
            configuration.privateKey = .privateKey(try TLSSetup.privateKey(key, what: "the client key"))
        case (nil, nil):
            break
        default:
            throw TransportError.tlsConfiguration("a client certificate needs its private key, and a key its certificate")
        }
        TLSSetup.restrict(&configuration, authority: authority.certificate)
        let name = serverName ?? host
        let role = requiredServerRole
        let verification = PeerVerification(authority: authority.certificate, authorityDER: authority.der) { server in
            if server.identity.role != role {
                return "the server's certificate names \(server.identity), not a \(role.rawValue)"
            }
            if !server.matches(serverName: name) {
                let names = (server.dnsNames + server.ipAddresses).joined(separator: ", ")
                return "the server's certificate is not valid for \(name) (it names \(names.isEmpty ? "no host" : names))"
            }
            return nil
        }
        // SNI carries host names only, never IP addresses (RFC 6066 §3).
        let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
        return (TLSSetup(context: try TLSSetup.context(configuration), verification: verification), isAddress ? nil : name)
    }
}

/// What a pipeline needs to run TLS: the context (shared by all connections) and the
/// certificate check for the peer.
struct TLSSetup: Sendable {
    let context: NIOSSLContext
    let verification: PeerVerification

    static let applicationProtocol = "h2"

    static func restrict(_ configuration: inout TLSConfiguration, authority: NIOSSLCertificate) {
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.applicationProtocols = [applicationProtocol]
        // Requires a peer certificate; the custom callback (PeerVerification) replaces
        // BoringSSL's chain and host name checks. The trust roots are ours alone regardless.
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([authority])
    }

    static func context(_ configuration: TLSConfiguration) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TransportError.tlsConfiguration("cannot set up TLS: \(error)")
        }
    }

    static func certificates(_ pem: String, what: String) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
        } catch {
            throw TransportError.tlsConfiguration("\(what) is not PEM: \(error)")
        }
        guard !certificates.isEmpty else { throw TransportError.tlsConfiguration("\(what) holds no certificate") }
        return certificates
    }

    static func privateKey(_ pem: String, what: String) throws -> NIOSSLPrivateKey {
        do {
            return try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem)
        } catch {
            throw TransportError.tlsConfiguration("\(what) is not a PEM private key: \(error)")
        }
    }

    static func authority(_ pem: String) throws -> (certificate: NIOSSLCertificate, der: [UInt8]) {
        let certificates = try certificates(pem, what: "the trusted CA")
        guard certificates.count == 1 else {
            throw TransportError.tlsConfiguration("the trusted CA must be exactly one certificate, not \(certificates.count)")
        }
        do {
            return (certificates[0], try certificates[0].toDERBytes())
        } catch {
            throw TransportError.tlsConfiguration("the trusted CA cannot be encoded: \(error)")
        }
    }
}
