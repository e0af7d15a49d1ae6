import EstuaryModel
import GRDB

/// Trust state: API tokens, join tokens, site enrollments, issued certificates, the audit log.
extension StoreTransaction {
    // MARK: API tokens

    public func insertAPIToken(_ token: APITokenRecord) throws {
        try run(
            """
                INSERT INTO api_tokens (id, secret_hash, role, subject, name, created_by, created_at_ms, expires_at_ms,
                                        revoked_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                token.id, token.secretHash, token.role, token.subject, token.name, token.createdBy, token.createdAtMs,
                token.expiresAtMs, token.revokedAtMs,
            ])
    }

    public func apiToken(id: String) throws -> APITokenRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_tokens WHERE id = ?"), arguments: [id])
            .map(Self.apiToken(from:))
    }

    /// Every API token, oldest first.
    public func apiTokens() throws -> [APITokenRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM api_tokens ORDER BY created_at_ms, id").map(Self.apiToken(from:))
    }

    public func apiTokenCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM api_tokens") ?? 0
    }

    /// Marks the token revoked. False when there is no such token or it was already revoked
    /// (the first revocation time is kept).
    @discardableResult
    public func revokeAPIToken(id: String, atMs: Int64) throws -> Bool {
        try run("UPDATE api_tokens SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL", arguments: [atMs, id])
        return db.changesCount == 1
    }

    static func apiToken(from row: Row) -> APITokenRecord {
        APITokenRecord(
            id: row["id"], secretHash: row["secret_hash"], role: row["role"], subject: row["subject"], name: row["name"],
            createdBy: row["created_by"], createdAtMs: row["created_at_ms"], expiresAtMs: row["expires_at_ms"],
            revokedAtMs: row["revoked_at_ms"])
    }

    // MARK: join tokens

    public func insertJoinToken(_ token: JoinTokenRecord) throws {
        try run(
            """
                INSERT INTO join_tokens (id, secret_hash, site_id, org, created_by, created_at_ms, expires_at_ms, used_at_ms,
                                         used_from)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                token.id, token.secretHash, token.siteID.rawValue, token.org, token.createdBy, token.createdAtMs,
                token.expiresAtMs, token.usedAtMs, token.usedFrom,
            ])
    }

    public func joinToken(id: String) throws -> JoinTokenRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM join_tokens WHERE id = ?", arguments: [id]).map { row in
            JoinTokenRecord(
                id: row["id"], secretHash: row["secret_hash"], siteID: SiteID(rawValue: row["site_id"]), org: row["org"],
                createdBy: row["created_by"], createdAtMs: row["created_at_ms"], expiresAtMs: row["expires_at_ms"],
                usedAtMs: row["used_at_ms"], usedFrom: row["used_from"])
        }
    }

    /// Marks an unused join token used. True for exactly one caller per token: the update is
    /// conditional on `used_at_ms IS NULL`, and writers are serialised, so of two enrollments
    /// racing with one token the second sees no row to change.
    public func consumeJoinToken(id: String, atMs: Int64, from source: String) throws -> Bool {
        try run(
            "UPDATE join_tokens SET used_at_ms = ?, used_from = ? WHERE id = ? AND used_at_ms IS NULL",
            arguments: [atMs, source, id])
        return db.changesCount == 1
    }

    /// Ends every unused, unexpired join token of `site` now (when the site is revoked, so a
    /// token handed out before cannot enroll it again). Returns how many were ended.
    @discardableResult
    public func expireUnusedJoinTokens(site: SiteID, atMs: Int64) throws -> Int {
        try run(
            "UPDATE join_tokens SET expires_at_ms = ? WHERE site_id = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
            arguments: [atMs, site.rawValue, atMs])
        return db.changesCount
    }

    // MARK: site enrollments

    public func siteEnrollment(_ site: SiteID) throws -> SiteEnrollmentRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM site_enrollments WHERE site_id = ?", arguments: [site.rawValue])
            .map(Self.enrollment(from:))
    }

    public func siteEnrollments() throws -> [SiteEnrollmentRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM site_enrollments ORDER BY site_id").map(Self.enrollment(from:))
    }

    /// Creates or replaces the enrollment of `record.siteID`.
    public func putSiteEnrollment(_ record: SiteEnrollmentRecord) throws {
        try run(
            """
                INSERT INTO site_enrollments (site_id, org, added_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?)
                ON CONFLICT(site_id) DO UPDATE SET org = excluded.org, added_at_ms = excluded.added_at_ms,
                    revoked_at_ms = excluded.revoked_at_ms
                """,
            arguments: [record.siteID.rawValue, record.org, record.addedAtMs, record.revokedAtMs])
    }

    /// Marks the enrollment revoked; false when there is none or it already was.
    @discardableResult
    public func revokeSiteEnrollment(_ site: SiteID, atMs: Int64) throws -> Bool {
        try run(
            "UPDATE site_enrollments SET revoked_at_ms = ? WHERE site_id = ? AND revoked_at_ms IS NULL",
            arguments: [atMs, site.rawValue])
        return db.changesCount == 1
    }

    static func enrollment(from row: Row) -> SiteEnrollmentRecord {
        SiteEnrollmentRecord(
            siteID: SiteID(rawValue: row["site_id"]), org: row["org"], addedAtMs: row["added_at_ms"],
            revokedAtMs: row["revoked_at_ms"])
    }

    // MARK: certificates

    public func insertCertificate(_ certificate: CertificateRecord) throws {
        try run(
            """
                INSERT INTO certificates (serial, role, subject, not_before_ms, not_after_ms, issued_at_ms, revoked_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                certificate.serial, certificate.role, certificate.subject, certificate.notBeforeMs, certificate.notAfterMs,
                certificate.issuedAtMs, certificate.revokedAtMs,
            ])
    }

    public func certificate(serial: String) throws -> CertificateRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM certificates WHERE serial = ?", arguments: [serial])
            .map(Self.certificate(from:))
    }

    /// Certificates issued to one identity, oldest first.
    public func certificates(role: String, subject: String) throws -> [CertificateRecord] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM certificates WHERE role = ? AND subject = ? ORDER BY issued_at_ms, serial",
            arguments: [role, subject]
        ).map(Self.certificate(from:))
    }

    /// Revokes every unrevoked certificate of one identity that has not expired at `atMs`, and
    /// returns their serials (expired ones need no revocation: no peer accepts them anyway).
    public func revokeCertificates(role: String, subject: String, atMs: Int64) throws -> [String] {
        let serials = try String.fetchAll(
            db,
            sql: """
                SELECT serial FROM certificates
                WHERE role = ? AND subject = ? AND revoked_at_ms IS NULL AND not_after_ms > ? ORDER BY serial
                """,
            arguments: [role, subject, atMs])
        try run(
            """
                UPDATE certificates SET revoked_at_ms = ?
                WHERE role = ? AND subject = ? AND revoked_at_ms IS NULL AND not_after_ms > ?
                """,
            arguments: [atMs, role, subject, atMs])
        return serials
    }

    /// Revoked certificates that have not yet expired at `atMs`: the set a peer must refuse,
    /// loaded into memory at start-up.
    public func revokedCertificates(unexpiredAtMs atMs: Int64) throws -> [CertificateRecord] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM certificates WHERE revoked_at_ms IS NOT NULL AND not_after_ms > ? ORDER BY serial",
            arguments: [atMs]
        ).map(Self.certificate(from:))
    }

    static func certificate(from row: Row) -> CertificateRecord {
        CertificateRecord(
            serial: row["serial"], role: row["role"], subject: row["subject"], notBeforeMs: row["not_before_ms"],
            notAfterMs: row["not_after_ms"], issuedAtMs: row["issued_at_ms"], revokedAtMs: row["revoked_at_ms"])
    }

    // MARK: audit log

    /// Appends one row and returns its sequence number.
    @discardableResult
    public func appendAudit(_ record: AuditRecord) throws -> Int64 {
        try run(
            """
                INSERT INTO audit_log (at_ms, actor, role, action, target, source, outcome, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                record.atMs, record.actor, record.role, record.action, record.target, record.source, record.outcome,
                record.detail,
            ])
        return db.lastInsertedRowID
    }

    /// Audit rows in sequence order (newest last), optionally only one actor's or one action's.
    /// With `afterSeq`, the first `limit` rows after it (paging forward); without, the newest
    /// `limit` rows.
    public func auditRecords(afterSeq: Int64?, actor: String?, action: String?, limit: Int) throws -> [AuditRecord] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let afterSeq {
            clauses.append("seq > ?")
            arguments += [afterSeq]
        }
        if let actor {
            clauses.append("actor = ?")
            arguments += [actor]
        }
        if let action {
            clauses.append("action = ?")
            arguments += [action]
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        arguments += [limit]
        let order = afterSeq == nil ? "DESC" : "ASC"
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM audit_log \(whereClause) ORDER BY seq \(order) LIMIT ?", arguments: arguments)
        let records = rows.map { row in
            AuditRecord(
                seq: row["seq"], atMs: row["at_ms"], actor: row["actor"], role: row["role"], action: row["action"],
                target: row["target"], source: row["source"], outcome: row["outcome"], detail: row["detail"])
        }
        return afterSeq == nil ? records.reversed() : records
    }
}
