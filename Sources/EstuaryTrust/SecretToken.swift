import Crypto

/// A bearer secret of the form `<prefix>_<id>_<secret>` (join tokens `estj`, API tokens
/// `estk`). The id is public and indexes the stored record; only SHA-256 of the secret is
/// stored, so a copy of the database cannot be replayed as a token.
public struct SecretToken: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case join = "estj"
        case api = "estk"
    }

    public let kind: Kind
    /// 12 lower-case base-32 characters; the stored record's key.
    public let id: String
    /// 32 lower-case base-32 characters (160 bits of randomness).
    public let secret: String

    /// The whole token, as given to its holder once.
    public var text: String { "\(kind.rawValue)_\(id)_\(secret)" }
    /// Hex SHA-256 of the secret: what the coordinator stores.
    public var secretHash: String { Self.hash(secret: secret) }

    /// A new random token.
    public static func generate(_ kind: Kind) -> SecretToken {
        SecretToken(kind: kind, id: randomBase32(count: 12), secret: randomBase32(count: 32))
    }

    /// Parses a presented token; nil if it is not of `kind`'s shape (no lookup happens then).
    public static func parse(_ text: String, as kind: Kind) -> SecretToken? {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == kind.rawValue,
            parts[1].utf8.count == 12, parts[2].utf8.count == 32,
            parts[1].utf8.allSatisfy(isBase32), parts[2].utf8.allSatisfy(isBase32)
        else { return nil }
        return SecretToken(kind: kind, id: String(parts[1]), secret: String(parts[2]))
    }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        let presented = Array(secretHash.utf8)
        let stored = Array(storedHash.utf8)
        guard presented.count == stored.count else { return false }
        var difference: UInt8 = 0
        for index in presented.indices { difference |= presented[index] ^ stored[index] }
        return difference == 0
    }

    public static func hash(secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    private static func isBase32(_ byte: UInt8) -> Bool { alphabet.contains(byte) }

    private static func randomBase32(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for _ in 0..<count { bytes.append(alphabet[Int(generator.next(upperBound: UInt8(32)))]) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
