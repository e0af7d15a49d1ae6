/// What an API token may do (admin-api.yaml, "Roles").
public enum APIRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// Everything.
    case admin
    /// Jobs and usage of one tenant (the token's subject).
    case tenant
    /// Read-only view of one site (the token's subject): the site, the jobs placed there, its usage.
    case siteOperator = "site-operator"

    /// Whether tokens of this role name a subject (a tenant or site id).
    public var takesSubject: Bool { self != .admin }
}

/// The verified holder of an API token.
public struct Principal: Sendable, Hashable {
    public var tokenID: String
    public var role: APIRole
    /// The tenant of a `tenant` token, the site of a `site-operator` token; nil for `admin`.
    public var subject: String?

    public init(tokenID: String, role: APIRole, subject: String?) {
        self.tokenID = tokenID
        self.role = role
        self.subject = subject
    }
}

/// Who did something, as the audit log records it: an actor, its role, and where the request
/// came from.
public struct Caller: Sendable, Hashable {
    /// A token id, `join:<token id>`, `anonymous`, or a mesh peer such as `site:<id>`.
    public var actor: String
    public var role: String
    /// The remote address (`ip:port`), or `local` / `unknown`.
    public var source: String

    public init(actor: String, role: String, source: String) {
        self.actor = actor
        self.role = role
        self.source = source
    }

    public init(_ principal: Principal, source: String) {
        self.init(actor: principal.tokenID, role: principal.role.rawValue, source: source)
    }

    public static func anonymous(source: String) -> Caller { Caller(actor: "anonymous", role: "none", source: source) }

    /// The coordinator itself (start-up bootstrap, internal housekeeping).
    public static let coordinator = Caller(actor: "coordinator", role: "coordinator", source: "local")
}
