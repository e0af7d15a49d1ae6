/// JSON shapes of the token, site-enrollment, enrollment and audit routes (Protocol/admin-api.yaml
/// is their normative description). Written by the coordinator, read by estuaryctl and, for
/// enrollment, by the agent. Times are Unix epoch milliseconds, like the rest of the API.

/// An API token as listed: never its secret.
public struct APITokenView: Codable, Sendable, Hashable {
    public var id: String
    public var role: String
    public var subject: String?
    public var name: String
    public var createdBy: String
    public var createdAtMs: Int64
    public var expiresAtMs: Int64?
    public var revokedAtMs: Int64?
    /// `active`, `expired` or `revoked`.
    public var state: String

    public init(
        id: String, role: String, subject: String?, name: String, createdBy: String, createdAtMs: Int64,
        expiresAtMs: Int64?, revokedAtMs: Int64?, state: String
    ) {
        self.id = id
        self.role = role
        self.subject = subject
        self.name = name
        self.createdBy = createdBy
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.revokedAtMs = revokedAtMs
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case id, role, subject, name
        case createdBy = "created_by"
        case createdAtMs = "created_at_ms"
        case expiresAtMs = "expires_at_ms"
        case revokedAtMs = "revoked_at_ms"
        case state
    }
}

/// Answer of `GET /v1/tokens`.
public struct APITokenListView: Codable, Sendable, Hashable {
    public var tokens: [APITokenView]

    public init(tokens: [APITokenView]) { self.tokens = tokens }
}

/// Answer of `POST /v1/tokens`: the only time the token's text is shown.
public struct CreatedTokenView: Codable, Sendable, Hashable {
    public var id: String
    public var token: String
    public var role: String
    public var subject: String?
    public var name: String
    public var expiresAtMs: Int64?

    public init(id: String, token: String, role: String, subject: String?, name: String, expiresAtMs: Int64?) {
        self.id = id
        self.token = token
        self.role = role
        self.subject = subject
        self.name = name
        self.expiresAtMs = expiresAtMs
    }

    enum CodingKeys: String, CodingKey {
        case id, token, role, subject, name
        case expiresAtMs = "expires_at_ms"
    }
}

/// Answer of `POST /v1/sites`: the join token, shown once, for the site's agent.
public struct SiteAddedView: Codable, Sendable, Hashable {
    public var site: SiteID
    public var org: String
    public var joinToken: String
    public var expiresAtMs: Int64
    /// The CA the agent will be enrolled under, for the operator to compare out of band.
    public var caFingerprint: String?

    public init(site: SiteID, org: String, joinToken: String, expiresAtMs: Int64, caFingerprint: String?) {
        self.site = site
        self.org = org
        self.joinToken = joinToken
        self.expiresAtMs = expiresAtMs
        self.caFingerprint = caFingerprint
    }

    enum CodingKeys: String, CodingKey {
        case site, org
        case joinToken = "join_token"
        case expiresAtMs = "expires_at_ms"
        case caFingerprint = "ca_fingerprint"
    }
}

/// Answer of `POST /v1/sites/{id}/revoke`.
public struct SiteRevokedView: Codable, Sendable, Hashable {
    public var site: SiteID
    public var org: String
    public var revokedAtMs: Int64
    public var revokedCertificates: [String]

    public init(site: SiteID, org: String, revokedAtMs: Int64, revokedCertificates: [String]) {
        self.site = site
        self.org = org
        self.revokedAtMs = revokedAtMs
        self.revokedCertificates = revokedCertificates
    }

    enum CodingKeys: String, CodingKey {
        case site, org
        case revokedAtMs = "revoked_at_ms"
        case revokedCertificates = "revoked_certificates"
    }
}

/// Answer of `POST /v1/enroll`.
public struct EnrollView: Codable, Sendable, Hashable {
    public var site: SiteID
    /// The site's certificate, PEM.
    public var certificate: String
    /// The CA certificate, PEM: what the agent trusts the coordinator by.
    public var ca: String
    public var serial: String
    public var notAfterMs: Int64

    public init(site: SiteID, certificate: String, ca: String, serial: String, notAfterMs: Int64) {
        self.site = site
        self.certificate = certificate
        self.ca = ca
        self.serial = serial
        self.notAfterMs = notAfterMs
    }

    enum CodingKeys: String, CodingKey {
        case site, certificate, ca, serial
        case notAfterMs = "not_after_ms"
    }
}

/// One entry of the audit log.
public struct AuditEntryView: Codable, Sendable, Hashable {
    public var seq: Int64
    public var atMs: Int64
    public var actor: String
    public var role: String
    public var action: String
    public var target: String
    public var source: String
    public var outcome: String
    public var detail: String

    public init(
        seq: Int64, atMs: Int64, actor: String, role: String, action: String, target: String, source: String,
        outcome: String, detail: String
    ) {
        self.seq = seq
        self.atMs = atMs
        self.actor = actor
        self.role = role
        self.action = action
        self.target = target
        self.source = source
        self.outcome = outcome
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case seq
        case atMs = "at_ms"
        case actor, role, action, target, source, outcome, detail
    }
}

/// Answer of `GET /v1/audit`: entries oldest first (newest last).
public struct AuditListView: Codable, Sendable, Hashable {
    public var entries: [AuditEntryView]
    /// Pass as `since_seq` to get what comes after this page (the last entry's seq, or the
    /// `since_seq` asked for when the page is empty).
    public var nextSinceSeq: Int64
    /// Whether the page is full, so that more entries may follow right away.
    public var more: Bool

    public init(entries: [AuditEntryView], nextSinceSeq: Int64, more: Bool) {
        self.entries = entries
        self.nextSinceSeq = nextSinceSeq
        self.more = more
    }

    enum CodingKeys: String, CodingKey {
        case entries
        case nextSinceSeq = "next_since_seq"
        case more
    }
}
