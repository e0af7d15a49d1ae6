import EstuaryTransport
import EstuaryWire
import Synchronization

/// Sends outbox entries in seq order as they are written, each once per session; entries stay
/// in the outbox until acknowledged and are resent by the next session if need be. The last
/// output of a job goes out just before its terminal JobUpdate, in bounded slices (at most
/// `JobSupervisor.maxFinalChunksPerSlice` chunks per write), so a job that wrote gigabytes never
/// has its output in memory at once.
final class OutboxPusher: Sendable {
    let supervisor: JobSupervisor
    let writer: EnvelopeWriter
    let link: SessionLink
    private let lastSent: Mutex<UInt64>

    init(supervisor: JobSupervisor, writer: EnvelopeWriter, link: SessionLink, lastSent: UInt64) {
        self.supervisor = supervisor
        self.writer = writer
        self.link = link
        self.lastSent = Mutex(lastSent)
    }

    /// Sends everything written since the last push.
    func pushPending() async throws {
        while true {
            let after = lastSent.withLock { $0 }
            let entries = try supervisor.outbox.outbox(after: after, limit: 256)
            guard let last = entries.last else { return }
            let updates = entries.compactMap { entry -> Estuary_V1_JobUpdate? in
                if case .jobUpdate(let update) = entry.envelope.body { return update }
                return nil
            }
            try await supervisor.beginFinalLogs(for: updates)
            while true {
                let slice = await supervisor.finalLogChunks(for: updates)
                if slice.isEmpty { break }
                try await writer.send(contentsOf: slice.map(link.stamp))
            }
            try await writer.send(contentsOf: entries.map(\.envelope).map(link.stamp))
            lastSent.withLock { $0 = last.seq }
        }
    }

    /// Pushes on every outbox change until cancelled.
    func run(changes: AsyncStream<Void>) async throws {
        for await _ in changes {
            try await pushPending()
        }
    }
}
