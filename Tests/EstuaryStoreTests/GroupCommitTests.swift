import EstuaryModel
import EstuaryStore
import Foundation
import Logging
import Testing

@Suite("Coordinator store")
struct CoordinatorStoreTests {
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-store-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func job(_ id: String, key: String? = nil) -> JobRecord {
        JobRecord(
            id: JobID(rawValue: id),
            spec: JobSpec(
                name: "n", tenant: "t", command: ["/bin/true"], resources: ResourceRequest(acceleratorClass: "cpu-x86-64"),
                walltimeSeconds: 60, idempotencyKey: key),
            state: .queued, createdAtMs: 1, updatedAtMs: 1)
    }

    @Test("concurrent writers all commit, and what they wrote survives reopening")
    func concurrentWritersSurviveReopen() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        let job = Self.job("j\(index)")
                        try await store.write { tx in try tx.insertJob(job) }
                    }
                }
                try await group.waitForAll()
            }
        }
        let reopened = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        let count = try await reopened.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 10_000).count }
        #expect(count == 500)
    }

    @Test("a failing unit of work is undone alone; the others in its batch commit")
    func failureIsIsolated() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        try await store.write { tx in try tx.insertJob(Self.job("dup")) }
        let results = await withTaskGroup(of: Bool.self) { group -> [Bool] in
            for index in 0..<50 {
                group.addTask {
                    // Every tenth insert collides with the existing primary key.
                    let job = Self.job(index % 10 == 0 ? "dup" : "ok\(index)")
                    return (try? await store.write { tx in try tx.insertJob(job) }) != nil
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { !$0 }.count == 5)
        let count = try await store.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 1000).count }
        #expect(count == 46)
    }

    @Test("writes enqueued in order commit in order")
    func enqueueOrder() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        var job = Self.job("ordered")
        try await store.write { [job] tx in try tx.insertJob(job) }
        var tickets: [WriteTicket<Void>] = []
        for state in [JobState.placed, .starting, .running, .succeeded] {
            job.state = state
            let snapshot = job
            tickets.append(store.enqueueWrite { tx in try tx.updateJob(snapshot) })
        }
        for ticket in tickets { try await ticket.wait() }
        let stored = try await store.read { tx in try tx.job("ordered") }
        #expect(stored?.state == .succeeded)
    }

    @Test("a usage record is stored once, however often it arrives")
    func usageOnce() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        let record = UsageRecord(
            id: .forJob("j", attempt: 1), jobID: "j", siteID: "s", acceleratorClass: "cpu-x86-64", units: 2,
            startedAtMs: 0, endedAtMs: 1500)
        var inserted: [Bool] = []
        for _ in 0..<3 {
            inserted.append(try await store.write { tx in try tx.insertUsage(record, recordedAtMs: 5) })
        }
        #expect(inserted == [true, false, false])
        let stored = try await store.read { tx in try tx.usage(job: nil) }
        #expect(stored == [record])
    }

    @Test("idempotency keys are scoped to the tenant")
    func idempotencyKeys() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        let job = Self.job("k1", key: "run-42")
        try await store.write { tx in try tx.insertJob(job) }
        let found = try await store.read { tx in try tx.job(tenant: "t", idempotencyKey: "run-42") }
        let other = try await store.read { tx in try tx.job(tenant: "other", idempotencyKey: "run-42") }
        #expect(found?.id == "k1")
        #expect(other == nil)
    }

    @Test("cursors are kept per site and outbox epoch")
    func cursors() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
        try await store.write { tx in try tx.setCursor(site: "a", epoch: "e1", seq: 42) }
        let (same, otherEpoch) = try await store.read { tx in
            (try tx.cursor(site: "a", epoch: "e1"), try tx.cursor(site: "a", epoch: "e2"))
        }
        #expect(same == 42)
        #expect(otherEpoch == 0)
    }
}
