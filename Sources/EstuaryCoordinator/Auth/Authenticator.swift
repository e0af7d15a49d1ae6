import EstuaryStore
import EstuaryTrust
import Synchronization

/// Why a request's bearer token was not accepted (all answered 401 `unauthenticated`).
enum AuthFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case missing
    /// Not `Bearer estk_…`.
    case malformed
    /// No such token, or the secret does not match: the same answer for both.
    case invalid(tokenID: String)
    case expired(tokenID: String)
    case revoked(tokenID: String)

    /// The token id presented, when the header held a well-formed token.
    var tokenID: String? {
        switch self {
        case .missing, .malformed: nil
        case .invalid(let id), .expired(let id), .revoked(let id): id
        }
    }

    var reason: String {
        switch self {
        case .missing: "missing"
        case .malformed: "malformed"
        case .invalid: "invalid"
        case .expired: "expired"
        case .revoked: "revoked"
        }
    }

    var description: String {
        switch self {
        case .missing: "this API needs a bearer token: send `Authorization: Bearer estk_…`"
        case .malformed: "the Authorization header is not `Bearer estk_…` with a well-formed API token"
        case .invalid: "the API token is not valid"
        case .expired: "the API token has expired"
        case .revoked: "the API token has been revoked"
        }
    }
}

/// Verifies `Authorization: Bearer estk_…`: looks the token up by its public id, compares the
/// hash of its secret in constant time, and checks expiry and revocation.
///
/// Lookups are cached for at most ``TokenCache/maxAge`` (well under a second), so a revocation
/// made anywhere takes effect within that; one made through this API takes effect at once.
struct Authenticator: Sendable {
    let trust: TrustService
    let cache: TokenCache

    init(trust: TrustService, cache: TokenCache = TokenCache()) {
        self.trust = trust
        self.cache = cache
    }

    func authenticate(authorization: String?) async throws -> Result<Principal, AuthFailure> {
        guard let authorization else { return .failure(.missing) }
        guard let token = Self.bearerToken(authorization) else { return .failure(.malformed) }
        let record: APITokenRecord?
        if let cached = cache.lookup(token.id) {
            record = cached
        } else {
            record = try await trust.apiToken(id: token.id)
            cache.store(token.id, record)
        }
        guard let record, token.matches(storedHash: record.secretHash), let role = APIRole(rawValue: record.role) else {
            return .failure(.invalid(tokenID: token.id))
        }
        if record.revokedAtMs != nil { return .failure(.revoked(tokenID: token.id)) }
        if record.isExpired(atMs: trust.now()) { return .failure(.expired(tokenID: token.id)) }
        if role.takesSubject, record.subject == nil { return .failure(.invalid(tokenID: token.id)) }
        return .success(Principal(tokenID: record.id, role: role, subject: role.takesSubject ? record.subject : nil))
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1), if it has the
    /// shape of an API token.
    static func bearerToken(_ header: String) -> SecretToken? {
        let trimmed = header.trimmingWhitespace()
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        guard trimmed[..<space].lowercased() == "bearer" else { return nil }
        let credentials = trimmed[space...].trimmingWhitespace()
        return SecretToken.parse(credentials, as: .api)
    }
}

/// Recently looked-up token records (or their absence), by token id. Bounded: when full it is
/// emptied, so presenting many unknown ids costs store reads, never memory.
final class TokenCache: Sendable {
    struct Entry: Sendable {
        var record: APITokenRecord?
        var fetchedAtNs: Int64
    }

    let maxAge: Duration
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])
    private let clock: @Sendable () -> Int64

    init(maxAge: Duration = .milliseconds(500), capacity: Int = 4096, clock: @escaping @Sendable () -> Int64 = RateLimiter.monotonicNs) {
        self.maxAge = maxAge
        self.capacity = capacity
        self.clock = clock
    }

    /// `.some(record or nil)` when a fresh lookup is cached; nil when the store must be asked.
    func lookup(_ id: String) -> APITokenRecord?? {
        let now = clock()
        let maxAgeNs = maxAge.components.seconds * 1_000_000_000 + maxAge.components.attoseconds / 1_000_000_000
        return entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard now - entry.fetchedAtNs < maxAgeNs else {
                entries[id] = nil
                return nil
            }
            return .some(entry.record)
        }
    }

    func store(_ id: String, _ record: APITokenRecord?) {
        let now = clock()
        let capacity = self.capacity
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[id] = Entry(record: record, fetchedAtNs: now)
        }
    }

    func invalidate(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
