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
