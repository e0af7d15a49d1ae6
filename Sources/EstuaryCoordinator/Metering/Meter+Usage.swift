import EstuaryLedger
import EstuaryModel
import EstuaryStore

/// What posting one site's usage batch did.
public struct UsagePosting: Sendable {
    /// Records refused: not for a job that ran at this site with these units, class and attempt.
    public var skipped = 0
    /// Records already stored (a resend): neither stored nor charged again.
    public var duplicates = 0
    public var charged = 0
    public var unrated = 0

    public init() {}
}

extension Meter {
    /// The usage part of a site's upstream batch, inside the caller's store write: each record
    /// is checked against its job, stored unless it is already (`INSERT OR IGNORE`), and only
    /// then rated and posted; the touched balances are written once at the end. This is the one
    /// place usage becomes money (`CoordinatorCore.applyUpstream` and the `ledger` benchmark
    /// both call it).
    ///
    /// `jobs` are the coordinator's in-memory records of the jobs, as of the moment the write was
    /// queued (which is what the store holds when the write runs, since writes commit in queue
    /// order); a job missing there is read from the store. A site may only report usage for a job
    /// that ran there, with the job's own units and class, under the record id of one of its
    /// attempts.
    public func postUsage(
        _ records: [UsageRecord], site: SiteID, jobs: [JobID: JobRecord], energy: SiteEnergy, nowMs: Int64,
        tx: StoreTransaction
    ) throws -> UsagePosting {
        var result = UsagePosting()
        var touched: Set<AccountID> = []
        // Writes run one at a time, so no period closes while this one runs.
        let period = try state.withLock { state in
            try Self.openPeriod(atMs: nowMs, in: state, utcOffsetMinutes: settings.utcOffsetMinutes)
        }
        for record in records {
            guard let job = try jobs[record.jobID] ?? tx.job(record.jobID), job.siteID == site,
                record.units == job.spec.resources.totalUnits,
                record.acceleratorClass == (job.placedClass ?? job.spec.resources.classes.first),
                (1...max(1, job.attempt)).contains(where: { record.id == .forJob(job.id, attempt: $0) })
            else {
                result.skipped += 1
                continue
            }
            guard try tx.insertUsage(record, recordedAtMs: nowMs, period: period.description) else {
                result.duplicates += 1
                continue
            }
            switch try rate(record, job: job, energy: energy, nowMs: nowMs, period: period, tx: tx, touched: &touched) {
            case .charged: result.charged += 1
            case .unrated: result.unrated += 1
            }
        }
        try flushBalances(touched, tx)
        return result
    }
}
