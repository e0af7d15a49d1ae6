import EstuaryModel
import EstuaryStore

// Request bodies of the token, site-enrollment and enrollment routes (admin-api.yaml is their
// normative description), and the views' initializers from store records. The response views
// themselves live in EstuaryModel (TrustViews.swift), shared with estuaryctl and the agent.

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

/// Body of `POST /v1/enroll`.
struct EnrollRequest: Decodable, Sendable {
    /// The join token, `estj_…`.
    var token: String
    /// PKCS#10 certificate signing request, PEM.
    var csr: String
}

extension APITokenView {
    /// The token as listed, its state as of `now`.
    init(_ record: APITokenRecord, now: Int64) {
        self.init(
            id: record.id, role: record.role, subject: record.subject, name: record.name, createdBy: record.createdBy,
            createdAtMs: record.createdAtMs, expiresAtMs: record.expiresAtMs, revokedAtMs: record.revokedAtMs,
            state: record.revokedAtMs != nil ? "revoked" : record.isExpired(atMs: now) ? "expired" : "active")
    }
}

extension AuditEntryView {
    init(_ record: AuditRecord) {
        self.init(
            seq: record.seq, atMs: record.atMs, actor: record.actor, role: record.role, action: record.action,
            target: record.target, source: record.source, outcome: record.outcome, detail: record.detail)
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
