import EstuaryLedger
import EstuaryModel
import Foundation

// What coordinators of one mesh say to each other about jobs (Protocol/PROTOCOL.md §16). Each
// is JSON in the body of a unary POST on the mesh port, between coordinator certificates:
//
// - `/estuary.v1/mesh/sites`: the peer's sites as its scheduler sees them (descriptor, pools,
//   prices in force), so that this coordinator can place jobs on them.
// - `/estuary.v1/mesh/deliver`: a batch of messages from the sender's durable outbox, applied
//   in order; the answer acknowledges them and the sender forgets them.
// - `/estuary.v1/mesh/logs`: a slice of a forwarded job's output.
//
// Every message is idempotent at its receiver, so a batch delivered twice (the answer was
// lost) changes nothing the second time.

/// One site of a peer, as offered to the mesh.
struct MeshSiteOffer: Codable, Sendable, Hashable {
    var descriptor: SiteDescriptor
    var pools: [PoolCapacity]
    var state: SiteState
    /// The prices in force at the site now (an administrator's, else the agent's book).
    var priceBook: PriceBook

    enum CodingKeys: String, CodingKey {
        case descriptor, pools, state
        case priceBook = "price_book"
    }
}

struct MeshSitesReply: Codable, Sendable {
    var coordinator: CoordinatorID
    var sites: [MeshSiteOffer]
}

/// A job placed on a peer's site: the peer runs it (once per attempt) and reports back.
struct MeshForward: Codable, Sendable, Hashable {
    var job: JobID
    var attempt: Int
    var spec: JobSpec
    var site: SiteID
    var cls: AcceleratorClass

    enum CodingKeys: String, CodingKey {
        case job, attempt, spec, site
        case cls = "class"
    }
}

/// Cancel one forwarded attempt.
struct MeshCancel: Codable, Sendable, Hashable {
    var job: JobID
    var attempt: Int
    var tenant: TenantID
    var reason: String
}

/// A forwarded job's transition at the peer that runs it, under the submitting coordinator's
/// job id and attempt. `rejected`: the peer could not run it (its site refused it, or it never
/// started there); the submitting coordinator places it again elsewhere.
struct MeshJobUpdate: Codable, Sendable, Hashable {
    var job: JobID
    var attempt: Int
    var state: JobState
    var rejected: Bool
    var cause: String
    var siteAtMs: Int64?
    var exitCode: Int?
    var signal: Int?

    enum CodingKeys: String, CodingKey {
        case job, attempt, state, rejected, cause, signal
        case siteAtMs = "site_at_ms"
        case exitCode = "exit_code"
    }
}

/// The site share of one charge, from the tenant's coordinator to the site's: the site's
/// coordinator posts the mirror of the tenant coordinator's inter-region transfer.
struct MeshCharge: Codable, Sendable, Hashable {
    var record: UsageRecordID
    var job: JobID
    var attempt: Int
    var tenant: TenantID
    var site: SiteID
    var owedFen: Fen

    enum CodingKeys: String, CodingKey {
        case record, job, attempt, tenant, site
        case owedFen = "owed_fen"
    }
}

/// One message of an outbox. Exactly one of the payloads is set, the one `kind` names.
struct MeshMessage: Codable, Sendable, Hashable {
    enum Kind: String, Codable, Sendable { case forward, cancel, update, usage, charge }

    var kind: Kind
    var forward: MeshForward?
    var cancel: MeshCancel?
    var update: MeshJobUpdate?
    /// Usage of forwarded jobs, under the submitting coordinator's job ids and attempts.
    var usage: [UsageRecord]?
    var charge: MeshCharge?

    static func forward(_ value: MeshForward) -> MeshMessage { MeshMessage(kind: .forward, forward: value) }
    static func cancel(_ value: MeshCancel) -> MeshMessage { MeshMessage(kind: .cancel, cancel: value) }
    static func update(_ value: MeshJobUpdate) -> MeshMessage { MeshMessage(kind: .update, update: value) }
    static func usage(_ value: [UsageRecord]) -> MeshMessage { MeshMessage(kind: .usage, usage: value) }
    static func charge(_ value: MeshCharge) -> MeshMessage { MeshMessage(kind: .charge, charge: value) }

    /// The form the outbox stores, and back.
    func encoded() throws -> String { String(decoding: try MeshJSON.encoder.encode(self), as: UTF8.self) }
    static func decode(_ text: String) throws -> MeshMessage { try MeshJSON.decode(MeshMessage.self, Array(text.utf8)) }

    /// Whether exactly the payload `kind` names is present.
    var isWellFormed: Bool {
        let present = [forward != nil, cancel != nil, update != nil, usage != nil, charge != nil].filter { $0 }.count
        guard present == 1 else { return false }
        switch kind {
        case .forward: return forward != nil
        case .cancel: return cancel != nil
        case .update: return update != nil
        case .usage: return usage != nil
        case .charge: return charge != nil
        }
    }
}

/// A batch of outbox messages to one peer.
struct MeshDelivery: Codable, Sendable {
    struct Item: Codable, Sendable {
        var seq: Int64
        /// nil when the receiver cannot read it (a kind from a newer coordinator, or damage):
        /// that one message is passed over, not the batch refused, so it cannot block the rest.
        var message: MeshMessage?

        init(seq: Int64, message: MeshMessage) {
            self.seq = seq
            self.message = message
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            seq = try container.decode(Int64.self, forKey: .seq)
            message = try? container.decode(MeshMessage.self, forKey: .message)
        }
    }

    var from: CoordinatorID
    var items: [Item]
}

/// The receiver's answer: every message up to and including `through` is applied.
struct MeshDeliveryAck: Codable, Sendable {
    var through: Int64
}

/// A slice of a forwarded job's output (`/estuary.v1/mesh/logs`).
struct MeshLogRequest: Codable, Sendable {
    var from: CoordinatorID
    var job: JobID
    var attempt: Int
    var tenant: TenantID
    var stream: LogStreamKind
    var offset: Int64
    var limit: Int
}

struct MeshLogReply: Codable, Sendable {
    var data: Data
    var size: Int64
}

enum MeshJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
