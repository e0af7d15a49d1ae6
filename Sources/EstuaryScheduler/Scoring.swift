import EstuaryModel

// Ranking the pools that can take a job now. Each criterion (lower is better) is min–max
// normalised over those pools (a criterion on which they all agree counts 0), the preset's
// weights are normalised by their sum, and the lowest weighted sum wins; candidates are kept
// by site id then class name, so the first of equal scores is the lowest site id.

extension Scheduler {
    /// Weights in criterion order (price, start, speed, latency, carbon, spread, locality),
    /// summing to 1 (all 0 when the preset gives none).
    func normalisedWeights(_ preference: PlacementPreference) -> [Double] {
        guard let w = policy.weights[preference] ?? SchedulerPolicy.standardWeights[preference] else {
            return Array(repeating: 0, count: 7)
        }
        let raw = [w.price, w.start, w.speed, w.latency, w.carbon, w.spread, w.locality].map { $0.isFinite ? max(0, $0) : 0 }
        let sum = raw.reduce(0, +)
        return sum > 0 ? raw.map { $0 / sum } : raw
    }

    static func presetIndex(_ preference: PlacementPreference) -> Int {
        switch preference {
        case .cheapest: 0
        case .fastest: 1
        case .greenest: 2
        case .balanced: 3
        }
    }

    /// The lowest weighted score of `xs` (not empty), with `lo`/`hi` their per-criterion
    /// bounds; `before(a, b)` breaks exact ties (lower site id, then class name). With
    /// `collect`, every score in order.
    static func rank(
        _ xs: [Criteria], lo: Criteria, hi: Criteria, weights: [Double], collect: Bool = false, before: (Int, Int) -> Bool
    ) -> (index: Int, score: Double, scores: [Double]) {
        let k = Criteria(coefficients: weights, lo: lo, hi: hi)
        var best = 0
        var bestScore = Double.infinity
        var scores: [Double] = []
        for index in xs.indices {
            let score = k.weigh(xs[index], lo: lo)
            if collect { scores.append(score) }
            if score < bestScore || (score == bestScore && before(index, best)) {
                best = index
                bestScore = score
            }
        }
        return (best, bestScore, scores)
    }

    /// Pool utilisation after placing `units` there.
    @inline(__always)
    static func spread(_ state: PoolLive, units: Int) -> Double { Double(state.allocated + units) * state.inverseCount }

    /// "balanced: best of 3 sites; 120.00 CNY/h, 3 ms, 12.1 kg CO2".
    func placementReason(
        _ preference: PlacementPreference, priceFen: Int64, latencyMs: Int?, carbonPerUnitHour: Double, fitCount: Int, units: Int,
        walltimeMs: Int64
    ) -> String {
        // Built piece by piece into one buffer: this runs for every placement.
        var text = ""
        text.reserveCapacity(96)
        text += preference.rawValue
        if fitCount == 1 {
            text += ": the only site with room; "
        } else {
            text += ": best of "
            text += String(fitCount)
            text += " sites; "
        }
        text += Format.cny(priceFen.saturatingMultiply(Int64(units)))
        text += " CNY/h"
        if let latencyMs {
            text += ", "
            text += String(latencyMs)
            text += " ms"
        }
        text += ", "
        text += Format.fixed(carbonPerUnitHour * Double(units) * Double(walltimeMs) / 3_600_000 / 1000, decimals: 1)
        text += " kg CO2"
        return text
    }
}

/// One value per criterion, without allocating.
struct Criteria: Sendable {
    var price, start, speed, latency, carbon, spread, locality: Double

    init(repeating value: Double) {
        (price, start, speed, latency, carbon, spread, locality) = (value, value, value, value, value, value, value)
    }

    @inline(__always)
    init(price: Double, start: Double, speed: Double, latency: Double, carbon: Double, spread: Double, locality: Double) {
        (self.price, self.start, self.speed, self.latency, self.carbon, self.spread, self.locality) =
            (price, start, speed, latency, carbon, spread, locality)
    }

    /// weight / range per criterion (0 where the range is empty).
    init(coefficients w: [Double], lo: Criteria, hi: Criteria) {
        func k(_ weight: Double, _ low: Double, _ high: Double) -> Double { high > low ? weight / (high - low) : 0 }
        price = k(w[0], lo.price, hi.price)
        start = k(w[1], lo.start, hi.start)
        speed = k(w[2], lo.speed, hi.speed)
        latency = k(w[3], lo.latency, hi.latency)
        carbon = k(w[4], lo.carbon, hi.carbon)
        spread = k(w[5], lo.spread, hi.spread)
        locality = k(w[6], lo.locality, hi.locality)
    }

    @inline(__always)
    mutating func formMin(_ x: Criteria) {
        price = min(price, x.price)
        start = min(start, x.start)
        speed = min(speed, x.speed)
        latency = min(latency, x.latency)
        carbon = min(carbon, x.carbon)
        spread = min(spread, x.spread)
        locality = min(locality, x.locality)
    }

    @inline(__always)
    mutating func formMax(_ x: Criteria) {
        price = max(price, x.price)
        start = max(start, x.start)
        speed = max(speed, x.speed)
        latency = max(latency, x.latency)
        carbon = max(carbon, x.carbon)
        spread = max(spread, x.spread)
        locality = max(locality, x.locality)
    }

    @inline(__always)
    func weigh(_ x: Criteria, lo: Criteria) -> Double {
        var sum = price * (x.price - lo.price)
        sum += start * (x.start - lo.start)
        sum += speed * (x.speed - lo.speed)
        sum += latency * (x.latency - lo.latency)
        sum += carbon * (x.carbon - lo.carbon)
        sum += spread * (x.spread - lo.spread)
        sum += locality * (x.locality - lo.locality)
        return sum
    }
}
