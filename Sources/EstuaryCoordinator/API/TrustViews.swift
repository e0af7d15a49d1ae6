import EstuaryModel
import EstuaryStore

// JSON shapes of the token, site-enrollment, enrollment and audit routes (admin-api.yaml is
// their normative description). Times are Unix epoch milliseconds, like the rest of the API.

/// Body of `POST /v1/tokens`.
struct TokenCreateRequest: Decodable, Sendable {
    var role: String
    var subject: String?
    var name: String
    /// `"720h"`, `"30d"`, `"90m"` or seconds; absent: the token does not expire.
    var ttl: String?

    static let maxNameCharacters = 128

    /// The request as a token to create, or every problem with it.
    func validated() throws(APIError) -> NewAPIToken {
        var problems: [FieldError] = []
        let role = APIRole(rawValue: role)
        if role == nil {
            let allowed = APIRole.allCases.map(\.rawValue).joined(separator: ", ")
            problems.append(FieldError(field: "role", message: "unknown role \"\(self.role)\"; one of \(allowed)"))
        }
        if let role {
            switch (role.takesSubject, subject) {
            case (true, nil):
                problems.append(FieldError(field: "subject", message: "is required for a \(role.rawValue) token (the \(role == .tenant ? "tenant" : "site") id)"))
            case (true, let subject?) where !Identifiers.isWellFormed(subject):
                problems.append(FieldError(field: "subject", message: "\"\(subject)\" is not an id (letters, digits, '.', '_' or '-')"))
            case (false, .some):
                problems.append(FieldError(field: "subject", message: "must be absent for an admin token"))
            default: break
            }
        }
        if let problem = TextRules.label(name, max: Self.maxNameCharacters) { problems.append(FieldError(field: "name", message: problem)) }
        var ttlSeconds: Int?
        if let ttl {
            switch TextRules.duration(ttl, in: TrustService.apiTokenTTLRange) {
            case .success(let seconds): ttlSeconds = seconds
            case .failure(let problem): problems.append(FieldError(field: "ttl", message: problem.message))
            }
        }
        guard problems.isEmpty, let role else { throw .invalid(problems) }
        return NewAPIToken(role: role, subject: subject, name: name, ttlSeconds: ttlSeconds)
    }
}

/// An API token as listed: never its secret.
struct APITokenView: Codable, Sendable, Hashable {
    var id: String
    var role: String
    var subject: String?
    var name: String
    var createdBy: String
    var createdAtMs: Int64
    var expiresAtMs: Int64?
    var revokedAtMs: Int64?
    /// `active`, `expired` or `revoked`.
    var state: String

