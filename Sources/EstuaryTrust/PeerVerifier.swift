@_spi(FixedExpiryValidationTime) import X509
import SwiftASN1

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Verifies a peer's certificate chain in pure Swift (swift-certificates), for the TLS
/// callbacks of EstuaryTransport and for tests.
public enum PeerVerifier {
    /// The leaf (`chainDER[0]`) must be signed directly by `trustedCA` (DER), be valid at
    /// `now`, not be a CA, and name exactly one Estuary identity. Further certificates the peer
    /// sent are ignored: Estuary's CA issues leaves itself, so no intermediate is ever needed.
    public static func verify(chainDER: [[UInt8]], trustedCA: [UInt8], now: Date = Date()) async throws -> PeerCertificate {
        guard let leafDER = chainDER.first else {
            throw TrustError(.untrusted, "the peer presented no certificate")
        }
        let authority: Certificate
        do {
            authority = try Certificate(derEncoded: trustedCA)
        } catch {
            throw TrustError(.malformedCertificate, "the trusted CA is not a DER certificate: \(error)")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: leafDER)
        } catch {
            throw TrustError(.malformedCertificate, "the peer's certificate is not a DER X.509 certificate: \(error)")
        }
        // Identity first: a certificate naming nobody is refused whatever signed it.
        let peer = try PeerCertificate(certificate: leaf, der: leafDER)

        // Validity is checked here too (RFC5280Policy repeats it) to give a precise reason.
        if now > leaf.notValidAfter {
            throw TrustError(.expired, "certificate \(peer.serial) of \(peer.identity) expired at \(leaf.notValidAfter)")
        }
        if now < leaf.notValidBefore {
            throw TrustError(.notYetValid, "certificate \(peer.serial) of \(peer.identity) is not valid before \(leaf.notValidBefore)")
        }

        var verifier = Verifier(rootCertificates: CertificateStore([authority])) {
            RFC5280Policy(fixedExpiryValidationTime: now)
            LeafOnlyPolicy()
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore()) {
        case .validCertificate:
            return peer
        case .couldNotValidate(let failures):
            let authorityName = certificateFingerprint(der: trustedCA)
            if failures.contains(where: { $0.policyFailureReason.description == LeafOnlyPolicy.reason }) {
                throw TrustError(.notALeaf, "certificate \(peer.serial) is a CA certificate, not a peer's")
            }
            let detail = failures.first.map { ": \($0.policyFailureReason)" } ?? ""
            throw TrustError(
                .untrusted,
                "certificate \(peer.serial) of \(peer.identity) is not issued by the trusted CA \(authorityName)\(detail)"
            )
        }
    }
}

/// Refuses chains whose leaf is itself a CA (such as the trusted CA presented as a peer).
struct LeafOnlyPolicy: VerifierPolicy {
    static let reason = "the leaf is a CA certificate"
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = []

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        let leaf = chain.leaf
        if chain.count < 2 { return .failsToMeetPolicy(reason: Self.reason) }
        if case .isCertificateAuthority? = try? leaf.extensions.basicConstraints {
            return .failsToMeetPolicy(reason: Self.reason)
        }
        return .meetsPolicy
    }
}
