import EstuaryModel

// The arithmetic of deferral: piecewise-constant rates over time and their integrals.

protocol CostValue: Comparable, Sendable {
    static var zero: Self { get }
    func adding(_ other: Self) -> Self
    func subtracting(_ other: Self) -> Self
    func scaled(byMs ms: Int64) -> Self
}

extension Int64: CostValue {
    func adding(_ other: Int64) -> Int64 { saturatingAdd(other) }
    func subtracting(_ other: Int64) -> Int64 { saturatingAdd(other == .min ? .max : -other) }
    func scaled(byMs ms: Int64) -> Int64 { saturatingMultiply(ms) }
}

extension Double: CostValue {
    func adding(_ other: Double) -> Double { self + other }
    func subtracting(_ other: Double) -> Double { self - other }
    func scaled(byMs ms: Int64) -> Double { self * Double(ms) }
}

/// A piecewise-constant rate from `times[0]` on, with its running integral.
struct RateCurve<Value: CostValue>: Sendable {
    var times: [Int64] = []
    var rates: [Value] = []
    var prefix: [Value] = []
    /// Queries up to here are exact (`.max` when the rate no longer changes or the cap is hit).
    var coversMs: Int64 = .max

    init(fromMs: Int64, toMs: Int64, next: (Int64) -> Int64, rate: (Int64) -> Value) {
        var t = fromMs
        while true {
            times.append(t)
            rates.append(rate(t))
            if times.count >= maxDeferralBoundaries { break }
            let n = next(t)
            guard n > t else { break }
            guard n < toMs else {
                coversMs = toMs
                break
            }
            t = n
        }
        prefix = [Value.zero]
        for index in 1..<max(1, times.count) {
            prefix.append(prefix[index - 1].adding(rates[index - 1].scaled(byMs: times[index] - times[index - 1])))
        }
    }

    /// Integral from `times[0]` to `x` (the last rate continues past the last edge).
    func integral(to x: Int64) -> Value {
        var low = 0
        var high = times.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if times[mid] <= x { low = mid } else { high = mid - 1 }
        }
        return prefix[low].adding(rates[low].scaled(byMs: max(0, x - times[low])))
    }

    func cost(startMs: Int64, walltimeMs: Int64) -> Value {
        integral(to: startMs.saturatingAdd(walltimeMs)).subtracting(integral(to: startMs))
    }
}

/// The lowest cost, then the earliest start, then the lower site id and class name.
struct Best<Cost: Comparable> {
    var found: (cost: Cost, startMs: Int64, tie: TieKey, ref: PoolRef)?

    mutating func consider(_ cost: Cost, startMs: Int64, tie: TieKey, ref: PoolRef) {
        guard let current = found else {
            found = (cost, startMs, tie, ref)
            return
        }
        if (cost, startMs, tie.rank, tie.classSlot) < (current.cost, current.startMs, current.tie.rank, current.tie.classSlot) {
            found = (cost, startMs, tie, ref)
        }
    }
}

/// Site rank, then class position: the order of equal candidates.
struct TieKey: Sendable {
    var rank: Int
    var classSlot: Int
}

/// Milliseconds spent in each tariff kind.
struct KindDurations: Sendable {
    var flat: Int64 = 0
    var peak: Int64 = 0
    var valley: Int64 = 0

    func adding(_ kind: TariffKind, _ ms: Int64) -> KindDurations {
        var sum = self
        switch kind {
        case .flat: sum.flat += ms
        case .peak: sum.peak += ms
        case .valley: sum.valley += ms
        }
        return sum
    }

    static func - (a: KindDurations, b: KindDurations) -> KindDurations {
        KindDurations(flat: a.flat - b.flat, peak: a.peak - b.peak, valley: a.valley - b.valley)
    }
}

/// The tariff kinds of one price book from `fromMs` on, with the running time spent in each.
struct KindTimeline: Sendable {
    var times: [Int64] = []
    var kinds: [TariffKind] = []
    var prefix: [KindDurations] = []
    /// Queries up to here are exact (`.max` when the cap is hit).
    var coversMs: Int64 = .max

    init(book: PriceBook, edges: [Int], fromMs: Int64, toMs: Int64) {
        var t = fromMs
        while true {
            times.append(t)
            kinds.append(book.kind(atMs: t))
            if times.count >= maxDeferralBoundaries { break }
            let next = Scheduler.nextTariffBoundary(afterMs: t, edges: edges, utcOffsetMinutes: book.utcOffsetMinutes)
            guard next > t else { break }
            guard next < toMs else {
                coversMs = toMs
                break
            }
            t = next
        }
        prefix = [KindDurations()]
        for index in 1..<max(1, times.count) { prefix.append(prefix[index - 1].adding(kinds[index - 1], times[index] - times[index - 1])) }
    }

    /// Time in each kind from `times[0]` to `x` (the last kind continues past the last edge).
    func integral(to x: Int64) -> KindDurations {
        var low = 0
        var high = times.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if times[mid] <= x { low = mid } else { high = mid - 1 }
        }
        return prefix[low].adding(kinds[low], max(0, x - times[low]))
    }

    func durations(startMs: Int64, walltimeMs: Int64) -> KindDurations {
        integral(to: startMs.saturatingAdd(walltimeMs)) - integral(to: startMs)
    }
}

extension Scheduler {
    /// `PriceBook.nextBoundary` over precomputed edges.
    static func nextTariffBoundary(afterMs ms: Int64, edges: [Int], utcOffsetMinutes: Int) -> Int64 {
        let minuteStart = floorDiv(ms, 60_000)
        let minute = Int(floorMod(minuteStart + Int64(utcOffsetMinutes), 1440))
        let next = edges.first { $0 > minute } ?? 1440
        return (minuteStart + Int64(next - minute)) * 60_000
    }

}
