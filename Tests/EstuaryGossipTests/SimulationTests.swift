import EstuaryModel
import Testing

@testable import EstuaryGossip

/// Whole-mesh properties in virtual time. Every failure prints the simulation's parameters
/// (members, seed, network) so that the run can be replayed exactly.
///
/// Serialized: each test is seconds of synchronous CPU work on a cooperative thread, and a
/// 2-core machine has two of those; two simulations at once stalled every other test's awaits
/// (shim and discovery tests timed out after 40 s).
@Suite("Gossip simulation", .serialized)
struct SimulationTests {
    static func allRunning(_ sim: GossipSimulation, see j: Int, as state: MemberState) -> Bool {
        (0..<sim.count).allSatisfy { i in i == j || !sim.isRunning(i) || sim.view(of: i, about: j)?.state == state }
    }

    static func failures(_ sim: GossipSimulation, of j: Int) -> Int {
        sim.events.filter { $0.event == .memberFailed(id: GossipSimulation.memberId(j)) }.count
    }

    static func site(_ i: Int, free: Int) -> CapacitySummary {
        CapacitySummary(
            site: "site-\(i)", origin: "", region: "r\(i % 4)", freeUnits: ["nvidia-a100": free], totalUnits: ["nvidia-a100": 64],
            priceIndexMinor: 900, greenShareBP: 2500)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var members: Int
        var seed: UInt64
        var loss: Double
        var testDescription: String { "\(members) members, seed \(seed), loss \(loss)" }
    }

    @Test(
        "a crash is detected by every member within 30 s",
        arguments: [Case(members: 10, seed: 1, loss: 0), Case(members: 100, seed: 2, loss: 0.05), Case(members: 1000, seed: 3, loss: 0)])
    func crashDetected(_ c: Case) {
        var sim = GossipSimulation(members: c.members, seed: c.seed, network: .init(loss: c.loss))
        sim.run(forMs: 3000)
        let start = sim.nowMs
        sim.crash(0)
        let detected = sim.run(stepMs: 250, limitMs: 30_000) { Self.allRunning($0, see: 0, as: .dead) }
        #expect(detected, "crash not detected by all within 30 s: \(sim.parameters)")
        let elapsed = sim.nowMs - start
        // No false positives on the way.
        let others = sim.events.filter { if case .memberFailed(let id) = $0.event { id != "m0" } else { false } }
        #expect(others.isEmpty, "false failures \(others.prefix(3)) after \(elapsed) ms: \(sim.parameters)")
        #expect(sim.decodeErrors == 0)
    }

    @Test(
        "a member paused for 5 s is not declared dead (Lifeguard defaults)",
        arguments: [
            Case(members: 10, seed: 11, loss: 0), Case(members: 10, seed: 12, loss: 0.05), Case(members: 10, seed: 13, loss: 0),
            Case(members: 100, seed: 21, loss: 0), Case(members: 100, seed: 22, loss: 0.05), Case(members: 100, seed: 23, loss: 0),
            Case(members: 1000, seed: 31, loss: 0),
        ])
    func pauseSurvives(_ c: Case) {
        var sim = GossipSimulation(members: c.members, seed: c.seed, network: .init(loss: c.loss))
        sim.run(forMs: 2000)
        sim.pause(0, forMs: 5000)
        sim.run(forMs: 5000 + 20_000)
        #expect(Self.failures(sim, of: 0) == 0, "paused member declared dead: \(sim.parameters)")
        #expect(Self.allRunning(sim, see: 0, as: .alive), "paused member not alive again everywhere: \(sim.parameters)")
    }

    @Test("a 5 s pause IS declared dead with the fast-detection profile (the trade-off is real)")
    func pauseFastProfile() {
        var sim = GossipSimulation(members: 100, seed: 21, configuration: .fastDetection)
        sim.run(forMs: 2000)
        sim.pause(0, forMs: 5000)
        sim.run(forMs: 5000 + 20_000)
        #expect(Self.failures(sim, of: 0) > 0, "\(sim.parameters)")
        #expect(Self.allRunning(sim, see: 0, as: .alive), "refuted after resume: \(sim.parameters)")
    }

    /// Rounds (gossip intervals) for one capacity change to reach every member.
    static func disseminationRounds(members: Int, seed: UInt64, configuration: GossipConfiguration) -> Double? {
        var sim = GossipSimulation(members: members, seed: seed, configuration: configuration, network: .init(loss: 0.05))
        sim.recordEvents = false
        sim.run(forMs: 1500)
        sim.publish(members / 2, [Self.site(7, free: 3)])
        let start = sim.nowMs
        let reached = sim.run(stepMs: 50, limitMs: 20_000) { s in
            (0..<s.count).allSatisfy { s.nodes[$0].capacity.first?.freeUnits["nvidia-a100"] == 3 }
        }
        guard reached else { return nil }
        return Double(sim.nowMs - start) / Double(configuration.gossipIntervalMs)
    }

