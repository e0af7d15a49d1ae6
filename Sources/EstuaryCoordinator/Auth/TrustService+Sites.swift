import EstuaryModel
import EstuaryStore
import EstuaryTrust

/// A site admitted by `site add`, with the join token for its agent (shown once).
public struct AddedSite: Sendable, Hashable {
    public var site: SiteID
    public var org: String
    public var joinToken: String
    public var joinTokenID: String
    public var expiresAtMs: Int64
    /// Nil when the coordinator has no CA.
    public var caFingerprint: String?
}

/// What `site revoke` did.
public struct RevokedSite: Sendable, Hashable {
    public var site: SiteID
    public var org: String
    public var revokedAtMs: Int64
    /// Serials of the certificates revoked by this call.
    public var revokedCertificates: [String]
    /// Join tokens of the site that were still usable and now are not.
    public var endedJoinTokens: Int
}

extension TrustService {
    /// Admits a site (or readmits a revoked one) and creates a one-time join token for it.
    /// Adding an admitted site again makes another join token (an agent that lost its key);
    /// adding it for another org is a conflict.
    public func addSite(_ site: SiteID, org: String, ttlSeconds: Int, by caller: Caller) async throws -> AddedSite {
        let now = clock()
        let token = SecretToken.generate(.join)
        let expiresAtMs = now + Int64(ttlSeconds) * 1000
        let caFingerprint = issuer?.caFingerprint
        let result: Result<AddedSite, BackendError> = try await store.write { tx in
            let existing = try tx.siteEnrollment(site)
            if let existing, existing.revokedAtMs == nil, existing.org != org {
                return .failure(.conflict("site \(site) is enrolled for org \(existing.org), not \(org)"))
            }
            var detail = "org=\(org) join_token=\(token.id) expires_at_ms=\(expiresAtMs)"
            if existing == nil || existing?.revokedAtMs != nil {
                if existing != nil { detail += " readmitted after revocation" }
                try tx.putSiteEnrollment(SiteEnrollmentRecord(siteID: site, org: org, addedAtMs: now))
            }
            try tx.insertJoinToken(
                JoinTokenRecord(
                    id: token.id, secretHash: token.secretHash, siteID: site, org: org, createdBy: caller.actor,
                    createdAtMs: now, expiresAtMs: expiresAtMs))
            try tx.appendAudit(
                Self.record(
                    AuditEntry(caller: caller, action: "site.add", target: "site:\(site)", outcome: .ok, detail: detail),
                    atMs: now))
            return .success(
                AddedSite(
                    site: site, org: org, joinToken: token.text, joinTokenID: token.id, expiresAtMs: expiresAtMs,
                    caFingerprint: caFingerprint))
        }
        return try result.get()
    }

    /// Revokes a site: its enrollment, every unexpired certificate issued to it and every join
    /// token still usable, in one transaction; then tells the coordinator (``onSiteRevoked``) so
    /// that it cuts the live session and refuses the serials from now on. Revoking again is
    /// harmless and calls the hook again.
    public func revokeSite(_ site: SiteID, by caller: Caller) async throws -> RevokedSite {
        let now = clock()
        let result: Result<RevokedSite, BackendError> = try await store.write { tx in
            guard let enrollment = try tx.siteEnrollment(site) else {
                return .failure(.notFound("site \(site) (it was never added with `site add`)"))
            }
            try tx.revokeSiteEnrollment(site, atMs: now)
            let serials = try tx.revokeCertificates(role: PeerRole.site.rawValue, subject: site.rawValue, atMs: now)
            let ended = try tx.expireUnusedJoinTokens(site: site, atMs: now)
            var detail = "revoked \(serials.count) certificate(s)"
            if !serials.isEmpty { detail += ": " + serials.joined(separator: ",") }
            if ended > 0 { detail += "; ended \(ended) unused join token(s)" }
            if enrollment.revokedAtMs != nil { detail += "; already revoked" }
            try tx.appendAudit(
                Self.record(
                    AuditEntry(caller: caller, action: "site.revoke", target: "site:\(site)", outcome: .ok, detail: detail),
                    atMs: now))
            return .success(
                RevokedSite(
                    site: site, org: enrollment.org, revokedAtMs: enrollment.revokedAtMs ?? now, revokedCertificates: serials,
                    endedJoinTokens: ended))
        }
        let revoked = try result.get()
        await onSiteRevoked(site, revoked.revokedCertificates)
        return revoked
    }

    public func siteEnrollments() async throws -> [SiteEnrollmentRecord] {
        try await store.read { tx in try tx.siteEnrollments() }
    }
}
