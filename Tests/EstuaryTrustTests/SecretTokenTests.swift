import EstuaryTrust
import Testing

@Suite struct SecretTokenTests {
    @Test func roundTripsThroughItsText() throws {
        let token = SecretToken.generate(.join)
        let parsed = try #require(SecretToken.parse(token.text, as: .join))
        #expect(parsed == token)
        #expect(parsed.matches(storedHash: token.secretHash))
        #expect(token.text.hasPrefix("estj_"))
    }

    @Test func refusesOtherKindsAndShapes() {
        let token = SecretToken.generate(.api)
        #expect(SecretToken.parse(token.text, as: .join) == nil)
        #expect(SecretToken.parse(token.text + "a", as: .api) == nil)
        #expect(SecretToken.parse(token.text.uppercased(), as: .api) == nil)
        #expect(SecretToken.parse("estk__", as: .api) == nil)
        #expect(SecretToken.parse("", as: .api) == nil)
    }

    @Test func aForgedSecretWithTheRightIdDoesNotMatch() throws {
        let real = SecretToken.generate(.api)
        let forged = try #require(SecretToken.parse("estk_\(real.id)_\(String(repeating: "a", count: 32))", as: .api))
        #expect(!forged.matches(storedHash: real.secretHash))
        #expect(!real.matches(storedHash: ""))
    }

    @Test func twoTokensDiffer() {
        #expect(SecretToken.generate(.api) != SecretToken.generate(.api))
    }
}

@Suite struct PeerIdentityTests {
    @Test func parsesItsOwnURI() throws {
        let identity = try #require(PeerIdentity(role: .site, id: "pengcheng-1"))
        #expect(identity.uri == "estuary://site/pengcheng-1")
        #expect(PeerIdentity(uri: identity.uri) == identity)
        #expect(PeerIdentity(uri: "estuary://coordinator/c1")?.role == .coordinator)
    }

    @Test func refusesLookalikes() {
        for uri in [
            "estuary://site/", "estuary://site/a/b", "estuary://tenant/a", "spiffe://site/a",
            "estuary://site/..", "estuary://site/a b", "ESTUARY://site/a", "estuary://site/a?x=1",
        ] {
            #expect(PeerIdentity(uri: uri) == nil, "\(uri)")
        }
    }
}
