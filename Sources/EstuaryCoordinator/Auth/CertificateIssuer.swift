import EstuaryModel
import EstuaryTrust

/// What enrollment needs from the coordinator's CA: a certificate naming one site for the key
/// of a CSR, and the CA certificate to hand back so the agent can verify the coordinator.
///
/// The issuer decides the validity; the identity comes from the join token, never from the CSR.
/// Throw `TrustError` of kind `malformedCSR`, `badCSRSignature`, `unsupportedKey` or
/// `invalidName` for a CSR that cannot be signed (the API answers 400 on field `csr`); any
/// other error is the coordinator's fault (500).
public protocol CertificateIssuer: Sendable {
    func issueSiteCertificate(csrPEM: String, site: SiteID) async throws -> IssuedCertificate
    /// The CA certificate, PEM.
    var caPEM: String { get }
    /// The CA certificate's fingerprint as operators compare it (`sha256:…`).
    var caFingerprint: String { get }
}

/// A ``CertificateIssuer`` straight over a ``CertificateAuthority``, issuing site certificates
/// valid for `validity`.
public struct AuthorityIssuer: CertificateIssuer {
    public let authority: CertificateAuthority
    public let validity: Duration

    public init(authority: CertificateAuthority, validity: Duration) {
        self.authority = authority
        self.validity = validity
    }

    public func issueSiteCertificate(csrPEM: String, site: SiteID) throws -> IssuedCertificate {
        guard let identity = PeerIdentity.site(site) else {
            throw TrustError(.invalidName, "site id \(site) is not a well-formed identifier")
        }
        return try authority.issue(csrPEM: csrPEM, identity: identity, validFor: validity)
    }

    public var caPEM: String { authority.certificatePEM }
    public var caFingerprint: String { authority.fingerprint }
}

extension TrustError {
    /// Whether the error is about the CSR a client sent (400) rather than the coordinator (500).
    var isBadCSR: Bool {
        switch kind {
        case .malformedCSR, .badCSRSignature, .unsupportedKey, .invalidName, .malformedPEM: true
        default: false
        }
    }
}
