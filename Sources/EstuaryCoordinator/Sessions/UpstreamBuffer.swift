import EstuaryWire
import Synchronization

/// Hands reliable upstream envelopes from a session's reader to its applier in batches: while
/// one batch commits, the next accumulates, so a busy site costs one transaction per batch
/// instead of one per message. The reader waits when `limit` envelopes are pending, so a fast
/// sender is slowed by HTTP/2 flow control rather than by our memory. Continuations are taken
/// out under the lock and resumed after it, never while holding it.
final class UpstreamBuffer: Sendable {
    private struct State {
        var pending: [Estuary_V1_Envelope] = []
        var finished = false
        var consumer: CheckedContinuation<Void, Never>?
        var producer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int = 1024) { self.limit = limit }

    /// Adds an envelope, waiting while the buffer is full. Once finished (the applier has
    /// stopped) envelopes are dropped: they are not acked, so the agent resends them.
    func append(_ envelope: Estuary_V1_Envelope) async {
        let (consumer, mustWait) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            if state.finished { return (nil, false) }
            state.pending.append(envelope)
            let consumer = state.consumer
            state.consumer = nil
            return (consumer, state.pending.count >= limit)
        }
        consumer?.resume()
        guard mustWait else { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.pending.count < limit || state.finished { return true }
                state.producer = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func finish() {
        let (consumer, producer) = state.withLock { state in
            state.finished = true
            defer {
                state.consumer = nil
                state.producer = nil
            }
            return (state.consumer, state.producer)
        }
        consumer?.resume()
        producer?.resume()
    }

    /// Everything pending, waiting for at least one; nil once finished and drained.
    func takeAll() async -> [Estuary_V1_Envelope]? {
        while true {
            let (batch, producer) = state.withLock { state -> ([Estuary_V1_Envelope]??, CheckedContinuation<Void, Never>?) in
                if !state.pending.isEmpty {
                    let batch = state.pending
                    state.pending.removeAll(keepingCapacity: true)
                    let producer = state.producer
                    state.producer = nil
                    return (.some(batch), producer)
                }
                return (state.finished ? .some(nil) : nil, nil)
            }
            producer?.resume()
            if let batch { return batch }
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.pending.isEmpty || state.finished { return true }
                    state.consumer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}
