/// One gossip message: who sends it, what it is, and the updates piggybacked on it.
struct GossipMessage: Sendable, Hashable {
    var senderId: String
    /// The sender's mesh address: replies go there, not to the connection's source address.
    var senderAddress: String
    var body: Body
    var updates: [Update]

    enum Body: Sendable, Hashable {
        /// Direct probe. `target` is the member the sender means to reach (a ping that reaches
        /// someone else at a reused address is ignored).
        case ping(seq: UInt64, target: String, coordinate: VivaldiCoordinate)
        /// Ask the receiver to probe `target` on the sender's behalf.
        case pingReq(seq: UInt64, target: String, targetAddress: String)
        /// Answer to a ping, or an ack forwarded by the member that probed indirectly.
        case ack(seq: UInt64, coordinate: VivaldiCoordinate?)
        /// Lifeguard: the member asked to probe indirectly got no ack in time.
        case nack(seq: UInt64)
        /// Updates only.
        case gossip
        /// Anti-entropy, step 1: the requester's digest.
        case pushPullRequest(join: Bool, digest: StateDigest)
        /// Step 2: the responder's digest and its entries in buckets that differ.
        case pushPullResponse(digest: StateDigest)
        /// Step 3: the requester's entries in buckets that differ.
        case pushPullPush
    }

    enum Update: Sendable, Hashable {
        case alive(id: String, address: String, region: String, incarnation: UInt64)
        case suspect(id: String, incarnation: UInt64, from: String)
        case dead(id: String, incarnation: UInt64, from: String)
        /// Sent only by the member that leaves, then relayed.
        case left(id: String, incarnation: UInt64)
        case capacity(CapacityRecord)

        /// What a newer update replaces in the broadcast queue.
        var key: BroadcastKey {
            switch self {
            case .alive(let id, _, _, _), .suspect(let id, _, _), .dead(let id, _, _), .left(let id, _): .member(id)
            case .capacity(let record): .site(record.summary.site)
            }
        }
    }
}

enum BroadcastKey: Hashable, Sendable {
    case member(String)
    case site(String)
}

/// A capacity summary as it travels: removals are tombstones with a higher version.
struct CapacityRecord: Sendable, Hashable {
    var summary: CapacitySummary
    var removed: Bool

    /// Last-writer-wins order: version, then origin.
    func supersedes(_ other: CapacityRecord) -> Bool {
        if summary.version != other.summary.version { return summary.version > other.summary.version }
        return summary.origin > other.summary.origin
    }
}

/// Order-independent hashes of a node's state in a fixed number of buckets, so that two nodes
/// exchange only the buckets in which they differ.
struct StateDigest: Sendable, Hashable {
    static let buckets = 32
    var members: [UInt64]
    var sites: [UInt64]

    static var empty: StateDigest {
        StateDigest(members: Array(repeating: 0, count: buckets), sites: Array(repeating: 0, count: buckets))
    }

    static func bucket(of key: String) -> Int { Int(fnv1a(key) % UInt64(buckets)) }
}

/// FNV-1a 64: stable across runs and machines (Swift's Hasher is seeded per process).
func fnv1a(_ s: String, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
    var h = seed
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}

func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
    var z = (h ^ v) &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
