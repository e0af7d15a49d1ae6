import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import Synchronization

/// How the agent authenticates to its coordinator when not in insecure-dev mode.
public struct AgentTLSSettings: Sendable {
    /// The mesh CA (PEM) the coordinator's certificate must chain to.
    public var caPEM: String
    /// The coordinator API base URL for first enrollment (`https://host:port`).
    public var enrollURL: String?
    /// A one-time join token from `estuaryctl site add`, used only when the agent has no
    /// certificate yet.
    public var joinToken: String?
    /// Name the coordinator's certificate must carry when it differs from the dialed host.
    public var serverName: String?
    /// Fraction of a certificate's lifetime after which it is renewed.
    public var renewAfterFraction: Double = 2.0 / 3.0

    public init(caPEM: String, enrollURL: String? = nil, joinToken: String? = nil, serverName: String? = nil) {
        self.caPEM = caPEM
        self.enrollURL = enrollURL
        self.joinToken = joinToken
        self.serverName = serverName
    }
}

/// The site's key and certificate, as one secret file (`<data>/tls/site.pem`, mode 0600) so that
/// a renewal replaces both with one rename: a crash can never pair a new key with an old
/// certificate.
public struct SiteCredentials: Sendable, Hashable {
    public let keyPEM: String
    public let certificatePEM: String
    public let certificate: PeerCertificate

    public init(keyPEM: String, certificatePEM: String) throws {
        self.keyPEM = keyPEM
        self.certificatePEM = certificatePEM
        self.certificate = try PeerCertificate(pem: certificatePEM)
    }

    /// When to renew: `fraction` of the way through the certificate's lifetime, counted from
    /// when it was issued. The CA back-dates `notBefore` by its clock-skew allowance, so the
    /// issue time is `notBefore` plus that allowance (never past `notAfter`); counting from
    /// `notBefore` itself would make a short-lived certificate due at once, and the agent
    /// would renew in a loop.
    public func renewalDate(fraction: Double) -> Date {
        let skew = Double(CertificateAuthority.clockSkewAllowance.components.seconds)
        let issued = min(certificate.notBefore.addingTimeInterval(skew), certificate.notAfter)
        let lifetime = certificate.notAfter.timeIntervalSince(issued)
        return issued.addingTimeInterval(lifetime * fraction)
    }
}

/// Why the agent cannot obtain or use a certificate.
public enum AgentTrustError: Error, Sendable, CustomStringConvertible {
    case noCredentials(site: SiteID)
    case wrongIdentity(expected: SiteID, got: PeerIdentity)
    case badEnrollURL(String)
    case refused(operation: String, status: Int, code: String, message: String)
    case malformedResponse(operation: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .noCredentials(let site):
            "site \(site) has no certificate yet: enroll it with a join token from `estuaryctl site add \(site) --org ORG` "
                + "(--join-token-file, or ESTUARY_JOIN_TOKEN) and the coordinator's API URL (enroll_url or --enroll-url)"
        case .wrongIdentity(let expected, let got):
            "the certificate names \(got), but this agent runs site \(expected)"
        case .badEnrollURL(let url):
            "enroll URL \"\(url)\" is not https://HOST:PORT"
        case .refused(let operation, let status, let code, let message):
            "\(operation) refused (HTTP \(status) \(code)): \(message)"
        case .malformedResponse(let operation, let reason):
            "\(operation): malformed answer from the coordinator: \(reason)"
        case .unreadable(let path, let reason):
            "\(path): \(reason)"
        }
    }
}

/// Keeps the agent's current credentials in memory and on disk.
public final class CredentialStore: Sendable {
    public let path: String
    private let current: Mutex<SiteCredentials?>
    /// Bumped on every replacement; sessions started with an older generation reconnect.
    private let generationBox = Atomic<Int>(0)

    public init(dataDirectory: String) throws {
        let directory = (dataDirectory as NSString).appendingPathComponent("tls")
        self.path = (directory as NSString).appendingPathComponent("site.pem")
        self.current = Mutex(try Self.read(path))
    }

    public var credentials: SiteCredentials? { current.withLock { $0 } }
    public var generation: Int { generationBox.load(ordering: .acquiring) }

    /// Writes `credentials` (atomically, 0600) and makes them current.
    public func replace(with credentials: SiteCredentials) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try SecretFile.write(credentials.keyPEM + credentials.certificatePEM, to: path)
        current.withLock { $0 = credentials }
        generationBox.add(1, ordering: .releasing)
    }

    static func read(_ path: String) throws -> SiteCredentials? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = try SecretFile.read(path)
        guard let keyEnd = text.range(of: "-----END PRIVATE KEY-----\n") else {
            throw AgentTrustError.unreadable(path: path, reason: "no PRIVATE KEY block")
        }
        let key = String(text[..<keyEnd.upperBound])
        let certificate = String(text[keyEnd.upperBound...])
        do {
            return try SiteCredentials(keyPEM: key, certificatePEM: certificate)
        } catch {
            throw AgentTrustError.unreadable(path: path, reason: "\(error)")
        }
    }
}

