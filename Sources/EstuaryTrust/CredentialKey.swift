import Crypto
import SwiftASN1
import X509

/// A P-256 private key that a site or coordinator holds, and the CSRs it signs.
public struct CredentialKey: Sendable {
    /// Always a P-256 key (kept in X509's Sendable wrapper).
    let key: Certificate.PrivateKey
    /// PKCS#8 PEM, ending in a newline.
    public let pem: String

    public static func generate() -> CredentialKey {
        CredentialKey(P256.Signing.PrivateKey())
    }

    init(_ key: P256.Signing.PrivateKey) {
        self.key = Certificate.PrivateKey(key)
        self.pem = withTrailingNewline(key.pemRepresentation)
    }

    /// Accepts PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM of a P-256 key.
    public init(pem: String) throws {
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw TrustError(.malformedPEM, "not a PEM P-256 private key: \(error)")
        }
        self.init(key)
    }

    /// A PKCS#10 CSR (DER) signed by this key, subject CN = `commonName`. The CA ignores the
    /// subject: it only proves that the sender holds the key.
    public func makeCSR(commonName: String) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(try request(commonName: commonName))
        return serializer.serializedBytes
    }

    public func makeCSRPEM(commonName: String) throws -> String {
        withTrailingNewline(try request(commonName: commonName).serializeAsPEM().pemString)
    }

    private func request(commonName: String) throws -> CertificateSigningRequest {
        do {
            return try CertificateSigningRequest(
                version: .v1,
                subject: try DistinguishedName { CommonName(commonName) },
                privateKey: key,
                attributes: CertificateSigningRequest.Attributes(),
                signatureAlgorithm: .ecdsaWithSHA256
            )
        } catch {
            throw TrustError(.invalidName, "cannot make a CSR for common name \"\(commonName)\": \(error)")
        }
    }
}
