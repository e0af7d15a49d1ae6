import Foundation

/// SplitMix64: a tiny, fast, seedable generator so that every random test can be replayed from
/// the seed it prints.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seeds for the property tests: `ESTUARY_FUZZ_SEED=<n>` replays one seed, otherwise a fixed
/// range is used so that runs are reproducible.
enum FuzzSeeds {
    static func seeds(count: Int) -> [UInt64] {
        if let text = ProcessInfo.processInfo.environment["ESTUARY_FUZZ_SEED"], let seed = UInt64(text) {
            return [seed]
        }
        return (0..<UInt64(count)).map { 0xE57_0A1 &+ $0 }
    }
}
