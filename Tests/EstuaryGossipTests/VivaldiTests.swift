import EstuaryModel
import Testing

@testable import EstuaryGossip

@Suite("Vivaldi coordinates")
struct VivaldiTests {
    @Test("coordinates learnt from RTT samples predict unmeasured pairs")
    func predictsRTT() {
        // Points on a plane; each node samples random peers, as probes would.
        var rng = SplitMix64(seed: 11)
        let n = 24
        let points = (0..<n).map { _ in (rng.unit() * 40, rng.unit() * 40) }
        func rtt(_ i: Int, _ j: Int) -> Double {
            let dx = points[i].0 - points[j].0
            let dy = points[i].1 - points[j].1
            return (dx * dx + dy * dy).squareRoot() + 1
        }
        var clients = Array(repeating: VivaldiClient(), count: n)
        for _ in 0..<4000 {
            let i = rng.below(n)
            var j = rng.below(n)
            if j == i { j = (j + 1) % n }
            clients[i].update(peer: "\(j)", other: clients[j].coordinate, rttMs: rtt(i, j) * (0.95 + 0.1 * rng.unit()), rng: &rng)
        }
        var errors: [Double] = []
        for i in 0..<n {
            for j in (i + 1)..<n {
                let estimate = clients[i].coordinate.estimatedRTTMs(to: clients[j].coordinate)
                errors.append(abs(estimate - rtt(i, j)) / rtt(i, j))
            }
        }
        errors.sort()
        let median = errors[errors.count / 2]
        #expect(median < 0.25, "median relative error \(median)")
        #expect(clients.allSatisfy { $0.coordinate.isValid && $0.coordinate.error < 1.0 })
    }

    @Test("hostile samples do not poison the coordinate")
    func hostileSamples() {
        var rng = SplitMix64(seed: 3)
        var client = VivaldiClient()
        var bad = VivaldiCoordinate.origin
        bad.vector[0] = .infinity
        client.update(peer: "x", other: bad, rttMs: 5, rng: &rng)
        client.update(peer: "x", other: .origin, rttMs: .nan, rng: &rng)
        client.update(peer: "x", other: .origin, rttMs: -1, rng: &rng)
        #expect(client.coordinate == .origin)
        client.update(peer: "y", other: .origin, rttMs: 0, rng: &rng)
        #expect(client.coordinate.isValid)
    }
}
