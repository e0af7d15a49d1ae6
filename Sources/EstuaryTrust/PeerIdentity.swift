import EstuaryModel

/// What a mesh certificate vouches for: one site, or one coordinator.
public enum PeerRole: String, Sendable, Hashable, Codable, CaseIterable {
    case site
    case coordinator
}

/// The identity a certificate names in its URI subject alternative name,
/// `estuary://site/<id>` or `estuary://coordinator/<id>` (PROTOCOL.md, "Trust").
///
/// The CA decides the identity (from the join token, or the coordinator's own id); whatever a
/// CSR asks for is ignored. A peer may speak only for this identity.
public struct PeerIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public static let scheme = "estuary"

    public let role: PeerRole
    /// A well-formed Estuary identifier (`Identifiers.isWellFormed`).
    public let id: String

    /// Nil when `id` is not a well-formed identifier.
    public init?(role: PeerRole, id: String) {
        guard Identifiers.isWellFormed(id) else { return nil }
        self.role = role
        self.id = id
    }

    public static func site(_ id: SiteID) -> PeerIdentity? { PeerIdentity(role: .site, id: id.rawValue) }

    /// Parses `estuary://<role>/<id>`; nil for anything else (other schemes, extra path
    /// segments, queries, ill-formed ids).
    public init?(uri: String) {
        let prefix = "\(Self.scheme)://"
        guard uri.hasPrefix(prefix) else { return nil }
        let rest = uri.dropFirst(prefix.count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let role = PeerRole(rawValue: String(parts[0])) else { return nil }
        self.init(role: role, id: String(parts[1]))
    }

    public var uri: String { "\(Self.scheme)://\(role.rawValue)/\(id)" }
    public var description: String { "\(role.rawValue):\(id)" }
}
