import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import EstuaryTrust

@Suite struct PeerVerifierTests {
    let site = PeerIdentity(role: .site, id: "pengcheng-1")!

    func issue(_ ca: CertificateAuthority, now: Date = Date(), validFor: Duration = .seconds(3600)) throws -> [UInt8] {
        let issued = try ca.issue(
            csrDER: try CredentialKey.generate().makeCSR(commonName: "x"), identity: site, validFor: validFor, now: now)
        return try PeerCertificate(pem: issued.certificatePEM).der
    }

    /// A leaf signed by `ca` with arbitrary SANs, as a misbehaving CA might make.
    func craft(_ ca: CertificateAuthority, names: [GeneralName], isCA: Bool = false) throws -> [UInt8] {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: Date() - 60, notValidAfter: Date() + 3600,
            issuer: ca.certificate.subject, subject: try DistinguishedName { CommonName("crafted") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : .notCertificateAuthority)
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: ca.privateKey)
        return try certificate.derBytes()
    }

    @Test("a certificate from our CA verifies and names its identity")
    func validChainVerifies() async throws {
        let ca = try CertificateAuthority.create(name: "ours")
        let der = try issue(ca)
        let peer = try await PeerVerifier.verify(chainDER: [der], trustedCA: ca.certificateDER)
        #expect(peer.identity == site)
        // Extra certificates sent along are ignored.
        let again = try await PeerVerifier.verify(chainDER: [der, ca.certificateDER], trustedCA: ca.certificateDER)
        #expect(again == peer)
    }

    @Test("a certificate from another CA is refused")
    func otherCAIsRefused() async throws {
        let ours = try CertificateAuthority.create(name: "ours")
        let theirs = try CertificateAuthority.create(name: "ours")  // same name, different key
        let der = try issue(theirs)
        await #expect { try await PeerVerifier.verify(chainDER: [der], trustedCA: ours.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .untrusted
        }
        // Presenting their CA as an intermediate does not help.
        await #expect { try await PeerVerifier.verify(chainDER: [der, theirs.certificateDER], trustedCA: ours.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .untrusted
        }
    }

    @Test("an expired certificate is refused, and so is one not yet valid")
    func expiryIsChecked() async throws {
        let ca = try CertificateAuthority.create(name: "clock", now: Date() - 30 * 86400)
        let old = try issue(ca, now: Date() - 2 * 86400, validFor: .seconds(3600))
        await #expect { try await PeerVerifier.verify(chainDER: [old], trustedCA: ca.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .expired
        }
        let fresh = try issue(ca)
        await #expect { try await PeerVerifier.verify(chainDER: [fresh], trustedCA: ca.certificateDER, now: Date() - 86400) } throws: {
            ($0 as? TrustError)?.kind == .notYetValid
        }
    }

    @Test("a certificate with no estuary URI, or with two, is refused", arguments: [0, 2])
    func identityMustBeUnique(count: Int) async throws {
        let ca = try CertificateAuthority.create(name: "names")
        var names: [GeneralName] = [.dnsName("a.example"), .uniformResourceIdentifier("https://example.org/x")]
        if count >= 1 { names.append(.uniformResourceIdentifier("estuary://site/a")) }
        if count >= 2 { names.append(.uniformResourceIdentifier("estuary://coordinator/main")) }
        let der = try craft(ca, names: names)
        await #expect { try await PeerVerifier.verify(chainDER: [der], trustedCA: ca.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .identity
        }
        #expect { try PeerCertificate(der: der) } throws: { ($0 as? TrustError)?.kind == .identity }
    }

    @Test("an ill-formed estuary URI is refused")
    func illFormedIdentityIsRefused() throws {
        let ca = try CertificateAuthority.create(name: "names")
        let der = try craft(ca, names: [.uniformResourceIdentifier("estuary://tenant/a")])
        #expect { try PeerCertificate(der: der) } throws: { ($0 as? TrustError)?.kind == .identity }
    }

    @Test("a CA certificate is not accepted as a peer, even when it names an identity")
    func caIsNotALeaf() async throws {
        let ca = try CertificateAuthority.create(name: "root")
        let der = try craft(ca, names: [.uniformResourceIdentifier("estuary://site/a")], isCA: true)
        await #expect { try await PeerVerifier.verify(chainDER: [der], trustedCA: ca.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .notALeaf
        }
    }

    @Test("an empty chain and garbage are refused")
    func garbageIsRefused() async throws {
        let ca = try CertificateAuthority.create(name: "g")
        await #expect { try await PeerVerifier.verify(chainDER: [], trustedCA: ca.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .untrusted
        }
        await #expect { try await PeerVerifier.verify(chainDER: [[1, 2, 3]], trustedCA: ca.certificateDER) } throws: {
            ($0 as? TrustError)?.kind == .malformedCertificate
        }
    }
}

@Suite struct SecretFileTests {
    @Test("a secret file is written 0600 and read back")
    func roundTrip() throws {
        let temporary = TemporaryDirectory()
        let path = temporary.file("site.pem")
        try SecretFile.write("secret\n", to: path)
        #expect(try mode(of: path) == 0o600)
        #expect(try SecretFile.read(path) == "secret\n")
        try SecretFile.write("replaced\n", to: path)
        #expect(try SecretFile.read(path) == "replaced\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path) == ["site.pem"])
    }

    @Test("a secret file readable by others is refused, naming the path and the mode")
    func openFileIsRefused() throws {
        let temporary = TemporaryDirectory()
        let path = temporary.file("site.pem")
        try SecretFile.write("secret\n", to: path)
        chmod(path, 0o644)
        #expect { try SecretFile.read(path) } throws: { error in
            guard let error = error as? TrustError else { return false }
            return error.kind == .insecureFileMode && error.path == path && error.description.contains("0644")
                && error.description.contains(path)
        }
    }

    @Test("a missing secret file is an io error naming the path")
    func missingFile() throws {
        let temporary = TemporaryDirectory()
        let path = temporary.file("absent")
        #expect { try SecretFile.read(path) } throws: { ($0 as? TrustError)?.kind == .io && ($0 as? TrustError)?.path == path }
    }
}