/// Enrollment (join token → first certificate, over server-authenticated TLS to the API port)
/// and renewal (current certificate → next one, over mutual TLS to the mesh port).
public enum Enrollment {

    struct EnrollRequest: Encodable {
        var token: String
        var csr: String
    }

    struct ErrorAnswer: Decodable {
        struct Body: Decodable {
            var code: String
            var message: String
        }
        var error: Body
    }

    /// Sends a CSR for a fresh key with `token` to `<enrollURL>/v1/enroll`.
    public static func enroll(site: SiteID, settings: AgentTLSSettings, token: String) async throws -> SiteCredentials {
        guard let url = settings.enrollURL, let (host, port) = parseHTTPS(url) else {
            throw AgentTrustError.badEnrollURL(settings.enrollURL ?? "")
        }
        var client = MeshClientConfiguration(host: host, port: port)
        client.tls = MeshClientTLS(
            trustedCAPEM: settings.caPEM, certificateChainPEM: nil, privateKeyPEM: nil, requiredServerRole: .coordinator,
            serverName: settings.serverName)
        let key = CredentialKey.generate()
        let body = try JSONEncoder().encode(EnrollRequest(token: token, csr: try key.makeCSRPEM(commonName: site.rawValue)))
        let response = try await MeshClient.request(
            configuration: client, path: "/v1/enroll", headers: [("content-type", "application/json")], body: Array(body))
        guard response.status == 201 || response.status == 200 else {
            throw refusal("enrollment", response)
        }
        let answer: EnrollView
        do {
            answer = try JSONDecoder().decode(EnrollView.self, from: Data(response.body))
        } catch {
            throw AgentTrustError.malformedResponse(operation: "enrollment", reason: "\(error)")
        }
        return try checked(SiteCredentials(keyPEM: key.pem, certificatePEM: answer.certificate), site: site)
    }

    /// Asks for the next certificate over mutual TLS with the current one. The new key never
    /// leaves this process; the current session keeps running meanwhile.
    public static func renew(
        site: SiteID, settings: AgentTLSSettings, current: SiteCredentials, mesh: MeshClientConfiguration
    ) async throws -> SiteCredentials {
        var client = mesh
        client.tls = MeshClientTLS(
            trustedCAPEM: settings.caPEM, certificateChainPEM: current.certificatePEM, privateKeyPEM: current.keyPEM,
            requiredServerRole: .coordinator, serverName: settings.serverName)
        let key = CredentialKey.generate()
        let csr = try key.makeCSRPEM(commonName: site.rawValue)
        let response = try await MeshClient.request(
            configuration: client, path: WireProtocol.renewPath, headers: [("content-type", "application/pkcs10")], body: Array(csr.utf8))
        guard response.status == 200 || response.status == 201 else {
            throw refusal("renewal", response)
        }
        let pem = String(decoding: response.body, as: UTF8.self)
        return try checked(SiteCredentials(keyPEM: key.pem, certificatePEM: pem), site: site)
    }

    static func checked(_ credentials: SiteCredentials, site: SiteID) throws -> SiteCredentials {
        let identity = credentials.certificate.identity
        guard identity.role == .site, identity.id == site.rawValue else {
            throw AgentTrustError.wrongIdentity(expected: site, got: identity)
        }
        return credentials
    }

    static func refusal(_ operation: String, _ response: UnaryResponse) -> AgentTrustError {
        if let answer = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(response.body)) {
            return .refused(operation: operation, status: response.status, code: answer.error.code, message: answer.error.message)
        }
        let text = String(decoding: response.body.prefix(512), as: UTF8.self)
        return .refused(operation: operation, status: response.status, code: "-", message: text.isEmpty ? "no reason given" : text)
    }

    /// `https://host:port[/]` → (host, port); IPv6 hosts in brackets; no port means 443.
    static func parseHTTPS(_ url: String) -> (String, Int)? {
        guard url.hasPrefix("https://") else { return nil }
        var rest = url.dropFirst("https://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        // A port follows the last colon, unless that colon is inside an IPv6 literal's brackets.
        let hasPort = rest.hasPrefix("[") ? rest.contains("]:") : rest.contains(":")
        return MeshPeers.split(address: hasPort ? String(rest) : "\(rest):443")
    }
}
