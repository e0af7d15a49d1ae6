import EstuaryWire
import Synchronization

/// Hands reliable upstream envelopes from a session's reader to its applier in batches: while
/// one batch commits, the next accumulates, so a busy site costs one transaction per batch
/// instead of one per message. The reader waits when `limit` envelopes are pending, so a fast
/// sender is slowed by HTTP/2 flow control rather than by our memory.
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

    func append(_ envelope: Estuary_V1_Envelope) async {
        let mustWait = state.withLock { state -> Bool in
            state.pending.append(envelope)
            if let consumer = state.consumer {
                state.consumer = nil
                consumer.resume()
            }
            return state.pending.count >= limit
        }
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
        state.withLock { state in
            state.finished = true
            state.consumer?.resume()
            state.consumer = nil
            state.producer?.resume()
            state.producer = nil
        }
    }

    /// Everything pending, waiting for at least one; nil once finished and drained.
    func takeAll() async -> [Estuary_V1_Envelope]? {
        while true {
            let batch = state.withLock { state -> [Estuary_V1_Envelope]?? in
                if !state.pending.isEmpty {
                    let batch = state.pending
                    state.pending.removeAll(keepingCapacity: true)
                    state.producer?.resume()
                    state.producer = nil
                    return .some(batch)
                }
                return state.finished ? .some(nil) : nil
            }
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
