import EstuaryModel

/// An API bearer token as stored: never the secret, only its SHA-256.
public struct APITokenRecord: Sendable, Hashable {
    public var id: String
    public var secretHash: String
    /// `admin`, `tenant` or `site-operator` (the API owns the meaning).
    public var role: String
    /// The tenant id of a `tenant` token, the site id of a `site-operator` token.
    public var subject: String?
    public var name: String
    /// Who created it: a token id, or `bootstrap`.
    public var createdBy: String
    public var createdAtMs: Int64
    /// Nil: never expires.
    public var expiresAtMs: Int64?
    public var revokedAtMs: Int64?

    public init(
        id: String, secretHash: String, role: String, subject: String?, name: String, createdBy: String,
        createdAtMs: Int64, expiresAtMs: Int64?, revokedAtMs: Int64? = nil
    ) {
        self.id = id
        self.secretHash = secretHash
        self.role = role
        self.subject = subject
        self.name = name
        self.createdBy = createdBy
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.revokedAtMs = revokedAtMs
    }

    public func isExpired(atMs now: Int64) -> Bool { expiresAtMs.map { $0 <= now } ?? false }
}

/// A one-time join token that lets one agent enroll as one site.
public struct JoinTokenRecord: Sendable, Hashable {
    public var id: String
    public var secretHash: String
    public var siteID: SiteID
    public var org: String
    public var createdBy: String
    public var createdAtMs: Int64
    public var expiresAtMs: Int64
    public var usedAtMs: Int64?
    /// The remote address the token was used from.
    public var usedFrom: String?

    public init(
        id: String, secretHash: String, siteID: SiteID, org: String, createdBy: String, createdAtMs: Int64,
        expiresAtMs: Int64, usedAtMs: Int64? = nil, usedFrom: String? = nil
    ) {
        self.id = id
        self.secretHash = secretHash
        self.siteID = siteID
        self.org = org
        self.createdBy = createdBy
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.usedAtMs = usedAtMs
        self.usedFrom = usedFrom
    }
}

/// A site the mesh has admitted (`site add`), until it is revoked.
public struct SiteEnrollmentRecord: Sendable, Hashable {
    public var siteID: SiteID
    public var org: String
    public var addedAtMs: Int64
    public var revokedAtMs: Int64?

    public init(siteID: SiteID, org: String, addedAtMs: Int64, revokedAtMs: Int64? = nil) {
        self.siteID = siteID
        self.org = org
        self.addedAtMs = addedAtMs
        self.revokedAtMs = revokedAtMs
    }
}

/// A certificate the coordinator's CA issued, by serial (hex).
public struct CertificateRecord: Sendable, Hashable {
    public var serial: String
    /// `site` or `coordinator`, as in the certificate's identity.
    public var role: String
    /// The site or coordinator id the certificate names.
    public var subject: String
    public var notBeforeMs: Int64
    public var notAfterMs: Int64
    public var issuedAtMs: Int64
    public var revokedAtMs: Int64?

    public init(
        serial: String, role: String, subject: String, notBeforeMs: Int64, notAfterMs: Int64, issuedAtMs: Int64,
        revokedAtMs: Int64? = nil
    ) {
        self.serial = serial
        self.role = role
        self.subject = subject
        self.notBeforeMs = notBeforeMs
        self.notAfterMs = notAfterMs
        self.issuedAtMs = issuedAtMs
        self.revokedAtMs = revokedAtMs
    }
}

/// One row of the append-only audit log. `seq` is assigned by the store on append.
public struct AuditRecord: Sendable, Hashable {
    public var seq: Int64
    public var atMs: Int64
    /// A token id, `join:<token id>`, `anonymous`, or a mesh peer (`site:<id>`).
    public var actor: String
    public var role: String
    /// `job.submit`, `token.create`, `site.enroll`, `auth.denied` …
    public var action: String
    public var target: String
    /// The remote address the request came from.
    public var source: String
    /// `ok`, `denied` or `failed: <reason>`.
    public var outcome: String
    public var detail: String

    public init(
        seq: Int64 = 0, atMs: Int64, actor: String, role: String, action: String, target: String, source: String,
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
}
