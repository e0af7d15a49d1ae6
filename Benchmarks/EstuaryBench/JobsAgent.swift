import EstuaryModel
import EstuaryTransport
import EstuaryWire
import Synchronization

/// When each job's JobAssign reached a simulated site, across all sites, and how often: a
/// job assigned twice would run twice.
final class AssignLog: Sendable {
    private struct State {
        var assignedAt: [String: ContinuousClock.Instant] = [:]
        var duplicates = 0
        var total = 0
    }

    private let state = Mutex(State())

    func record(_ jobID: String, at now: ContinuousClock.Instant) {
        state.withLock { state in
            state.total += 1
            if state.assignedAt[jobID] == nil {
                state.assignedAt[jobID] = now
            } else {
                state.duplicates += 1
            }
        }
    }

    /// Every JobAssign received so far, duplicates included; the difference between two
    /// readings is what a phase of a benchmark received.
    var total: Int { state.withLock { $0.total } }

    func count(of ids: [String]) -> Int {
        state.withLock { state in ids.reduce(0) { $0 + (state.assignedAt[$1] == nil ? 0 : 1) } }
    }

    func times() -> [String: ContinuousClock.Instant] { state.withLock { $0.assignedAt } }
    var duplicates: Int { state.withLock { $0.duplicates } }
}

/// A simulated site of the jobs benchmark: a large pool, and every assigned job "runs"
/// instantly: RUNNING, then SUCCEEDED with exit code 0, then its usage record, each a reliable
/// seq'd envelope, so its capacity frees as soon as the coordinator applies them.
final class JobsSiteState: Sendable {
    private struct State {
        var phase = SessionProbe.Phase.connecting
        var failure: String?
        /// Assigned jobs not yet answered.
        var toAnswer: [Estuary_V1_JobAssign] = []
        var lastSentSeq: UInt64 = 0
        var lastAck: UInt64 = 0
        var highestDownstreamSeq: UInt64 = 0
        var answered = 0
    }

    private let state = Mutex(State())
    private let wake: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    init() { (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }

    var phase: SessionProbe.Phase { state.withLock { $0.phase } }
    var failure: String? { state.withLock { $0.failure } }
    var answered: Int { state.withLock { $0.answered } }

    func connected() { state.withLock { $0.phase = .connected } }

    func failed(_ reason: String) {
        state.withLock { state in
            guard state.phase != .failed else { return }
            state.phase = .failed
            state.failure = reason
        }
        wake.finish()
    }

    func received(_ envelope: Estuary_V1_Envelope) {
        let assigned = state.withLock { state -> Bool in
            state.lastAck = max(state.lastAck, envelope.ack)
            state.highestDownstreamSeq = max(state.highestDownstreamSeq, envelope.seq)
            if case .jobAssign(let assign) = envelope.body {
                state.toAnswer.append(assign)
                return true
            }
            return false
        }
        if assigned { wake.yield() }
    }

    /// Everything assigned since the last call, and the downstream seq to acknowledge.
    func takeAssigned() -> ([Estuary_V1_JobAssign], UInt64) {
        state.withLock { state in
            let taken = state.toAnswer
            state.toAnswer.removeAll(keepingCapacity: true)
            return (taken, state.highestDownstreamSeq)
        }
    }

    func sent(upTo seq: UInt64, jobs: Int) {
        state.withLock { state in
            state.lastSentSeq = seq
            state.answered += jobs
        }
    }

    /// True when the coordinator has acknowledged every answer sent so far.
    var allAcked: Bool { state.withLock { $0.lastAck >= $0.lastSentSeq && $0.toAnswer.isEmpty } }

    func stop() { wake.finish() }
}

/// One simulated site of the jobs benchmark.
struct JobsAgent: Sendable {
    let site: SimulatedSite
    let state: JobsSiteState
    let assigns: AssignLog
    let client: MeshClientConfiguration
    let reportInterval: Duration
    /// How long each job's usage record says it ran (it "runs" instantly all the same): a
    /// record of 0 ms rates at 0 fen, so a benchmark that checks charges needs a span.
    var usageSpanMs: Int64 = 0

    func run() async {
        do {
            try await MeshClient.withSession(configuration: client, headers: site.headers) { session in
                var reader = session.reader
                let resumeFrom = try await site.handshake(session, reader: &reader)
                let writer = session.writer
                try await writer.send(site.capacity())
                state.connected()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await answer(writer, firstSeq: resumeFrom + 1) }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: reportInterval)
                            try await writer.send(site.capacity())
                        }
                    }
                    while let envelope = try await reader.next() {
                        if case .jobAssign(let assign) = envelope.body { assigns.record(assign.jobID, at: .now) }
                        state.received(envelope)
                        if case .error(let error) = envelope.body {
                            state.failed("coordinator sent Error \(error.code): \(error.message)")
                        }
                    }
                    state.failed("the coordinator ended the session")
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            state.failed("\(error)")
        }
    }

    /// Answers assigned jobs in batches: whatever arrived while the previous write was in flight
    /// goes out in one write, with consecutive seqs.
    private func answer(_ writer: EnvelopeWriter, firstSeq: UInt64) async throws {
        var seq = firstSeq
        for await _ in state.wakes {
            let (jobs, downstreamAck) = state.takeAssigned()
            guard !jobs.isEmpty else { continue }
            var envelopes: [Estuary_V1_Envelope] = []
            envelopes.reserveCapacity(jobs.count * 3)
            let now = WallClock.milliseconds()
            for job in jobs {
                let units = UInt32(clamping: Int(job.spec.count) * Int(max(1, job.spec.tasks)))
                envelopes.append(Estuary_V1_Envelope(seq: seq, ack: downstreamAck, body: .jobUpdate(.with {
                    $0.jobID = job.jobID
                    $0.attempt = job.attempt
                    $0.state = .running
                    $0.atMs = now
                })))
                envelopes.append(Estuary_V1_Envelope(seq: seq + 1, ack: downstreamAck, body: .jobUpdate(.with {
                    $0.jobID = job.jobID
                    $0.attempt = job.attempt
                    $0.state = .succeeded
                    $0.atMs = now
                    $0.hasExitCode_p = true
                    $0.exitCode = 0
                })))
                envelopes.append(Estuary_V1_Envelope(seq: seq + 2, ack: downstreamAck, body: .usage(.with {
                    $0.records = [.with {
                        $0.recordID = UsageRecordID.forJob(JobID(rawValue: job.jobID), attempt: Int(job.attempt)).rawValue
                        $0.jobID = job.jobID
                        $0.acceleratorClass = job.spec.acceleratorClass
                        $0.units = max(1, units)
                        $0.startedAtMs = now - usageSpanMs
                        $0.endedAtMs = now
                    }]
                })))
                seq += 3
            }
            try await writer.send(contentsOf: envelopes)
            state.sent(upTo: seq - 1, jobs: jobs.count)
        }
    }
}
