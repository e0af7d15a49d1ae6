import EstuaryModel
import Foundation

/// The seeded generator every random test uses (EstuaryModel.SplitMix64).
typealias SeededGenerator = SplitMix64

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
