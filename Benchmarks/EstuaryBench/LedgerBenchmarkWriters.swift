import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore

/// What sending a workload's batches did: counts, per-batch commit latencies and when each
/// batch's closure ran on the store's writer.
struct PostingRun: Sendable {
    /// Batches sent the first time.
    var fresh = BatchOutcome()
    /// The same batches sent again (a session resending after a reconnect).
    var resent = BatchOutcome()
    var batches = 0
    var resentBatches = 0
    /// `store.write` called → returned, per batch, in ms (queueing, the closure, the commit).
    var latenciesMs: [Double] = []
    var resendLatenciesMs: [Double] = []
    var ran: [(from: ContinuousClock.Instant, to: ContinuousClock.Instant)] = []
    /// The writer thread's CPU time inside the closures, in ns.
    var closureCPUNs: Int64 = 0
    /// Time the writers spent building their records and jobs (the load generator, not the ledger).
    var generation = Duration.zero
    var wall = Duration.zero

    mutating func merge(_ other: PostingRun) {
        fresh.add(other.fresh)
        resent.add(other.resent)
        batches += other.batches
        resentBatches += other.resentBatches
        latenciesMs += other.latenciesMs
        resendLatenciesMs += other.resendLatenciesMs
        ran += other.ran
        closureCPUNs += other.closureCPUNs
        generation += other.generation
    }

    /// The writer's time inside the closures (`postUsage` and `setCursor`), first sends and resends.
    var closures: Duration { ran.reduce(Duration.zero) { $0 + ($1.to - $1.from) } }
}

enum LedgerWriters {
    /// Sends every batch of `workload` from `workload.writers` concurrent writers, each one a
    /// site session that waits for its batch's durable commit before sending the next (as the
    /// coordinator acks a UsageBatch only after its commit). A batch picked by `resends` is sent
    /// again after the writer's next batch, under a new seq. With `jobsInMemory` each write passes
    /// the batch's jobs as the coordinator holds them in memory; without, the writer first reads
    /// them from the store on a reader connection, as the coordinator does for jobs it no longer
    /// holds (`CoordinatorCore.storedJobs`, after a restart).
    static func run(
        _ workload: LedgerWorkload, mesh: LedgerMesh, store: CoordinatorStore, meter: Meter, jobsInMemory: Bool = true,
        resends: @escaping @Sendable (Int) -> Bool = { _ in false }
    ) async throws -> PostingRun {
        let clock = ContinuousClock()
        let start = clock.now
        var total = try await withThrowingTaskGroup(of: PostingRun.self) { group in
            for writer in 0..<workload.writers {
                group.addTask {
                    try await send(
                        writer: writer, workload, mesh: mesh, store: store, meter: meter, jobsInMemory: jobsInMemory,
                        resends: resends)
                }
            }
            var total = PostingRun()
            for try await run in group { total.merge(run) }
            return total
        }
        total.wall = clock.now - start
        return total
    }

    private static func send(
        writer: Int, _ workload: LedgerWorkload, mesh: LedgerMesh, store: CoordinatorStore, meter: Meter,
        jobsInMemory: Bool, resends: @Sendable (Int) -> Bool
    ) async throws -> PostingRun {
        let clock = ContinuousClock()
        var run = PostingRun()
        var pending: (site: Int, records: [UsageRecord], jobs: [JobID: JobRecord])?
        var seq = UInt64(workload.first)

        func write(_ records: [UsageRecord], jobs: [JobID: JobRecord], site: Int) async throws -> (BatchOutcome, Double) {
            seq += 1
            let siteID = mesh.siteID(site)
            let energy = mesh.energy(ofSite: site)
            let nowMs = mesh.nowMs
            let batchSeq = seq
            let sent = clock.now
            // As the coordinator's actor does before queueing the write: read the jobs it does
            // not hold, then check and rate.
            var jobs = jobs
            if !jobsInMemory {
                let ids = records.map(\.jobID)
                jobs = try await store.read { tx in
                    var found: [JobID: JobRecord] = [:]
                    for id in ids { if let job = try tx.job(id) { found[id] = job } }
                    return found
                }
            }
            let prepared = meter.prepareUsage(records, site: siteID, jobs: jobs, energy: energy, nowMs: nowMs)
            let count = records.count
            let outcome = try await store.write { tx in
                try LedgerPosting.post(prepared, records: count, site: siteID, seq: batchSeq, meter: meter, tx: tx)
            }
            run.ran.append((outcome.ranFrom, outcome.ranTo))
            run.closureCPUNs += outcome.cpuNs
            return (outcome, (clock.now - sent).milliseconds)
        }

        for batch in stride(from: writer, to: workload.batches, by: workload.writers) {
            let site = workload.site(ofBatch: batch)
            let built = clock.now
            let indices = workload.indices(ofBatch: batch)
            var records: [UsageRecord] = []
            records.reserveCapacity(indices.count)
            var jobs: [JobID: JobRecord] = [:]
            if jobsInMemory { jobs.reserveCapacity(indices.count) }
            for index in indices {
                let (job, usage) = mesh.record(index, site: site)
                records.append(usage)
                if jobsInMemory { jobs[job.id] = job }
            }
            run.generation += clock.now - built
            let (outcome, latency) = try await write(records, jobs: jobs, site: site)
            run.fresh.add(outcome)
            run.batches += 1
            run.latenciesMs.append(latency)
            if let again = pending {
                let (outcome, latency) = try await write(again.records, jobs: again.jobs, site: again.site)
                run.resent.add(outcome)
                run.resentBatches += 1
                run.resendLatenciesMs.append(latency)
                pending = nil
            }
            if resends(batch) { pending = (site, records, jobs) }
        }
        if let again = pending {
            let (outcome, latency) = try await write(again.records, jobs: again.jobs, site: again.site)
            run.resent.add(outcome)
            run.resentBatches += 1
            run.resendLatenciesMs.append(latency)
        }
        return run
    }
}
