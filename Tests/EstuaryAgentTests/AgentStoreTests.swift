import EstuaryModel
import EstuaryWire
import Testing

@testable import EstuaryAgent

@Suite("Outbox and job table")
struct AgentStoreTests {
    private func update(_ job: String, _ state: Estuary_V1_JobState) -> Estuary_V1_Envelope.OneOf_Body {
        var update = Estuary_V1_JobUpdate()
        update.jobID = job
        update.attempt = 1
        update.state = state
        return .jobUpdate(update)
    }

    @Test("outbox entries, their seqs and the epoch survive closing and reopening the database")
    func survivesReopen() async throws {
        try await withTemporaryDirectory { directory in
            let epoch: String
            do {
                let store = try AgentStore(directory: directory)
                epoch = store.epoch
                #expect(try store.nextSeq() == 1)
                #expect(try store.enqueue([update("a", .starting), update("a", .running)], nowMs: 1) == [1, 2])
            }
            let reopened = try AgentStore(directory: directory)
            #expect(reopened.epoch == epoch)
            #expect(try reopened.nextSeq() == 3)
            let entries = try reopened.outbox(after: 0)
            #expect(entries.map(\.seq) == [1, 2])
            #expect(entries.map(\.envelope.seq) == [1, 2])
            #expect(entries[1].envelope.jobUpdate.state == .running)
        }
    }

    @Test("an ack deletes entries up to it and seqs keep growing")
    func ackPrunes() async throws {
        try await withTemporaryDirectory { directory in
            let store = try AgentStore(directory: directory)
            try store.enqueue([update("a", .starting), update("a", .running), update("a", .succeeded)], nowMs: 1)
            try store.acknowledge(upTo: 2, nowMs: 2)
            #expect(try store.outbox(after: 0).map(\.seq) == [3])
            try store.acknowledge(upTo: 2, nowMs: 3)  // a repeated ack changes nothing
            #expect(try store.outboxCount() == 1)
            #expect(try store.enqueue([update("b", .starting)], nowMs: 4) == [4])
            #expect(try store.outbox(after: 3).map(\.seq) == [4])
        }
    }

    @Test("a fresh database gets a new outbox epoch")
    func freshEpoch() async throws {
        let first = try await withTemporaryDirectory { try AgentStore(directory: $0).epoch }
        let second = try await withTemporaryDirectory { try AgentStore(directory: $0).epoch }
        #expect(first != second)
    }

    @Test("a terminal job is marked reported by the ack of its update, then pruned after the retention")
    func terminalJobsArePruned() async throws {
        try await withTemporaryDirectory { directory in
            let store = try AgentStore(directory: directory)
            var record = JobRecord(jobID: "j1", attempt: 1, spec: Estuary_V1_JobSpec(), state: .starting, acceptedAtMs: 10)
            #expect(try store.insert(record, emitting: [update("j1", .starting)], nowMs: 10))
            #expect(try !store.insert(record, emitting: [update("j1", .starting)], nowMs: 11), "insert is idempotent")
            record.state = .succeeded
            let saved = try store.save(record, emitting: [update("j1", .succeeded)], nowMs: 20)
            #expect(saved.terminalSeq == 2)
            #expect(try store.outboxCount() == 2)

            try store.acknowledge(upTo: 1, nowMs: 30)
            #expect(try store.job("j1", attempt: 1)?.terminalReported == false)
            try store.acknowledge(upTo: 2, nowMs: 40)
            #expect(try store.job("j1", attempt: 1)?.terminalReported == true)

            _ = try store.pruneReported(before: 40)
            #expect(try store.allJobs().count == 1, "kept during the retention")
            _ = try store.pruneReported(before: 41)
            #expect(try store.allJobs().isEmpty)
        }
    }
}
