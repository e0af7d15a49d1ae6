import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import EstuaryTrust

@Suite struct CertificateAuthorityTests {
    let site = PeerIdentity(role: .site, id: "pengcheng-1")!

    @Test("a created CA is a P-256 CA with pathLen 0, keyCertSign and a key identifier")
    func createdCAHasTheRightShape() throws {
        let ca = try CertificateAuthority.create(name: "Estuary test CA")
        let certificate = try Certificate(derEncoded: ca.certificateDER)
        #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let usage = try #require(try certificate.extensions.keyUsage)
        #expect(usage.keyCertSign && usage.cRLSign && !usage.digitalSignature)
        #expect(try certificate.extensions.subjectKeyIdentifier != nil)
        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        #expect(certificate.subject == certificate.issuer)
        let years = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) / (365 * 86400)
        #expect(years > 9.99 && years < 10.01)
        #expect(ca.fingerprint.hasPrefix("sha256:") && ca.fingerprint.count == 7 + 64)
        #expect(ca.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----") && ca.certificatePEM.hasSuffix("\n"))
    }

    @Test("save then load gives the same CA, with ca.key 0600, ca.pem 0644 and the directory 0700")
    func saveLoadRoundTrip() throws {
        let temporary = TemporaryDirectory()
        let directory = temporary.file("state/ca")
        #expect(try CertificateAuthority.load(directory: directory) == nil)
        let ca = try CertificateAuthority.create(name: "round trip")
        try ca.save(directory: directory)
        #expect(try mode(of: directory) == 0o700)
        #expect(try mode(of: directory + "/ca.key") == 0o600)
        #expect(try mode(of: directory + "/ca.pem") == 0o644)
        let loaded = try #require(try CertificateAuthority.load(directory: directory))
        #expect(loaded.certificateDER == ca.certificateDER)
        #expect(loaded.fingerprint == ca.fingerprint)
        // The loaded key signs certificates that chain to the original.
        let key = CredentialKey.generate()
        let issued = try loaded.issue(csrDER: try key.makeCSR(commonName: "x"), identity: site, validFor: .seconds(3600))
        #expect(try PeerCertificate(pem: issued.certificatePEM).identity == site)
        // Saving again replaces the files atomically and leaves no temporary files behind.
        try loaded.save(directory: directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["ca.key", "ca.pem"])
    }

    @Test("load refuses a directory holding only one of ca.pem and ca.key")
    func loadRefusesHalfACA() throws {
        let temporary = TemporaryDirectory()
        let ca = try CertificateAuthority.create(name: "half")
        try ca.save(directory: temporary.path)
        try FileManager.default.removeItem(atPath: temporary.file("ca.key"))
        #expect { try CertificateAuthority.load(directory: temporary.path) } throws: { ($0 as? TrustError)?.kind == .incompleteCA }
        try ca.save(directory: temporary.path)
        try FileManager.default.removeItem(atPath: temporary.file("ca.pem"))
        #expect { try CertificateAuthority.load(directory: temporary.path) } throws: { ($0 as? TrustError)?.kind == .incompleteCA }
    }

    @Test("load refuses a CA key that group or others can read")
    func loadRefusesAnOpenKey() throws {
        let temporary = TemporaryDirectory()
        try CertificateAuthority.create(name: "open").save(directory: temporary.path)
        chmod(temporary.file("ca.key"), 0o640)
        #expect { try CertificateAuthority.load(directory: temporary.path) } throws: {
            ($0 as? TrustError)?.kind == .insecureFileMode
        }
    }

    @Test("importing an operator CA checks that it is a CA and that the key is its own")
    func importChecksCAAndKey() throws {
        let ca = try CertificateAuthority.create(name: "operator")
        let keyPEM = try ca.privateKeyPEM
        let imported = try CertificateAuthority(certificatePEM: ca.certificatePEM, privateKeyPEM: keyPEM)
        #expect(imported.certificateDER == ca.certificateDER)

        let other = try CertificateAuthority.create(name: "other")
        #expect { try CertificateAuthority(certificatePEM: ca.certificatePEM, privateKeyPEM: try other.privateKeyPEM) } throws: {
            ($0 as? TrustError)?.kind == .keyMismatch
        }

        let key = CredentialKey.generate()
        let leaf = try ca.issue(csrDER: try key.makeCSR(commonName: "x"), identity: site, validFor: .seconds(60))
        #expect { try CertificateAuthority(certificatePEM: leaf.certificatePEM, privateKeyPEM: key.pem) } throws: {
            ($0 as? TrustError)?.kind == .notACA
        }
        #expect { try CertificateAuthority(certificatePEM: "garbage", privateKeyPEM: keyPEM) } throws: {
            ($0 as? TrustError)?.kind == .malformedPEM
        }
    }

    @Test("an issued certificate parses back to its identity, serial and validity")
    func issuedCertificateParses() throws {
        let ca = try CertificateAuthority.create(name: "issuer")
        let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970).rounded(.down))
        let key = CredentialKey.generate()
        let issued = try ca.issue(
            csrPEM: try key.makeCSRPEM(commonName: "pengcheng-1"), identity: site, validFor: .seconds(86400), now: now,
            dnsNames: ["coord.example.org"], ipAddresses: ["127.0.0.1", "::1"]
        )
        #expect(issued.identity == site)
        #expect(issued.notBefore == now - 300)
        #expect(issued.notAfter == now + 86400)
        #expect(!issued.serial.isEmpty && issued.serial.count <= 32)
        #expect(issued.serial.allSatisfy { "0123456789abcdef".contains($0) })

        let peer = try PeerCertificate(pem: issued.certificatePEM)
        #expect(peer.identity == site)
        #expect(peer.serial == issued.serial)
        #expect(peer.notBefore == issued.notBefore && peer.notAfter == issued.notAfter)
        #expect(peer.dnsNames == ["coord.example.org"])
        #expect(peer.ipAddresses == ["127.0.0.1", "::1"])
        #expect(peer.matches(serverName: "COORD.example.org") && peer.matches(serverName: "0:0::1"))
        #expect(!peer.matches(serverName: "other.example.org") && !peer.matches(serverName: "127.0.0.2"))

        let certificate = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try certificate.extensions.keyUsage?.digitalSignature == true)
        let usages = try #require(try certificate.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth) && usages.contains(.clientAuth))
        #expect(try certificate.extensions.authorityKeyIdentifier?.keyIdentifier != nil)
        #expect(try certificate.extensions.subjectKeyIdentifier != nil)
        #expect(certificate.publicKey == Certificate.PrivateKey(try P256.Signing.PrivateKey(pemRepresentation: key.pem)).publicKey)
        #expect(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----") && key.pem.hasSuffix("-----END PRIVATE KEY-----\n"))
    }

    @Test("serials are random and distinct")
    func serialsDiffer() throws {
        let ca = try CertificateAuthority.create(name: "serials")
        let csr = try CredentialKey.generate().makeCSR(commonName: "x")
        let serials = try (0..<20).map { _ in try ca.issue(csrDER: csr, identity: site, validFor: .seconds(60)).serial }
        #expect(Set(serials).count == 20)
    }

    @Test("a CSR whose signature was made by another key is refused")
    func forgedCSRSignatureIsRefused() throws {
        let ca = try CertificateAuthority.create(name: "forgery")
        let victim = P256.Signing.PrivateKey()
        let attacker = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName { CommonName("pengcheng-1") }
        let honest = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: attacker, attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        let forged = try CertificateSigningRequest(
            version: .v1, subject: subject, publicKey: Certificate.PublicKey(victim.publicKey), attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256, signature: honest.signature)
        var serializer = DER.Serializer()
        try serializer.serialize(forged)
        #expect { try ca.issue(csrDER: serializer.serializedBytes, identity: site, validFor: .seconds(60)) } throws: {
            ($0 as? TrustError)?.kind == .badCSRSignature
        }
        #expect { try ca.issue(csrDER: [0x30, 0x03, 0x02, 0x01, 0x00], identity: site, validFor: .seconds(60)) } throws: {
            ($0 as? TrustError)?.kind == .malformedCSR
        }
    }

    @Test("a CSR asking for another identity gets a certificate naming the identity the CA chose")
    func csrSubjectIsIgnored() throws {
        let ca = try CertificateAuthority.create(name: "ignore")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let wish = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier("estuary://coordinator/main"), .dnsName("evil.example")])
        }
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("main") }, privateKey: key,
            attributes: CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: wish))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        let issued = try ca.issue(csrDER: serializer.serializedBytes, identity: site, validFor: .seconds(60))
        let peer = try PeerCertificate(pem: issued.certificatePEM)
        #expect(peer.identity == site)
        #expect(peer.dnsNames.isEmpty)
        let certificate = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(certificate.subject == (try DistinguishedName { CommonName("pengcheng-1") }))
    }

    @Test("keys other than P-256 and P-384 are refused")
    func unsupportedKeysAreRefused() throws {
        let ca = try CertificateAuthority.create(name: "keys")
        let p384 = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") },
            privateKey: Certificate.PrivateKey(P384.Signing.PrivateKey()), attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA384)
        _ = try ca.issue(request: p384, identity: site, validFor: .seconds(60), now: Date(), dnsNames: [], ipAddresses: [])
        let ed25519 = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") },
            privateKey: Certificate.PrivateKey(Curve25519.Signing.PrivateKey()), attributes: .init(),
            signatureAlgorithm: .ed25519)
        #expect { try ca.issue(request: ed25519, identity: site, validFor: .seconds(60), now: Date(), dnsNames: [], ipAddresses: []) } throws: {
            ($0 as? TrustError)?.kind == .unsupportedKey
        }
    }

    @Test("bad DNS names and IP addresses are refused")
    func badNamesAreRefused() throws {
        let ca = try CertificateAuthority.create(name: "names")
        let csr = try CredentialKey.generate().makeCSR(commonName: "x")
        for (dns, ip) in [(["*.example.org"], [String]()), (["a..b"], []), ([], ["300.1.1.1"]), ([], ["host"])] {
            #expect { try ca.issue(csrDER: csr, identity: site, validFor: .seconds(60), dnsNames: dns, ipAddresses: ip) } throws: {
                ($0 as? TrustError)?.kind == .invalidName
            }
        }
    }
}