    init(_ record: APITokenRecord, now: Int64) {
        id = record.id
        role = record.role
        subject = record.subject
        name = record.name
        createdBy = record.createdBy
        createdAtMs = record.createdAtMs
        expiresAtMs = record.expiresAtMs
        revokedAtMs = record.revokedAtMs
        state = record.revokedAtMs != nil ? "revoked" : record.isExpired(atMs: now) ? "expired" : "active"
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

struct APITokenListView: Codable, Sendable, Hashable {
    var tokens: [APITokenView]
}

/// Answer of `POST /v1/tokens`: the only time the token's text is shown.
struct CreatedTokenView: Codable, Sendable, Hashable {
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

/// Body of `POST /v1/sites` (`estuaryctl site add`).
struct SiteAddRequest: Decodable, Sendable {
    var id: String
    var org: String
    /// Lifetime of the join token; default 1h, at most 7d.
    var ttl: String?

    func validated() throws(APIError) -> (site: SiteID, org: String, ttlSeconds: Int) {
        var problems: [FieldError] = []
        if !Identifiers.isWellFormed(id) {
            problems.append(FieldError(field: "id", message: "\"\(id)\" is not an id (letters, digits, '.', '_' or '-')"))
        }
        if !Identifiers.isWellFormed(org) {
            problems.append(FieldError(field: "org", message: "\"\(org)\" is not an id (letters, digits, '.', '_' or '-')"))
        }
        var ttlSeconds = TrustService.defaultJoinTokenTTLSeconds
        if let ttl {
            switch TextRules.duration(ttl, in: TrustService.joinTokenTTLRange) {
            case .success(let seconds): ttlSeconds = seconds
            case .failure(let problem): problems.append(FieldError(field: "ttl", message: problem.message))
            }
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        return (SiteID(rawValue: id), org, ttlSeconds)
    }
}

/// Answer of `POST /v1/sites`: the join token, shown once, for the site's agent.
struct SiteAddedView: Codable, Sendable, Hashable {
    var site: SiteID
    var org: String
    var joinToken: String
    var expiresAtMs: Int64
    /// The CA the agent will be enrolled under, for the operator to compare out of band.
    var caFingerprint: String?

    enum CodingKeys: String, CodingKey {
        case site, org
        case joinToken = "join_token"
        case expiresAtMs = "expires_at_ms"
        case caFingerprint = "ca_fingerprint"
    }
}

/// Answer of `POST /v1/sites/{id}/revoke`.
struct SiteRevokedView: Codable, Sendable, Hashable {
    var site: SiteID
    var org: String
    var revokedAtMs: Int64
    var revokedCertificates: [String]

    enum CodingKeys: String, CodingKey {
        case site, org
        case revokedAtMs = "revoked_at_ms"
        case revokedCertificates = "revoked_certificates"
    }
}

/// Body of `POST /v1/enroll`.
struct EnrollRequest: Decodable, Sendable {
    /// The join token, `estj_…`.
    var token: String
    /// PKCS#10 certificate signing request, PEM.
    var csr: String
}

/// Answer of `POST /v1/enroll`.
struct EnrollView: Codable, Sendable, Hashable {
    var site: SiteID
    /// The site's certificate, PEM.
    var certificate: String
    /// The CA certificate, PEM: what the agent trusts the coordinator by.
    var ca: String
    var serial: String
    var notAfterMs: Int64

    enum CodingKeys: String, CodingKey {
        case site, certificate, ca, serial
        case notAfterMs = "not_after_ms"
    }
}

struct AuditEntryView: Codable, Sendable, Hashable {
    var seq: Int64
    var atMs: Int64
    var actor: String
    var role: String
    var action: String
    var target: String
    var source: String
    var outcome: String
    var detail: String

    init(_ record: AuditRecord) {
        seq = record.seq
        atMs = record.atMs
        actor = record.actor
        role = record.role
        action = record.action
        target = record.target
        source = record.source
        outcome = record.outcome
        detail = record.detail
    }

    enum CodingKeys: String, CodingKey {
        case seq
        case atMs = "at_ms"
        case actor, role, action, target, source, outcome, detail
    }
}

/// Answer of `GET /v1/audit`: entries oldest first (newest last).
struct AuditListView: Codable, Sendable, Hashable {
    var entries: [AuditEntryView]
    /// Pass as `since_seq` to get what comes after this page (the last entry's seq, or the
    /// `since_seq` asked for when the page is empty).
    var nextSinceSeq: Int64
    /// Whether the page is full, so that more entries may follow right away.
    var more: Bool

    enum CodingKeys: String, CodingKey {
        case entries
        case nextSinceSeq = "next_since_seq"
        case more
    }
}

/// Checks shared by the trust routes' bodies.
enum TextRules {
    /// A human label (a token's name): 1…`max` characters, no control characters.
    static func label(_ text: String, max: Int) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.unicodeScalars.count > max { return "must be at most \(max) characters" }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        return nil
    }

    /// A duration such as `"720h"`, `"30d"`, `"90m"`, or whole seconds, within `range` seconds.
    static func duration(_ text: String, in range: ClosedRange<Int>) -> Result<Int, TextProblem> {
        guard let seconds = WalltimeParser.seconds(from: text), !text.contains(":") else {
            return .failure(TextProblem(message: "cannot read \"\(text)\" as a duration; write e.g. \"90m\", \"720h\" or \"30d\""))
        }
        guard range.contains(seconds) else {
            return .failure(TextProblem(message: "must be between \(range.lowerBound) s and \(range.upperBound / 86_400) days, got \(seconds) s"))
        }
        return .success(seconds)
    }
}

/// What is wrong with one text field.
struct TextProblem: Error, Sendable, Hashable {
    var message: String
}
