import EstuaryModel
import GRDB

/// One message waiting for a peer coordinator: its body is the sender's JSON, opaque here.
public struct MeshOutboxRow: Sendable, Hashable {
    public var seq: Int64
    public var peer: CoordinatorID
    public var body: String
}

// The mesh outbox (schema v6): messages to peer coordinators, written in the transaction of the
// change they report, sent in `seq` order per peer and deleted once the peer has applied them.
extension StoreTransaction {
    public func appendMeshOutbox(peer: CoordinatorID, body: String, atMs: Int64) throws {
        try run(
            "INSERT INTO mesh_outbox (peer, body, created_at_ms) VALUES (?, ?, ?)",
            arguments: [peer.rawValue, body, atMs])
    }

    /// The oldest `limit` messages for `peer`, in the order they were written.
    public func meshOutbox(peer: CoordinatorID, limit: Int) throws -> [MeshOutboxRow] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT seq, body FROM mesh_outbox WHERE peer = ? ORDER BY seq LIMIT ?"),
            arguments: [peer.rawValue, limit]
        ).map { MeshOutboxRow(seq: $0["seq"], peer: peer, body: $0["body"]) }
    }

    /// Peers with messages waiting, and how many.
    public func meshOutboxBacklog() throws -> [CoordinatorID: Int] {
        var backlog: [CoordinatorID: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT peer, COUNT(*) AS n FROM mesh_outbox GROUP BY peer") {
            backlog[CoordinatorID(rawValue: row["peer"])] = row["n"]
        }
        return backlog
    }

    /// Forgets the messages to `peer` up to and including `seq`: the peer applied them.
    public func deleteMeshOutbox(peer: CoordinatorID, through seq: Int64) throws {
        try run("DELETE FROM mesh_outbox WHERE peer = ? AND seq <= ?", arguments: [peer.rawValue, seq])
    }
}
