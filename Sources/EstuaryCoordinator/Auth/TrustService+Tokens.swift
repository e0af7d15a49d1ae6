import EstuaryModel
import EstuaryStore
import EstuaryTrust

/// An API token to create, already validated (see `TokenCreateRequest`).
public struct NewAPIToken: Sendable, Hashable {
    public var role: APIRole
    public var subject: String?
    public var name: String
    /// Nil: the token does not expire.
    public var ttlSeconds: Int?

    public init(role: APIRole, subject: String?, name: String, ttlSeconds: Int?) {
        self.role = role
        self.subject = subject
        self.name = name
        self.ttlSeconds = ttlSeconds
    }
}

/// A created token: its text (shown once, never stored) and what was stored.
public struct CreatedAPIToken: Sendable, Hashable {
    public var text: String
    public var record: APITokenRecord
}

extension TrustService {
    /// The stored token with this id, for verifying a presented bearer token.
    public func apiToken(id: String) async throws -> APITokenRecord? {
        try await store.read { tx in try tx.apiToken(id: id) }
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await store.read { tx in try tx.apiTokens() }
    }

    /// Creates a token and its audit row in one transaction.
    public func createAPIToken(_ request: NewAPIToken, by caller: Caller) async throws -> CreatedAPIToken {
        let now = clock()
        let token = SecretToken.generate(.api)
        let record = APITokenRecord(
            id: token.id, secretHash: token.secretHash, role: request.role.rawValue, subject: request.subject,
            name: request.name, createdBy: caller.actor, createdAtMs: now,
            expiresAtMs: request.ttlSeconds.map { now + Int64($0) * 1000 })
        var detail = "role=\(request.role.rawValue)"
        if let subject = request.subject { detail += " subject=\(subject)" }
        detail += " name=\(request.name)"
        detail += record.expiresAtMs.map { " expires_at_ms=\($0)" } ?? " expires=never"
        let audit = Self.record(
            AuditEntry(caller: caller, action: "token.create", target: "token:\(token.id)", outcome: .ok, detail: detail),
            atMs: now)
        try await store.write { tx in
            try tx.insertAPIToken(record)
            try tx.appendAudit(audit)
        }
        return CreatedAPIToken(text: token.text, record: record)
    }

    /// Revokes a token (again: no error, the first revocation time stays). Refuses to revoke
    /// the last usable admin token, which would leave nobody able to administer the mesh.
    public func revokeAPIToken(id: String, by caller: Caller) async throws -> APITokenRecord {
        let now = clock()
        let result: Result<APITokenRecord, BackendError> = try await store.write { tx in
            guard var record = try tx.apiToken(id: id) else { return .failure(.notFound("token \(id)")) }
            let usable = { (token: APITokenRecord) in token.revokedAtMs == nil && !token.isExpired(atMs: now) }
            if record.role == APIRole.admin.rawValue, usable(record),
                !(try tx.apiTokens().contains { $0.id != id && $0.role == APIRole.admin.rawValue && usable($0) })
            {
                return .failure(
                    .conflict("token \(id) is the last usable admin token; create another admin token before revoking it"))
            }
            let changed = try tx.revokeAPIToken(id: id, atMs: now)
            if changed { record.revokedAtMs = now }
            try tx.appendAudit(
                Self.record(
                    AuditEntry(
                        caller: caller, action: "token.revoke", target: "token:\(id)", outcome: .ok,
                        detail: changed ? "name=\(record.name)" : "already revoked"),
                    atMs: now))
            return .success(record)
        }
        return try result.get()
    }
}
