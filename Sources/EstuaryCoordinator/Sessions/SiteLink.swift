import EstuaryWire
import Synchronization

/// The coordinator's handle on one live agent session: commands are queued here without
/// waiting and the session's writer task sends them, stamping each with the latest ack.
final class SiteLink: Sendable {
    let sessionID: String
    private let queue: AsyncStream<Estuary_V1_Envelope>.Continuation
    let outgoing: AsyncStream<Estuary_V1_Envelope>
    private let downstreamSeq = Mutex<UInt64>(0)

    init(sessionID: String) {
        self.sessionID = sessionID
        (outgoing, queue) = AsyncStream.makeStream(of: Estuary_V1_Envelope.self)
    }

    /// Queues a reliable downstream command (JobAssign, JobCancel) with the next downstream seq.
    func sendReliable(_ body: Estuary_V1_Envelope.OneOf_Body) {
        var envelope = Estuary_V1_Envelope()
        envelope.seq = downstreamSeq.withLock { seq in
            seq += 1
            return seq
        }
        envelope.body = body
        queue.yield(envelope)
    }

    /// Queues an unsequenced envelope (pure ack, Error, Drain).
    func send(_ envelope: Estuary_V1_Envelope) {
        queue.yield(envelope)
    }

    /// Ends the session's writer: after a replacement, a fatal error or shutdown.
    func close(with final: Estuary_V1_Envelope? = nil) {
        if let final { queue.yield(final) }
        queue.finish()
    }
}
