import EstuaryGossip
import Testing

@testable import EstuaryCoordinator

/// Which capacity changes a coordinator gossips at once, and which wait for the site's next
/// turn (`MeshGossipSettings.capacityMinIntervalMs`).
@Suite("Mesh gossip: capacity coalescing")
struct MeshGossipCoalescingTests {
    static func summary(free: [String: Int], total: [String: Int] = ["ascend-910b": 64], reachable: Bool = true) -> CapacitySummary {
        CapacitySummary(
            site: "pengcheng", origin: "c1", version: 0, region: "shenzhen", freeUnits: free, totalUnits: total,
            priceIndexMinor: 1200, greenShareBP: 3000, reachable: reachable)
    }

    @Test("a class running out or coming back, reachability and pool changes are urgent")
    func urgent() {
        let busy = Self.summary(free: ["ascend-910b": 10])
        #expect(MeshGossip.isUrgent(busy, Self.summary(free: ["ascend-910b": 0])))
        #expect(MeshGossip.isUrgent(Self.summary(free: ["ascend-910b": 0]), busy))
        #expect(MeshGossip.isUrgent(busy, Self.summary(free: ["ascend-910b": 10], reachable: false)))
        #expect(MeshGossip.isUrgent(busy, Self.summary(free: ["ascend-910b": 10], total: ["ascend-910b": 48])))
    }

    @Test("a count moving between non-zero values is not urgent")
    func notUrgent() {
        #expect(!MeshGossip.isUrgent(Self.summary(free: ["ascend-910b": 10]), Self.summary(free: ["ascend-910b": 9])))
        #expect(!MeshGossip.isUrgent(Self.summary(free: ["ascend-910b": 64]), Self.summary(free: ["ascend-910b": 1])))
    }
}
