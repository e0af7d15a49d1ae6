import EstuaryWire
import Synchronization

/// What one simulated agent saw: when each report went out, when its ack came back, and how
/// the session ended. Written by the agent's sender and reader, read by the driver.
final class SessionProbe: Sendable {
    struct Report {
        var seq: UInt64
        var scheduled: ContinuousClock.Instant
        var sentAt: ContinuousClock.Instant
        var ackedAt: ContinuousClock.Instant?
    }

    enum Phase: Equatable {
        case connecting, connected, failed
    }

    private struct State {
        var phase = Phase.connecting
        var failure: String?
        var failedAt: ContinuousClock.Instant?
        var reports: [Report] = []
        var firstUnacked = 0
        var highestDownstreamSeq: UInt64 = 0
    }

    private let state = Mutex(State())

    func connected() { state.withLock { $0.phase = .connected } }

    func failed(_ reason: String) {
        state.withLock { state in
            guard state.phase != .failed else { return }
            state.phase = .failed
            state.failure = reason
            state.failedAt = .now
        }
    }

    var phase: Phase { state.withLock { $0.phase } }

    /// Records a report about to be written.
    func sending(seq: UInt64, scheduled: ContinuousClock.Instant, at sentAt: ContinuousClock.Instant) {
        state.withLock { $0.reports.append(Report(seq: seq, scheduled: scheduled, sentAt: sentAt)) }
    }

    /// Resolves every report whose seq the envelope's cumulative ack covers.
    func received(_ envelope: Estuary_V1_Envelope, at now: ContinuousClock.Instant) {
        state.withLock { state in
            if envelope.seq > state.highestDownstreamSeq { state.highestDownstreamSeq = envelope.seq }
            while state.firstUnacked < state.reports.count, state.reports[state.firstUnacked].seq <= envelope.ack {
                state.reports[state.firstUnacked].ackedAt = now
                state.firstUnacked += 1
            }
        }
    }

    var pendingCount: Int { state.withLock { $0.reports.count - $0.firstUnacked } }

    struct Snapshot {
        var phase: Phase
        var failure: String?
        var failedAt: ContinuousClock.Instant?
        var reports: [Report]
    }

    func snapshot() -> Snapshot {
        state.withLock { Snapshot(phase: $0.phase, failure: $0.failure, failedAt: $0.failedAt, reports: $0.reports) }
    }
}

/// Tells every simulated agent when to stop sending.
final class RunControl: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isStopped: Bool { stopped.load(ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }
}
