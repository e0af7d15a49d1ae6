/// Capped exponential backoff with full jitter (PROTOCOL.md, reconnect): the n-th consecutive
/// failed attempt (n from 0) sleeps uniform(0, min(cap, base × 2ⁿ)). Pure: the caller passes the
/// randomness, so tests can pin it and thousands of agents do not return in lock-step.
public struct ReconnectBackoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .milliseconds(250), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = cap
    }

    /// The largest sleep of attempt `attempt`: min(cap, base × 2^attempt).
    public func ceiling(attempt: Int) -> Duration {
        let exponent = min(max(attempt, 0), 62)
        let baseMs = Self.milliseconds(base)
        let capMs = Self.milliseconds(cap)
        let (scaled, overflow) = baseMs.multipliedReportingOverflow(by: Int64(1) << exponent)
        return .milliseconds(overflow ? capMs : min(capMs, scaled))
    }

    /// The sleep before reconnect attempt `attempt`, with `unit` a uniform random number in [0, 1).
    public func delay(attempt: Int, unit: Double) -> Duration {
        let ceilingMs = Double(Self.milliseconds(ceiling(attempt: attempt)))
        let clamped = min(max(unit, 0), 1)
        return .milliseconds(Int64((ceilingMs * clamped).rounded(.down)))
    }

    /// The sleep before reconnect attempt `attempt`, drawing from `generator`.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        delay(attempt: attempt, unit: Double.random(in: 0..<1, using: &generator))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
