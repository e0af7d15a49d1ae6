import EstuaryModel

/// A network coordinate (Vivaldi with Serf's refinements: a height for the access link, an
/// error estimate weighting each update, and an adjustment term learnt from recent samples).
/// Units are milliseconds.
public struct VivaldiCoordinate: Sendable, Hashable {
    public static let dimensions = 8

    public var vector: [Double]
    public var height: Double
    public var error: Double
    public var adjustment: Double

    public init(vector: [Double], height: Double, error: Double, adjustment: Double) {
        self.vector = vector
        self.height = height
        self.error = error
        self.adjustment = adjustment
    }

    /// The origin with maximal error: what a node knows before its first sample.
    public static var origin: VivaldiCoordinate {
        VivaldiCoordinate(
            vector: Array(repeating: 0, count: dimensions), height: VivaldiTuning.heightMin,
            error: VivaldiTuning.errorMax, adjustment: 0)
    }

    /// Estimated round-trip time to `other`, in milliseconds.
    public func estimatedRTTMs(to other: VivaldiCoordinate) -> Double {
        let raw = rawDistance(to: other)
        let adjusted = raw + adjustment + other.adjustment
        return adjusted > 0 ? adjusted : raw
    }

    func rawDistance(to other: VivaldiCoordinate) -> Double {
        vectorDistance(vector, other.vector) + height + other.height
    }

    var isValid: Bool {
        vector.count == Self.dimensions && vector.allSatisfy(\.isFinite) && height.isFinite && error.isFinite
            && adjustment.isFinite
    }
}

/// Serf's constants (coordinate/config.go), in milliseconds where they are times.
enum VivaldiTuning {
    static let errorMax = 1.5
    static let ce = 0.25
    static let cc = 0.25
    static let adjustmentWindow = 20
    static let heightMin = 0.01  // 10 µs
    static let latencyFilterSize = 3
    static let gravityRho = 150_000.0  // 150 s
    static let zeroThreshold = 1.0e-6
}

func vectorDistance(_ a: [Double], _ b: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<min(a.count, b.count) {
        let d = a[i] - b[i]
        sum += d * d
    }
    return sum.squareRoot()
}

/// This node's own coordinate and the state that updates it.
struct VivaldiClient: Sendable {
    private(set) var coordinate = VivaldiCoordinate.origin
    private var adjustmentSamples = [Double](repeating: 0, count: VivaldiTuning.adjustmentWindow)
    private var adjustmentIndex = 0
    /// Latest raw samples per peer, for a median filter against outliers.
    private var latencyFilters: [String: [Double]] = [:]

    mutating func forget(_ peer: String) { latencyFilters[peer] = nil }

    /// Feeds one RTT sample to `peer`, whose coordinate is `other`.
    mutating func update(peer: String, other: VivaldiCoordinate, rttMs: Double, rng: inout SplitMix64) {
        guard other.isValid, rttMs.isFinite, rttMs >= 0, rttMs < 600_000 else { return }
        var samples = latencyFilters[peer] ?? []
        samples.append(rttMs)
        if samples.count > VivaldiTuning.latencyFilterSize { samples.removeFirst() }
        latencyFilters[peer] = samples
        let filtered = samples.sorted()[samples.count / 2]

        updateVivaldi(other: other, rtt: filtered, rng: &rng)
        updateAdjustment(other: other, rtt: filtered)
        updateGravity(rng: &rng)
        if !coordinate.isValid { coordinate = .origin }
    }

    private mutating func updateVivaldi(other: VivaldiCoordinate, rtt rawRTT: Double, rng: inout SplitMix64) {
        let rtt = max(rawRTT, VivaldiTuning.zeroThreshold)
        let dist = coordinate.rawDistance(to: other)
        let wrongness = abs(dist - rtt) / rtt
        let totalError = max(coordinate.error + other.error, VivaldiTuning.zeroThreshold)
        let weight = coordinate.error / totalError
        coordinate.error = min(
            VivaldiTuning.ce * weight * wrongness + coordinate.error * (1 - VivaldiTuning.ce * weight),
            VivaldiTuning.errorMax)
        let force = VivaldiTuning.cc * weight * (rtt - dist)
        applyForce(force, from: other, rng: &rng)
    }

    private mutating func updateAdjustment(other: VivaldiCoordinate, rtt: Double) {
        adjustmentSamples[adjustmentIndex] = rtt - coordinate.rawDistance(to: other)
        adjustmentIndex = (adjustmentIndex + 1) % VivaldiTuning.adjustmentWindow
        coordinate.adjustment = adjustmentSamples.reduce(0, +) / Double(2 * VivaldiTuning.adjustmentWindow)
    }

    /// A weak pull towards the origin so that the whole system does not drift away.
    private mutating func updateGravity(rng: inout SplitMix64) {
        let origin = VivaldiCoordinate.origin
        let dist = coordinate.rawDistance(to: origin)
        let ratio = dist / VivaldiTuning.gravityRho
        applyForce(-(ratio * ratio), from: origin, rng: &rng)
    }

    /// Moves this coordinate by `force` along the unit vector from `other` to it.
    private mutating func applyForce(_ force: Double, from other: VivaldiCoordinate, rng: inout SplitMix64) {
        var unit = zip(coordinate.vector, other.vector).map { $0 - $1 }
        var magnitude = vectorDistance(unit, Array(repeating: 0, count: unit.count))
        if magnitude <= VivaldiTuning.zeroThreshold {
            // Coincident: push in a random direction.
            unit = (0..<unit.count).map { _ in rng.unit() - 0.5 }
            let m = vectorDistance(unit, Array(repeating: 0, count: unit.count))
            unit = unit.map { $0 / max(m, VivaldiTuning.zeroThreshold) }
            magnitude = 0
        } else {
            unit = unit.map { $0 / magnitude }
        }
        for i in 0..<coordinate.vector.count { coordinate.vector[i] += unit[i] * force }
        if magnitude > VivaldiTuning.zeroThreshold {
            coordinate.height = (coordinate.height + other.height) * force / magnitude + coordinate.height
            coordinate.height = max(coordinate.height, VivaldiTuning.heightMin)
        }
    }
}
