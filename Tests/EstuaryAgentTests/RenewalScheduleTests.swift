import EstuaryAgent
import EstuaryTrust
import Foundation
import Testing

@Suite struct RenewalScheduleTests {
    /// The CA back-dates notBefore by its clock-skew allowance; counting from notBefore made a
    /// 30 s certificate due at once and the agent renewed in a tight loop.
    @Test("renewal is due two thirds through the lifetime counted from issue, for short and long certificates",
          arguments: [30, 3600, 86_400])
    func renewalIsDueTwoThirdsIn(validitySeconds: Int) throws {
        let authority = try CertificateAuthority.create(name: "renewal test CA")
        let key = CredentialKey.generate()
        let now = Date()
        let issued = try authority.issue(
            csrPEM: try key.makeCSRPEM(commonName: "s1"), identity: try #require(PeerIdentity(role: .site, id: "s1")),
            validFor: .seconds(validitySeconds), now: now)
        let credentials = try SiteCredentials(keyPEM: key.pem, certificatePEM: issued.certificatePEM)
        let due = credentials.renewalDate(fraction: 2.0 / 3.0).timeIntervalSince(now)
        let expected = Double(validitySeconds) * 2 / 3
        #expect(abs(due - expected) < 2, "due \(due) s after issue, expected \(expected) s")
    }
}
