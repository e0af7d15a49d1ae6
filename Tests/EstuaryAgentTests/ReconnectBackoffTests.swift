import EstuaryModel
import Testing

@testable import EstuaryAgent

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
            var generator = SplitMix64(seed: seed)
            for attempt in 0..<20 {
                let delay = backoff.delay(attempt: attempt, using: &generator)
                #expect(delay >= .zero && delay <= backoff.ceiling(attempt: attempt), "seed \(seed), attempt \(attempt)")
            }
        }
    }
}
