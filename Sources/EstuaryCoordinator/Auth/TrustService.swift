import EstuaryModel
import EstuaryStore
import EstuaryTrust
import Foundation
import Logging

/// The trust state behind the API (DESIGN.md §8): API tokens and their roles, sites admitted
/// with one-time join tokens, the certificates issued at enrollment, and the append-only audit
/// log. Everything lives in the coordinator's store; each change is written together with its
/// audit row in one transaction.
public final class TrustService: Sendable {
    public let store: CoordinatorStore
    let issuer: (any CertificateIssuer)?
    let clock: @Sendable () -> Int64
    let logger: Logger
    let onSiteRevoked: @Sendable (SiteID, [String]) async -> Void

    /// Lifetime of a join token when `site add` names none.
    public static let defaultJoinTokenTTLSeconds = 3600
    public static let joinTokenTTLRange = 1...(7 * 86_400)
    /// API token lifetimes that may be asked for (none at all means the token does not expire).
    public static let apiTokenTTLRange = 1...(10 * 365 * 86_400)

    /// - Parameters:
    ///   - store: the coordinator's store (schema v2 or later).
    ///   - issuer: the CA that signs site certificates at enrollment; without one, `POST
    ///     /v1/enroll` answers 503 and `site add` omits the CA fingerprint.
    ///   - clock: wall-clock Unix milliseconds (token expiry, audit times).
    ///   - onSiteRevoked: called after a site's revocation is committed, with the serials of the
    ///     certificates it revoked (possibly none): the place to cut the site's live session and
    ///     add the serials to the in-memory revoked set.
    public init(
        store: CoordinatorStore, issuer: (any CertificateIssuer)?, clock: @escaping @Sendable () -> Int64, logger: Logger,
        onSiteRevoked: @escaping @Sendable (SiteID, [String]) async -> Void = { _, _ in }
    ) {
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.logger = logger
        self.onSiteRevoked = onSiteRevoked
    }

    public func now() -> Int64 { clock() }

    // MARK: audit

    /// Appends one audit row. A failure to write is logged, never thrown: the caller's action
    /// has already happened (or been refused) and its answer must not change.
    public func audit(_ entry: AuditEntry) async {
        let record = Self.record(entry, atMs: clock())
        do {
            _ = try await store.write { tx in try tx.appendAudit(record) }
        } catch {
            logger.error(
                "cannot write an audit row",
                metadata: ["action": "\(entry.action)", "actor": "\(entry.caller.actor)", "error": "\(error)"])
        }
    }

    /// Audit rows, newest last (see ``StoreTransaction/auditRecords(afterSeq:actor:action:limit:)``).
    public func auditLog(sinceSeq: Int64?, actor: String?, action: String?, limit: Int) async throws -> [AuditRecord] {
        try await store.read { tx in try tx.auditRecords(afterSeq: sinceSeq, actor: actor, action: action, limit: limit) }
    }

    static func record(_ entry: AuditEntry, atMs: Int64) -> AuditRecord {
        AuditRecord(
            atMs: atMs, actor: clipped(entry.caller.actor, 200), role: clipped(entry.caller.role, 64),
            action: clipped(entry.action, 64), target: clipped(entry.target, 512), source: clipped(entry.caller.source, 200),
            outcome: clipped(entry.outcome.description, 512), detail: clipped(entry.detail, 4096))
    }

    /// Audit fields carry text from requests (paths, reasons): bounded, so a row stays a row.
    static func clipped(_ text: String, _ maxCharacters: Int) -> String {
        text.count <= maxCharacters ? text : String(text.prefix(maxCharacters)) + "…"
    }

    static func msSinceEpoch(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// An error whose audit row has already been written (with more context than the API layer
/// has, e.g. the join token's id), so the API must not write another.
struct AlreadyAudited: Error {
    let error: any Error
}
