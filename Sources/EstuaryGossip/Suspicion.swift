/// A running suspicion of one member (Lifeguard's dynamic suspicion, memberlist suspicion.go
/// re-derived): the timeout starts at `maxMs` and falls towards `minMs` as independent members
/// confirm the suspicion, logarithmically in the number of confirmations.
struct Suspicion: Sendable, Hashable {
    var incarnation: UInt64
    var startMs: Int64
    var minMs: Int64
    var maxMs: Int64
    /// Confirmations that bring the timeout down to `minMs`.
    var expected: Int
    /// Members that suspected, the originator included.
    var suspecters: Set<String>

    static let maxSuspecters = 64

    init(incarnation: UInt64, from: String, startMs: Int64, minMs: Int64, maxMs: Int64, expected: Int) {
        self.incarnation = incarnation
        self.startMs = startMs
        self.minMs = minMs
        self.maxMs = max(minMs, maxMs)
        self.expected = expected
        self.suspecters = [from]
    }

    var confirmations: Int { suspecters.count - 1 }

    /// Records an independent confirmation; false when `from` had already suspected.
    mutating func confirm(from: String) -> Bool {
        guard confirmations < expected, suspecters.count < Self.maxSuspecters else { return false }
        return suspecters.insert(from).inserted
    }

    var timeoutMs: Int64 {
        guard expected >= 1 else { return minMs }
        let fraction = logBase10(Double(confirmations + 1)) / logBase10(Double(expected + 1))
        let raw = Double(maxMs) - Double(maxMs - minMs) * fraction
        return max(minMs, Int64(raw.rounded(.down)))
    }

    var deadlineMs: Int64 { startMs + timeoutMs }
}
