import EstuaryWire
import Synchronization

/// State shared by the tasks of one session: the downstream ack to stamp on every envelope,
/// whether the handshake finished, and how the session ended. Each task touches it briefly
/// under a lock; nothing here suspends.
final class SessionLink: Sendable {
    enum End: Sendable {
        /// Ended in an orderly way (stream closed, Drain, fatal Error from the coordinator).
        case closed
        /// A task of the session failed; the session must be torn down.
        case failed(any Error)
    }

    private struct State {
        var downstream = SessionProtocol.Downstream()
        var lastAckSent: UInt64 = 0
        var welcomed = false
        var retryAfter: Duration?
        var endReason: End?
    }

    private let state = Mutex(State())
    private let endContinuation: AsyncStream<End>.Continuation
    /// Yields once when the session should end.
    let ends: AsyncStream<End>

    init() {
        (ends, endContinuation) = AsyncStream.makeStream(of: End.self, bufferingPolicy: .bufferingNewest(1))
    }

    var welcomed: Bool { state.withLock { $0.welcomed } }
    /// The error that ended the session, if one did.
    var failure: (any Error)? {
        state.withLock { state in
            if case .failed(let error)? = state.endReason { return error }
            return nil
        }
    }
    var retryAfter: Duration? { state.withLock { $0.retryAfter } }

    func markWelcomed() { state.withLock { $0.welcomed = true } }
    func setRetryAfter(_ delay: Duration) { state.withLock { $0.retryAfter = delay } }

    func directive(for envelope: Estuary_V1_Envelope) -> SessionProtocol.Directive {
        state.withLock { $0.downstream.directive(for: envelope) }
    }

    func markApplied(_ seq: UInt64) { state.withLock { $0.downstream.markApplied(seq) } }

    /// Sets `ack` on an outgoing envelope to the highest applied downstream seq.
    func stamp(_ envelope: Estuary_V1_Envelope) -> Estuary_V1_Envelope {
        var envelope = envelope
        envelope.ack = state.withLock { state in
            state.lastAckSent = max(state.lastAckSent, state.downstream.applied)
            return state.downstream.applied
        }
        return envelope
    }

    /// True when a command was applied but no envelope has carried its ack yet.
    var ackPending: Bool { state.withLock { $0.downstream.applied > $0.lastAckSent } }

    /// Ends the session (the first reason wins).
    func end(_ reason: End) {
        let first = state.withLock { state in
            guard state.endReason == nil else { return false }
            state.endReason = reason
            return true
        }
        if first {
            endContinuation.yield(reason)
            endContinuation.finish()
        }
    }
}
