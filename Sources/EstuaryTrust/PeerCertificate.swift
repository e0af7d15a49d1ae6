import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A leaf certificate as the mesh sees it: whom it names, its serial and validity.
///
/// Parsing does not verify anything (use `PeerVerifier` for that); it only insists that the
/// certificate names exactly one Estuary identity, in an `estuary://` URI SAN.
public struct PeerCertificate: Sendable, Hashable {
    /// From the single `estuary://` URI SAN.
    public let identity: PeerIdentity
    /// Lower-case hex, no separators.
    public let serial: String
    public let notBefore: Date
    public let notAfter: Date
    /// DNS SANs, as written in the certificate.
    public let dnsNames: [String]
    /// IP address SANs, as text.
    public let ipAddresses: [String]
    /// The certificate's DER.
    public let der: [UInt8]

    public init(der: [UInt8]) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw TrustError(.malformedCertificate, "not a DER X.509 certificate: \(error)")
        }
        try self.init(certificate: certificate, der: der)
    }

    /// Parses the first certificate of `pem`.
    public init(pem: String) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw TrustError(.malformedPEM, "not a PEM certificate: \(error)")
        }
        try self.init(certificate: certificate, der: try certificate.derBytes())
    }

    init(certificate: Certificate, der: [UInt8]) throws {
        let names: SubjectAlternativeNames?
        do {
            names = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw TrustError(.malformedCertificate, "unreadable subjectAltName: \(error)")
        }
        var uris: [String] = []
        var dnsNames: [String] = []
        var ipAddresses: [String] = []
        for name in names ?? SubjectAlternativeNames() {
            switch name {
            case .uniformResourceIdentifier(let uri):
                if uri.lowercased().hasPrefix("\(PeerIdentity.scheme):") { uris.append(uri) }
            case .dnsName(let dns):
                dnsNames.append(dns)
            case .ipAddress(let octets):
                if let text = IPAddressText.text(octets.bytes) { ipAddresses.append(text) }
            default:
                continue
            }
        }
        let serial = certificate.serialText
        guard uris.count == 1 else {
            throw TrustError(
                .identity,
                uris.isEmpty
                    ? "certificate \(serial) names no Estuary identity (no estuary:// URI SAN)"
                    : "certificate \(serial) names \(uris.count) Estuary identities (\(uris.joined(separator: ", "))); exactly one is allowed"
            )
        }
        guard let identity = PeerIdentity(uri: uris[0]) else {
            throw TrustError(.identity, "certificate \(serial) has an ill-formed identity \(uris[0])")
        }
        self.identity = identity
        self.serial = serial
        self.notBefore = certificate.notValidBefore
        self.notAfter = certificate.notValidAfter
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.der = der
    }

    /// "sha256:<64 hex>" of the DER.
    public var fingerprint: String { certificateFingerprint(der: der) }

    /// PEM of the certificate, ending in a newline.
    public var pem: String {
        withTrailingNewline(PEMDocument(type: "CERTIFICATE", derBytes: der).pemString)
    }

    /// Whether the certificate names `name`: an IP address SAN equal to it when `name` is an IP
    /// address, else a DNS SAN equal to it ignoring case (no wildcards; a trailing dot is ignored).
    public func matches(serverName name: String) -> Bool {
        if let wanted = IPAddressText.bytes(name) {
            return ipAddresses.contains { IPAddressText.bytes($0) == wanted }
        }
        let wanted = Self.normalised(name)
        return dnsNames.contains { Self.normalised($0) == wanted }
    }

    private static func normalised(_ name: String) -> String {
        var lower = name.lowercased()
        if lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }
}
