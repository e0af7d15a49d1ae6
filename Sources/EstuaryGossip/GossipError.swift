/// Why a message was refused. Every malformed or hostile input ends here, never in a crash.
public enum GossipError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message ended before a field was complete.
    case truncated(field: String)
    /// The codec version is not one this node speaks.
    case unsupportedVersion(UInt8)
    case unknownMessageKind(UInt8)
    case unknownUpdateKind(UInt8)
    case unknownMemberState(UInt8)
    /// A count or length above the codec's limits.
    case tooLarge(field: String, value: Int, limit: Int)
    /// A varint longer than 10 bytes or overflowing 64 bits.
    case malformedVarint(field: String)
    case invalidUTF8(field: String)
    /// A coordinate component that is NaN or infinite.
    case invalidNumber(field: String)
    /// Bytes left over after the message.
    case trailingBytes(count: Int)
    /// The message claims to come from a member other than the one its TLS certificate names.
    case senderMismatch(claimed: String, proven: String)
    /// The message claims to come from this very node.
    case fromSelf
    /// An update no member may send about another (a `left` about someone else's own leave,
    /// capacity for a site claimed by another origin).
    case invalidUpdate(String)

    public var description: String {
        switch self {
        case .truncated(let field): "gossip message truncated in \(field)"
        case .unsupportedVersion(let v): "gossip codec version \(v) is not supported (this node speaks \(GossipCodec.version)); upgrade the older coordinator"
        case .unknownMessageKind(let k): "unknown gossip message kind \(k)"
        case .unknownUpdateKind(let k): "unknown gossip update kind \(k)"
        case .unknownMemberState(let s): "unknown member state \(s)"
        case .tooLarge(let field, let value, let limit): "gossip \(field) is \(value), above the limit of \(limit)"
        case .malformedVarint(let field): "malformed varint in \(field)"
        case .invalidUTF8(let field): "\(field) is not valid UTF-8"
        case .invalidNumber(let field): "\(field) is not a finite number"
        case .trailingBytes(let count): "\(count) unexpected bytes after the gossip message"
        case .senderMismatch(let claimed, let proven): "gossip message claims sender \(claimed) but the peer's certificate names \(proven)"
        case .fromSelf: "gossip message claims to come from this node"
        case .invalidUpdate(let why): "invalid gossip update: \(why)"
        }
    }
}
