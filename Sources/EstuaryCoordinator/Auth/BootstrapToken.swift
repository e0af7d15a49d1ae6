#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import EstuaryStore
import EstuaryTrust
import Foundation

/// Name of the file, in the data directory, that receives the bootstrap admin token.
public let adminTokenFileName = "admin.token"

/// Gives a new mesh its first admin token: when the store holds no API token at all, creates an
/// admin token (name `bootstrap`, no expiry), writes its text to `<dataDirectory>/admin.token`
/// (mode 0600, written to a temporary file, synced and renamed into place) and returns that
/// path. Returns nil, touching nothing, when any API token exists.
///
/// The text is written (and synced) to a temporary file before the token is committed and
/// renamed into place after, so a failure leaves either no token (the next start tries again)
/// or a token whose text is on disk, never a token nobody holds.
public func bootstrapAdminToken(store: CoordinatorStore, dataDirectory: String, now: Int64) async throws -> String? {
    guard try await store.read({ tx in try tx.apiTokenCount() }) == 0 else { return nil }
    let path = (dataDirectory as NSString).appendingPathComponent(adminTokenFileName)
    let token = SecretToken.generate(.api)
    let pending = path + ".new"
    try SecretFile.write(token.text + "\n", to: pending)
    let record = APITokenRecord(
        id: token.id, secretHash: token.secretHash, role: APIRole.admin.rawValue, subject: nil, name: "bootstrap",
        createdBy: Caller.coordinator.actor, createdAtMs: now, expiresAtMs: nil)
    let audit = TrustService.record(
        AuditEntry(
            caller: .coordinator, action: "token.create", target: "token:\(token.id)", outcome: .ok,
            detail: "role=admin name=bootstrap expires=never file=\(path)"),
        atMs: now)
    let created: Bool
    do {
        created = try await store.write { tx in
            // Another writer may have created a token since the read above.
            guard try tx.apiTokenCount() == 0 else { return false }
            try tx.insertAPIToken(record)
            try tx.appendAudit(audit)
            return true
        }
    } catch {
        unlink(pending)
        throw error
    }
    guard created else {
        unlink(pending)
        return nil
    }
    guard rename(pending, path) == 0 else {
        let reason = String(cString: strerror(errno))
        throw BootstrapTokenError(message: "the admin token was created and is in \(pending), but renaming it to \(path) failed: \(reason)")
    }
    return path
}

/// The bootstrap token exists but its file could not be put in place; the message says where it is.
public struct BootstrapTokenError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
