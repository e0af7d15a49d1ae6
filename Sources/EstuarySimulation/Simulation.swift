import EstuaryConfig
import EstuaryModel

/// Discrete-event replay of real workload traces, and synthetic meshes, for the pure scheduler.
/// Tests and benchmarks share it. Nothing here does I/O: traces come in as CSV text.
public enum Simulation {
    /// Published per-unit figures of every class the trace replay and the synthetic meshes
    /// use: the catalog the coordinator ships (`Agents/catalog.toml`), so that simulated
    /// placements weigh classes exactly as real ones do. The Alibaba trace's anonymised models
    /// (G1–G3) are not in it: their pools run only jobs that name them exactly.
    public static let catalog = AcceleratorCatalog.builtin
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable generator, so that a synthetic
/// mesh is the same on every machine and every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0), without modulo bias worth speaking of for small bounds.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Mean and nearest-rank percentiles of a sample.
public struct Distribution: Sendable, Hashable {
    public var count: Int
    public var mean: Double
    public var p50: Double
    public var p99: Double
    public var max: Double

    public init(_ samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let index = Int((q * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        mean = sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count)
        p50 = rank(0.50)
        p99 = rank(0.99)
        max = sorted.last ?? .nan
    }
}