    @Test("a capacity change reaches all members within 2·log2 N gossip rounds", arguments: [(100, UInt64(41)), (1000, UInt64(42))])
    func capacitySpreadsInLogRounds(_ members: Int, _ seed: UInt64) {
        let bound = 2 * logBase10(Double(members)) / logBase10(2)
        let rounds = Self.disseminationRounds(members: members, seed: seed, configuration: GossipConfiguration())
        #expect(rounds != nil && rounds! <= bound, "took \(rounds.map { "\($0)" } ?? "forever") rounds, bound \(bound): members=\(members) seed=\(seed) loss=0.05")
    }

    @Test("the dissemination bound fails when gossip rounds are broken (negative control)")
    func brokenDisseminationMissesBound() {
        var broken = GossipConfiguration()
        broken.gossipIntervalMs = 60_000  // updates travel only on probes
        let bound = 2 * logBase10(100) / logBase10(2)
        let rounds = Self.disseminationRounds(members: 100, seed: 41, configuration: broken).map { $0 * 60_000 / 200 }
        #expect(rounds == nil || rounds! > bound)
    }

    @Test("a healed partition converges: membership and capacity agree everywhere", arguments: [UInt64(51), 52])
    func partitionHeals(_ seed: UInt64) {
        let n = 30
        var sim = GossipSimulation(members: n, seed: seed, network: .init(loss: 0.05))
        for i in 0..<n { sim.publish(i, [Self.site(i, free: 1)]) }
        sim.run(forMs: 5000)
        sim.partition([Array(0..<(n / 2))])
        sim.run(forMs: 30_000)
        #expect(Self.failures(sim, of: 0) > 0, "the partition was not even noticed: \(sim.parameters)")
        // Both sides keep changing while apart.
        for i in [0, n - 1] { sim.publish(i, [Self.site(i, free: 9)]) }
        sim.run(forMs: 5000)
        sim.heal()
        let converged = sim.run(stepMs: 1000, limitMs: 180_000) { s in
            let reference = s.nodes[0].capacity
            return (0..<n).allSatisfy { i in
                s.nodes[i].members.allSatisfy { $0.state == .alive } && s.nodes[i].members.count == n
                    && s.nodes[i].capacity == reference
            } && reference.count == n
        }
        #expect(converged, "no convergence 180 s after healing: \(sim.parameters)")
    }

    @Test("a crashed member that restarts with incarnation 0 is alive again everywhere")
    func restartRejoins() {
        var sim = GossipSimulation(members: 20, seed: 61)
        sim.run(forMs: 2000)
        sim.crash(3)
        #expect(sim.run(stepMs: 500, limitMs: 30_000) { Self.allRunning($0, see: 3, as: .dead) }, "\(sim.parameters)")
        sim.restart(3, seeds: [0, 1])
        let back = sim.run(stepMs: 250, limitMs: 30_000) { Self.allRunning($0, see: 3, as: .alive) }
        #expect(back, "restarted member not alive everywhere: \(sim.parameters)")
        #expect(sim.nodes[3].members.count == 20)
        #expect((sim.nodes[3].member("m3")?.incarnation ?? 0) >= 1)
    }

    @Test("a member that leaves is seen as left, never failed")
    func gracefulLeave() {
        var sim = GossipSimulation(members: 50, seed: 71, network: .init(loss: 0.05))
        sim.run(forMs: 2000)
        sim.leave(5)
        sim.run(forMs: 1000)
        sim.crash(5)  // the process exits after announcing
        let left = sim.run(stepMs: 250, limitMs: 20_000) { Self.allRunning($0, see: 5, as: .left) }
        #expect(left, "\(sim.parameters)")
        #expect(Self.failures(sim, of: 5) == 0)
    }

    @Test("Lifeguard: stalled members do not get healthy ones declared dead")
    func stalledMembers() {
        var sim = GossipSimulation(members: 100, seed: 81)
        for i in 0..<10 { sim.stall(i, delayMs: 1500) }
        sim.run(forMs: 60_000)
        let healthyFailed = sim.events.filter { e in
            if case .memberFailed(let id) = e.event, let n = Int(id.dropFirst()) { n >= 10 } else { false }
        }
        #expect(healthyFailed.isEmpty, "\(healthyFailed.count) false failures of healthy members: \(sim.parameters)")
    }

    @Test("measured RTTs and Vivaldi estimates follow the simulated network")
    func rttAndCoordinates() {
        var sim = GossipSimulation(members: 20, seed: 91, network: .init(spreadMs: 40, jitterMs: 0.5))
        sim.run(forMs: 90_000)
        var errors: [Double] = []
        for i in 0..<20 {
            for j in 0..<20 where i != j {
                guard let estimate = sim.nodes[i].estimatedRTTMs(between: "m\(i)", and: "m\(j)") else { continue }
                let truth = max(sim.baseRTTMs(i, j), 2)
                errors.append(abs(estimate - truth) / truth)
            }
        }
        errors.sort()
        #expect(errors.count > 300)
        #expect(errors.isEmpty || errors[errors.count / 2] < 0.35, "median error \(errors.isEmpty ? -1 : errors[errors.count / 2]): \(sim.parameters)")
        #expect(sim.view(of: 0, about: 1)?.rttMs != nil)
    }
}
