import EstuaryModel
import EstuaryStore
import EstuaryTrust

/// Why a join token was refused. Each maps to its own API error code.
public enum EnrollmentRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not a join token, no such token, or the wrong secret (401 `token_invalid`).
    case tokenInvalid
    /// 401 `token_expired`
    case tokenExpired
    /// Already used, possibly by a concurrent enrollment a moment ago (401 `token_used`).
    case tokenUsed
    /// The token's site was revoked (403 `site_revoked`).
    case siteRevoked

    public var code: String {
        switch self {
        case .tokenInvalid: "token_invalid"
        case .tokenExpired: "token_expired"
        case .tokenUsed: "token_used"
        case .siteRevoked: "site_revoked"
        }
    }

    public var description: String {
        switch self {
        case .tokenInvalid: "the join token is not valid"
        case .tokenExpired: "the join token has expired; ask for a new one with `estuaryctl site add`"
        case .tokenUsed: "the join token has already been used; each join token enrolls one agent once"
        case .siteRevoked: "the join token's site has been revoked"
        }
    }
}

/// A site's first certificate, as `POST /v1/enroll` returns it.
public struct Enrollment: Sendable, Hashable {
    public var site: SiteID
    public var serial: String
    public var certificatePEM: String
    public var caPEM: String
    public var notAfterMs: Int64
}

extension TrustService {
    /// Enrolls an agent: checks the join token (shape, secret, unused, unexpired, site not
    /// revoked), has the CA sign the CSR for the token's site, then consumes the token and
    /// records the certificate in one transaction. Of two enrollments racing with one token,
    /// exactly one gets a certificate; the other is refused with `tokenUsed`.
    ///
    /// Every outcome is audited here, so errors come wrapped in ``AlreadyAudited``.
    func enroll(token text: String, csrPEM: String, source: String) async throws -> Enrollment {
        guard let token = SecretToken.parse(text, as: .join) else {
            throw await refuse(.tokenInvalid, Caller.anonymous(source: source), detail: "not a join token")
        }
        let caller = Caller(actor: "join:\(token.id)", role: "join", source: source)
        let now = clock()
        guard let record = try await store.read({ tx in try tx.joinToken(id: token.id) }) else {
            throw await refuse(.tokenInvalid, caller, detail: "unknown join token")
        }
        guard token.matches(storedHash: record.secretHash) else {
            throw await refuse(.tokenInvalid, caller, target: record.siteID, detail: "wrong secret")
        }
        if let usedAt = record.usedAtMs {
            throw await refuse(
                .tokenUsed, caller, target: record.siteID, detail: "used at \(usedAt) from \(record.usedFrom ?? "?")")
        }
        // Before expiry: revoking a site also ends its unused tokens, and "revoked" is the reason.
        let enrollment = try await store.read { tx in try tx.siteEnrollment(record.siteID) }
        guard let enrollment, enrollment.revokedAtMs == nil, enrollment.addedAtMs <= record.createdAtMs else {
            throw await refuse(.siteRevoked, caller, target: record.siteID, detail: "site not admitted")
        }
        guard record.expiresAtMs > now else {
            throw await refuse(.tokenExpired, caller, target: record.siteID, detail: "expired at \(record.expiresAtMs)")
        }
        guard let issuer else {
            let error = BackendError.unavailable("this coordinator has no CA; it cannot enroll sites")
            throw await fail(error, caller, site: record.siteID, reason: "no CA")
        }

        let issued: IssuedCertificate
        do {
            issued = try await issuer.issueSiteCertificate(csrPEM: csrPEM, site: record.siteID)
        } catch let error as TrustError where error.isBadCSR {
            let invalid = BackendError.invalid([FieldError(field: "csr", message: error.message)])
            throw await fail(invalid, caller, site: record.siteID, reason: "invalid csr")
        }

        let certificate = CertificateRecord(
            serial: issued.serial, role: PeerRole.site.rawValue, subject: record.siteID.rawValue,
            notBeforeMs: Self.msSinceEpoch(issued.notBefore), notAfterMs: Self.msSinceEpoch(issued.notAfter),
            issuedAtMs: now)
        let target = "site:\(record.siteID)"
        let refusedRevoked = Self.record(
            AuditEntry(caller: caller, action: "site.enroll", target: target, outcome: .denied, detail: "site_revoked"),
            atMs: now)
        let refusedUsed = Self.record(
            AuditEntry(
                caller: caller, action: "site.enroll", target: target, outcome: .denied, detail: "token_used (lost a race)"),
            atMs: now)
        let enrolled = Self.record(
            AuditEntry(
                caller: caller, action: "site.enroll", target: target, outcome: .ok,
                detail: "certificate \(issued.serial) not_after_ms=\(certificate.notAfterMs)"),
            atMs: now)
        let refusal: EnrollmentRefusal? = try await store.write { tx in
            // Checked again inside the write: a revocation may have committed since the read.
            guard let current = try tx.siteEnrollment(record.siteID), current.revokedAtMs == nil else {
                try tx.appendAudit(refusedRevoked)
                return .siteRevoked
            }
            guard try tx.consumeJoinToken(id: token.id, atMs: now, from: source) else {
                try tx.appendAudit(refusedUsed)
                return .tokenUsed
            }
            try tx.insertCertificate(certificate)
            try tx.appendAudit(enrolled)
            return nil
        }
        // The certificate of a refused attempt was never recorded nor returned: it is dropped.
        if let refusal { throw AlreadyAudited(error: refusal) }
        return Enrollment(
            site: record.siteID, serial: issued.serial, certificatePEM: issued.certificatePEM, caPEM: issuer.caPEM,
            notAfterMs: certificate.notAfterMs)
    }

    private func refuse(
        _ refusal: EnrollmentRefusal, _ caller: Caller, target site: SiteID? = nil, detail: String
    ) async -> AlreadyAudited {
        await audit(
            AuditEntry(
                caller: caller, action: "site.enroll", target: site.map { "site:\($0)" } ?? "-", outcome: .denied,
                detail: "\(refusal.code): \(detail)"))
        return AlreadyAudited(error: refusal)
    }

    private func fail(_ error: BackendError, _ caller: Caller, site: SiteID, reason: String) async -> AlreadyAudited {
        await audit(
            AuditEntry(caller: caller, action: "site.enroll", target: "site:\(site)", outcome: .failed(reason), detail: "\(error)"))
        return AlreadyAudited(error: error)
    }
}
