import Testing

@testable import EstuaryAgent

/// SplitMix64: a seeded generator, so that a failing run can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Reconnect backoff")
struct ReconnectBackoffTests {
    let backoff = ReconnectBackoff()

    @Test("the ceiling doubles from 250 ms and stops at 30 s")
    func ceilingDoublesThenCaps() {
        let ceilings = (0..<10).map { backoff.ceiling(attempt: $0) }
        #expect(ceilings.prefix(8) == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30)])
        #expect(backoff.ceiling(attempt: 9) == .seconds(30))
        #expect(backoff.ceiling(attempt: 1000) == .seconds(30), "huge attempts do not overflow")
    }

    @Test("full jitter spans zero to the ceiling", arguments: [0, 3, 12])
    func jitterBounds(attempt: Int) {
        #expect(backoff.delay(attempt: attempt, unit: 0) == .zero)
        let top = backoff.delay(attempt: attempt, unit: 0.999_999)
        #expect(top <= backoff.ceiling(attempt: attempt))
        #expect(top >= backoff.ceiling(attempt: attempt) - .milliseconds(1))
        #expect(backoff.delay(attempt: attempt, unit: 0.5) == .milliseconds(ReconnectBackoff.milliseconds(backoff.ceiling(attempt: attempt)) / 2))
    }

    @Test("random delays stay within bounds for many seeds")
    func seededDelaysStayInBounds() {
        for seed in UInt64(1)...200 {
            var generator = SeededGenerator(state: seed)
            for attempt in 0..<20 {
                let delay = backoff.delay(attempt: attempt, using: &generator)
                #expect(delay >= .zero && delay <= backoff.ceiling(attempt: attempt), "seed \(seed), attempt \(attempt)")
            }
        }
    }
}
