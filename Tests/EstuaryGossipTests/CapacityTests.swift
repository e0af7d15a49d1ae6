import EstuaryModel
import Testing

@testable import EstuaryGossip

@Suite("Capacity summaries")
struct CapacityTests {
    static func summary(_ site: String, origin: String, version: UInt64, free: Int) -> CapacitySummary {
        CapacitySummary(
            site: site, origin: origin, version: version, region: "gz", freeUnits: ["ascend-910b": free],
            totalUnits: ["ascend-910b": 128], priceIndexMinor: 1200, greenShareBP: 3000)
    }

    static func record(_ s: CapacitySummary, removed: Bool = false) -> GossipMessage.Update {
        .capacity(CapacityRecord(summary: s, removed: removed))
    }

    @Test("last writer wins by version, then by origin; older versions are ignored")
    func lastWriterWins() throws {
        var node = makeNode()
        _ = try node.receive(Peer.gossip(from: "b", Self.record(Self.summary("s", origin: "b", version: 10, free: 1))), from: "b:7946", sender: "b", now: 0)
        let older = try node.receive(Peer.gossip(from: "c", Self.record(Self.summary("s", origin: "c", version: 9, free: 2))), from: "c:7946", sender: "c", now: 1)
        #expect(older.events.isEmpty)
        #expect(node.capacity.first?.freeUnits["ascend-910b"] == 1)
        let tie = try node.receive(Peer.gossip(from: "c", Self.record(Self.summary("s", origin: "c", version: 10, free: 3))), from: "c:7946", sender: "c", now: 2)
        #expect(tie.events == [.capacityChanged(Self.summary("s", origin: "c", version: 10, free: 3))])
        let tieLower = try node.receive(Peer.gossip(from: "b", Self.record(Self.summary("s", origin: "b", version: 10, free: 4))), from: "b:7946", sender: "b", now: 3)
        #expect(tieLower.events.isEmpty)
        _ = try node.receive(Peer.gossip(from: "b", Self.record(Self.summary("s", origin: "b", version: 11, free: 5))), from: "b:7946", sender: "b", now: 4)
        #expect(node.capacity == [Self.summary("s", origin: "b", version: 11, free: 5)])
    }

    @Test("a tombstone removes a site and blocks older summaries")
    func tombstone() throws {
        var node = makeNode()
        _ = try node.receive(Peer.gossip(from: "b", Self.record(Self.summary("s", origin: "b", version: 10, free: 1))), from: "b:7946", sender: "b", now: 0)
        let removed = try node.receive(Peer.gossip(from: "b", Self.record(Self.summary("s", origin: "b", version: 11, free: 0), removed: true)), from: "b:7946", sender: "b", now: 1)
        #expect(removed.events == [.capacityRemoved(site: "s")])
        let stale = try node.receive(Peer.gossip(from: "c", Self.record(Self.summary("s", origin: "b", version: 10, free: 1))), from: "c:7946", sender: "c", now: 2)
        #expect(stale.events.isEmpty && node.capacity.isEmpty)
    }

    @Test("publish versions are monotonic even when the clock is not, and unchanged summaries send nothing")
    func publishVersions() {
        var node = makeNode()
        let first = node.publish([Self.summary("s", origin: "ignored", version: 0, free: 1)], now: 5000)
        #expect(node.capacity.first?.version == 5000)
        #expect(node.capacity.first?.origin == "a")
        #expect(first.events.count == 1)
        let same = node.publish([Self.summary("s", origin: "a", version: 0, free: 1)], now: 6000)
        #expect(same.isEmpty)
        _ = node.publish([Self.summary("s", origin: "a", version: 0, free: 2)], now: 3000)  // clock stepped back
        #expect(node.capacity.first?.version == 5001)
        let withdrawn = node.publish([], now: 7000)
        #expect(withdrawn.events == [.capacityRemoved(site: "s")])
    }

    @Test("after a restart, a node's summaries outrank the ones from its previous life")
    func restartVersions() throws {
        var node = makeNode()
        // What the mesh still holds from before the restart, learnt at join.
        _ = try node.receive(
            Peer.bytes(from: "b", .pushPullResponse(digest: .empty), [Self.record(Self.summary("s", origin: "a", version: 9_000, free: 7))]),
            from: "b:7946", sender: "b", now: 100)
        _ = node.publish([Self.summary("s", origin: "a", version: 0, free: 8)], now: 200)
        #expect(node.capacity.first?.version == 9_001)
        #expect(node.capacity.first?.freeUnits["ascend-910b"] == 8)
    }
}
