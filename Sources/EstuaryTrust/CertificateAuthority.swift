import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The mesh's certificate authority: signs the short-lived leaf certificates that name a site
/// or a coordinator. Either created by the coordinator on first start or provided by the
/// operator (`init(certificatePEM:privateKeyPEM:)`).
public struct CertificateAuthority: Sendable {
    let certificate: Certificate
    let privateKey: Certificate.PrivateKey
    let signatureAlgorithm: Certificate.SignatureAlgorithm
    /// The CA's key identifier, copied into each leaf's authorityKeyIdentifier.
    let keyIdentifier: ArraySlice<UInt8>

    public let certificateDER: [UInt8]
    public let certificatePEM: String

    /// "sha256:<64 hex>" of the CA certificate's DER.
    public var fingerprint: String { certificateFingerprint(der: certificateDER) }

    /// Leaves start this long before `now`, so a peer whose clock is a little behind accepts them.
    public static let clockSkewAllowance: Duration = .seconds(5 * 60)

    /// A new self-signed CA with a P-256 key: basicConstraints CA:true pathLen 0, keyUsage
    /// keyCertSign + cRLSign, subjectKeyIdentifier.
    public static func create(
        name: String, now: Date = Date(), validity: Duration = .seconds(10 * 365 * 86400)
    ) throws -> CertificateAuthority {
        guard validity > .zero else { throw TrustError(.invalidValidity, "a CA must be valid for a positive time") }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject: DistinguishedName
        do {
            subject = try DistinguishedName { CommonName(name) }
        } catch {
            throw TrustError(.invalidName, "\"\(name)\" cannot be a CA name: \(error)")
        }
        let keyIdentifier = SubjectKeyIdentifier(hash: key.publicKey)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .random128(),
            publicKey: key.publicKey,
            notValidBefore: now - clockSkewAllowance.timeInterval,
            notValidAfter: now + validity.timeInterval,
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                keyIdentifier
            },
            issuerPrivateKey: key
        )
        return try CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// Imports an operator-provided CA. Refuses a certificate that is not a CA, a key that is
    /// not the certificate's, and keys other than ECDSA P-256, P-384 and P-521.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw TrustError(.malformedPEM, "the CA certificate is not a PEM certificate: \(error)")
        }
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw TrustError(.malformedPEM, "the CA key is not a PEM private key: \(error)")
        }
        try self.init(certificate: certificate, privateKey: key)
    }

    init(certificate: Certificate, privateKey: Certificate.PrivateKey) throws {
        let constraints = try? certificate.extensions.basicConstraints
        guard case .isCertificateAuthority? = constraints else {
            throw TrustError(.notACA, "certificate \(certificate.serialText) is not a CA (basicConstraints CA:true is missing)")
        }
        if let usage = try? certificate.extensions.keyUsage, !usage.keyCertSign {
            throw TrustError(.notACA, "certificate \(certificate.serialText) may not sign certificates (keyUsage lacks keyCertSign)")
        }
        guard privateKey.publicKey == certificate.publicKey else {
            throw TrustError(.keyMismatch, "the CA key does not belong to CA certificate \(certificate.serialText)")
        }
        if P256.Signing.PublicKey(certificate.publicKey) != nil {
            signatureAlgorithm = .ecdsaWithSHA256
        } else if P384.Signing.PublicKey(certificate.publicKey) != nil {
            signatureAlgorithm = .ecdsaWithSHA384
        } else if P521.Signing.PublicKey(certificate.publicKey) != nil {
            signatureAlgorithm = .ecdsaWithSHA512
        } else {
            throw TrustError(.unsupportedKey, "CA keys must be ECDSA P-256, P-384 or P-521, not \(certificate.publicKey)")
        }
        self.certificate = certificate
        self.privateKey = privateKey
        self.keyIdentifier =
            (try? certificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        self.certificateDER = try certificate.derBytes()
        self.certificatePEM = try certificate.pemText()
    }

    /// Signs a leaf for `identity` with the key of `csrDER`, after checking the CSR's
    /// self-signature. Whatever subject or SANs the CSR asks for are ignored: the certificate
    /// names `identity` (subject CN = id, URI SAN = `identity.uri`) plus `dnsNames` and
    /// `ipAddresses`. Valid from `now` − 5 minutes to `now` + `validFor` (never past the CA's
    /// own expiry); CA:false, digitalSignature, serverAuth + clientAuth, AKI/SKI, a random
    /// positive 128-bit serial. Only P-256 and P-384 keys are accepted.
    public func issue(
        csrDER: [UInt8], identity: PeerIdentity, validFor: Duration, now: Date = Date(),
        dnsNames: [String] = [], ipAddresses: [String] = []
    ) throws -> IssuedCertificate {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(derEncoded: csrDER)
        } catch {
            throw TrustError(.malformedCSR, "not a DER PKCS#10 certificate signing request: \(error)")
        }
        return try issue(request: request, identity: identity, validFor: validFor, now: now, dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    public func issue(
        csrPEM: String, identity: PeerIdentity, validFor: Duration, now: Date = Date(),
        dnsNames: [String] = [], ipAddresses: [String] = []
    ) throws -> IssuedCertificate {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw TrustError(.malformedCSR, "not a PEM certificate signing request: \(error)")
        }
        return try issue(request: request, identity: identity, validFor: validFor, now: now, dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    func issue(
        request: CertificateSigningRequest, identity: PeerIdentity, validFor: Duration, now: Date,
        dnsNames: [String], ipAddresses: [String]
    ) throws -> IssuedCertificate {
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw TrustError(.badCSRSignature, "the CSR's signature does not verify with its own key; the sender does not hold that key")
        }
        guard P256.Signing.PublicKey(request.publicKey) != nil || P384.Signing.PublicKey(request.publicKey) != nil else {
            throw TrustError(.unsupportedKey, "certificates are issued for ECDSA P-256 or P-384 keys only, not \(request.publicKey)")
        }
        guard validFor > .zero else { throw TrustError(.invalidValidity, "a certificate must be valid for a positive time") }

        var names: [GeneralName] = [.uniformResourceIdentifier(identity.uri)]
        for name in dnsNames {
            guard DNSNameText.isValid(name) else { throw TrustError(.invalidName, "\"\(name)\" is not a DNS name") }
            names.append(.dnsName(name))
        }
        for address in ipAddresses {
            guard let bytes = IPAddressText.bytes(address) else {
                throw TrustError(.invalidName, "\"\(address)\" is not an IPv4 or IPv6 address")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }

        let notAfter = min(now + validFor.timeInterval, certificate.notValidAfter)
        let notBefore = now - Self.clockSkewAllowance.timeInterval
        guard notAfter > notBefore else {
            throw TrustError(.expired, "the CA expired at \(certificate.notValidAfter); it cannot issue certificates")
        }
        let authorityKeyIdentifier = AuthorityKeyIdentifier(keyIdentifier: keyIdentifier)
        let leaf = try Certificate(
            version: .v3,
            serialNumber: .random128(),
            publicKey: request.publicKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: certificate.subject,
            subject: try DistinguishedName { CommonName(identity.id) },
            signatureAlgorithm: signatureAlgorithm,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectKeyIdentifier(hash: request.publicKey)
                authorityKeyIdentifier
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: privateKey
        )
        return IssuedCertificate(
            serial: leaf.serialText,
            identity: identity,
            notBefore: leaf.notValidBefore,
            notAfter: leaf.notValidAfter,
            certificatePEM: try leaf.pemText()
        )
    }

    /// PKCS#8 PEM of the CA key, ending in a newline.
    var privateKeyPEM: String {
        get throws { withTrailingNewline(try privateKey.serializeAsPEM().pemString) }
    }
}

/// A certificate the CA signed, with what the coordinator records about it.
public struct IssuedCertificate: Sendable, Hashable {
    /// Lower-case hex, no separators.
    public let serial: String
    public let identity: PeerIdentity
    public let notBefore: Date
    public let notAfter: Date
    /// PEM, ending in a newline.
    public let certificatePEM: String

    public init(serial: String, identity: PeerIdentity, notBefore: Date, notAfter: Date, certificatePEM: String) {
        self.serial = serial
        self.identity = identity
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.certificatePEM = certificatePEM
    }
}
