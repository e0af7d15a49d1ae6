import EstuaryModel

/// Discrete-event replay of real workload traces, and synthetic meshes, for the pure scheduler.
/// Tests and benchmarks share it. Nothing here does I/O: traces come in as CSV text.
public enum Simulation {
    /// Published per-unit figures of every class the trace replay and the synthetic meshes
    /// use. The Alibaba trace's anonymised models (G1–G3) are deliberately absent: their pools
    /// run only jobs that name them exactly.
    public static let catalog = AcceleratorCatalog([
        // name, vendor, model, kind, domestic, fp16, fp32, fp64, memory GiB, watts
        spec("nvidia-h100", "NVIDIA", "H100 SXM5 80GB", .gpu, false, 989, 67, 34, 80, 700),
        spec("nvidia-a100", "NVIDIA", "A100 SXM4 80GB", .gpu, false, 312, 19.5, 9.7, 80, 400),
        spec("nvidia-l40s", "NVIDIA", "L40S", .gpu, false, 362, 91.6, 1.4, 48, 350),
        spec("nvidia-a10", "NVIDIA", "A10", .gpu, false, 125, 31.2, 0.98, 24, 150),
        spec("nvidia-t4", "NVIDIA", "T4", .gpu, false, 65, 8.1, 0.25, 16, 70),
        spec("nvidia-v100-16g", "NVIDIA", "V100 16GB", .gpu, false, 125, 15.7, 7.8, 16, 300),
        spec("nvidia-v100-32g", "NVIDIA", "V100 32GB", .gpu, false, 125, 15.7, 7.8, 32, 300),
        spec("nvidia-p100", "NVIDIA", "P100 16GB", .gpu, false, 21.2, 10.6, 5.3, 16, 300),
        spec("ascend-910b", "Huawei", "Ascend 910B", .npu, true, 320, 80, 0, 64, 400),
        spec("ascend-310p", "Huawei", "Ascend 310P", .npu, true, 70, 0, 0, 24, 72),
        spec("hygon-dcu-z100", "Hygon", "DCU Z100", .dcu, true, 45, 10.8, 10.8, 32, 300),
        spec("cpu-x86-64", "generic", "x86-64 core", .cpu, false, 0.1, 0.05, 0.025, 0, 10),
        spec("cpu-kunpeng-920", "Huawei", "Kunpeng 920 core", .cpu, true, 0.08, 0.04, 0.02, 0, 8),
    ])

    private static func spec(
        _ name: String, _ vendor: String, _ model: String, _ kind: AcceleratorSpec.Kind, _ domestic: Bool,
        _ fp16: Double, _ fp32: Double, _ fp64: Double, _ memory: Double, _ watts: Int
    ) -> AcceleratorSpec {
        AcceleratorSpec(
            name: AcceleratorClass(rawValue: name), vendor: vendor, model: model, kind: kind, domestic: domestic,
            fp16TFLOPS: fp16, fp32TFLOPS: fp32, fp64TFLOPS: fp64, memoryGiB: memory, powerWatts: watts)
    }
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
