import EstuaryModel
import Hummingbird
import NIOCore

/// The handlers of `/v1/tokens`, `POST /v1/sites`, `/v1/sites/{id}/revoke`, `/v1/enroll` and
/// `/v1/audit`. Access (admin only, except enrollment) is checked by the responder.
struct APITrustHandlers: Sendable {
    let trust: TrustService
    let tokenCache: TokenCache
    let body: BodyReader

    static let defaultAuditLimit = 100
    static let maxAuditLimit = 1000

    /// `POST /v1/tokens` → 201 with the token's text, shown this once.
    func createToken(_ request: Request, _ caller: Caller) async throws -> Response {
        let wanted = try await body.decode(TokenCreateRequest.self, request).validated()
        let created = try await trust.createAPIToken(wanted, by: caller)
        let record = created.record
        let view = CreatedTokenView(
            id: record.id, token: created.text, role: record.role, subject: record.subject, name: record.name,
            expiresAtMs: record.expiresAtMs)
        return APIJSON.response(view, status: .created, headers: [.cacheControl: "no-store"])
    }

    /// `GET /v1/tokens`: every token, oldest first, without secrets.
    func listTokens() async throws -> Response {
        let now = trust.now()
        return APIJSON.response(APITokenListView(tokens: try await trust.apiTokens().map { APITokenView($0, now: now) }))
    }

    /// `POST /v1/tokens/{id}/revoke`: effective at once on this coordinator.
    func revokeToken(_ id: String, _ caller: Caller) async throws -> Response {
        guard id.utf8.count <= 64 else { throw APIError.notFound("token not found") }
        let record = try await trust.revokeAPIToken(id: id, by: caller)
        tokenCache.invalidate(id)
        return APIJSON.response(APITokenView(record, now: trust.now()))
    }

    /// `POST /v1/sites` (`site add`) → 201 with a one-time join token.
    func addSite(_ request: Request, _ caller: Caller) async throws -> Response {
        let wanted = try await body.decode(SiteAddRequest.self, request).validated()
        let added = try await trust.addSite(wanted.site, org: wanted.org, ttlSeconds: wanted.ttlSeconds, by: caller)
        let view = SiteAddedView(
            site: added.site, org: added.org, joinToken: added.joinToken, expiresAtMs: added.expiresAtMs,
            caFingerprint: added.caFingerprint)
        return APIJSON.response(view, status: .created, headers: [.cacheControl: "no-store"])
    }

    /// `POST /v1/sites/{id}/revoke`
    func revokeSite(_ id: SiteID, _ caller: Caller) async throws -> Response {
        guard id.isWellFormed else { throw APIError.notFound("site \(id) not found") }
        let revoked = try await trust.revokeSite(id, by: caller)
        return APIJSON.response(
            SiteRevokedView(
                site: revoked.site, org: revoked.org, revokedAtMs: revoked.revokedAtMs,
                revokedCertificates: revoked.revokedCertificates))
    }

    /// `POST /v1/enroll` (no bearer token: the join token in the body is the credential) → 201.
    func enroll(_ request: Request, _ client: ClientAddress) async throws -> Response {
        let wanted = try await body.decode(EnrollRequest.self, request)
        let enrollment = try await trust.enroll(token: wanted.token, csrPEM: wanted.csr, source: client.text)
        let view = EnrollView(
            site: enrollment.site, certificate: enrollment.certificatePEM, ca: enrollment.caPEM, serial: enrollment.serial,
            notAfterMs: enrollment.notAfterMs)
        return APIJSON.response(view, status: .created)
    }

    /// `GET /v1/audit?since_seq=&actor=&action=&limit=`: newest last. Without `since_seq`, the
    /// newest `limit` entries; with it, the `limit` entries after it.
    func audit(_ request: Request) async throws -> Response {
        var parameters = APIParameters(request)
        let sinceSeq = parameters.integer("since_seq", in: 0...Int64.max)
        let limit = Int(parameters.integer("limit", in: 1...Int64(Self.maxAuditLimit)) ?? Int64(Self.defaultAuditLimit))
        let actor = parameters.text("actor", maxLength: 200)
        let action = parameters.text("action", maxLength: 64)
        try parameters.check()
        let records = try await trust.auditLog(sinceSeq: sinceSeq, actor: actor, action: action, limit: limit)
        let view = AuditListView(
            entries: records.map(AuditEntryView.init), nextSinceSeq: records.last?.seq ?? sinceSeq ?? 0,
            more: sinceSeq != nil && records.count == limit)
        return APIJSON.response(view)
    }
}

/// Reads and decodes request bodies within the API's size limit (413 beyond it).
struct BodyReader: Sendable {
    let maxBodyBytes: Int

    func read(_ request: Request) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
    }

    func decode<Value: Decodable>(_ type: Value.Type, _ request: Request) async throws -> Value {
        let bytes = try await read(request)
        guard bytes.readableBytes > 0 else { throw APIError.invalid(field: "body", "is empty; send a JSON object") }
        return try APIJSON.decode(type, from: bytes)
    }
}
