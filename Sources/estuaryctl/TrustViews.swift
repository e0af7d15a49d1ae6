import EstuaryModel

// The API's token, site-enrollment and audit shapes as estuaryctl reads them (admin-api.yaml
// is their normative description; the coordinator's own copies live in EstuaryCoordinator).

struct CreatedTokenView: Codable, Sendable {
    var id: String
    var token: String
    var role: String
    var subject: String?
    var name: String
    var expiresAtMs: Int64?

    enum CodingKeys: String, CodingKey {
        case id, token, role, subject, name
        case expiresAtMs = "expires_at_ms"
    }
}

struct TokenView: Codable, Sendable {
    var id: String
    var role: String
    var subject: String?
    var name: String
    var createdBy: String
    var createdAtMs: Int64
    var expiresAtMs: Int64?
    var revokedAtMs: Int64?
    var state: String

    enum CodingKeys: String, CodingKey {
        case id, role, subject, name
        case createdBy = "created_by"
        case createdAtMs = "created_at_ms"
        case expiresAtMs = "expires_at_ms"
        case revokedAtMs = "revoked_at_ms"
        case state
    }
}

struct TokenListView: Codable, Sendable {
    var tokens: [TokenView]
}

struct SiteAddedView: Codable, Sendable {
    var site: String
    var org: String
    var joinToken: String
    var expiresAtMs: Int64
    var caFingerprint: String?

    enum CodingKeys: String, CodingKey {
        case site, org
        case joinToken = "join_token"
        case expiresAtMs = "expires_at_ms"
        case caFingerprint = "ca_fingerprint"
    }
}

struct SiteRevokedView: Codable, Sendable {
    var site: String
    var org: String
    var revokedAtMs: Int64
    var revokedCertificates: [String]

    enum CodingKeys: String, CodingKey {
        case site, org
        case revokedAtMs = "revoked_at_ms"
        case revokedCertificates = "revoked_certificates"
    }
}

struct AuditEntryView: Codable, Sendable {
    var seq: Int64
    var atMs: Int64
    var actor: String
    var role: String
    var action: String
    var target: String
    var source: String
    var outcome: String
    var detail: String

    enum CodingKeys: String, CodingKey {
        case seq
        case atMs = "at_ms"
        case actor, role, action, target, source, outcome, detail
    }
}

struct AuditListView: Codable, Sendable {
    var entries: [AuditEntryView]
    var nextSinceSeq: Int64
    var more: Bool

    enum CodingKeys: String, CodingKey {
        case entries
        case nextSinceSeq = "next_since_seq"
        case more
    }
}
