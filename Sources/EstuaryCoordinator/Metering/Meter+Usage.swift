import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Dispatch
import Synchronization

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

/// A site's usage batch checked against its jobs and rated before its store write: the part of
/// posting that needs no ledger state, done by the caller (a session's actor, on any core) so
/// that the store's single writer only decides what is new, draws vouchers and writes rows.
public struct PreparedUsage: Sendable {
    struct Item: Sendable {
        var record: UsageRecord
        /// nil: the job was not in memory; the write reads it from the store, then checks and
        /// rates the record there.
        var payer: Payer?
        var rating: Rating?
    }

    /// What posting needs of a record's job, once the record is accepted for it.
    struct Payer: Sendable {
        var tenant: TenantID
        /// Whether the record is the job's current attempt (whose hold it draws on and releases).
        var current: Bool
        /// The attempt the record is for.
        var attempt: Int

        /// Who pays for `record`, or nil when the record may not be charged to `job`: the job
        /// ran at `site`, with these units and class, and the record's id is that of one of its
        /// attempts (the current one, usually).
        init?(_ record: UsageRecord, of job: JobRecord, from site: SiteID) {
            guard record.siteID == site, job.siteID == site, record.units == job.spec.resources.totalUnits,
                record.acceleratorClass == (job.placedClass ?? job.spec.resources.classes.first)
            else { return nil }
            tenant = job.spec.tenant
            current = record.id == .forJob(job.id, attempt: max(1, job.attempt))
            guard let attempt = (1...max(1, job.attempt)).last(where: { record.id == .forJob(job.id, attempt: $0) }) else {
                return nil
            }
            self.attempt = attempt
        }
    }

    enum Rating: Sendable {
        /// The lines, their total, and the lines in the journal's text form.
        case charge([ChargeLine], gross: Fen, encoded: EncodedChargeLines)
        case unrated(String)

        var unratedReason: String? {
            if case .unrated(let reason) = self { return reason }
            return nil
        }
    }

    let site: SiteID
    let energy: SiteEnergy
    /// The peer coordinator that runs `site`, for usage of jobs forwarded to it: the site's
    /// share of each charge becomes an inter-region transfer to the peer.
    let peer: CoordinatorID?
    let nowMs: Int64
    /// The meter's price generation the ratings used: a write that finds another re-rates.
    let priceGeneration: UInt64
    var items: [Item]
    var skipped: Int
}

extension Meter {
    /// Checks each record against its job (when `jobs` holds it) and rates it at the site's
    /// prices as they stand now. Pure with respect to the store and the ledger; call it before
    /// queueing the write that runs `postUsage`.
    ///
    /// `jobs` are the coordinator's in-memory records of the jobs, as of the moment the write is
    /// queued (which is what the store holds when the write runs, since writes commit in queue
    /// order). A site may only report usage for a job that ran there, with the job's own units
    /// and class, under the record id of one of its attempts.
    public func prepareUsage(
        _ records: [UsageRecord], site: SiteID, jobs: [JobID: JobRecord], energy: SiteEnergy, nowMs: Int64,
        peer: CoordinatorID? = nil
    ) -> PreparedUsage {
        let (history, generation) = pricing.withLock { ($0.histories[site], $0.generation) }
        var prepared = PreparedUsage(
            site: site, energy: energy, peer: peer, nowMs: nowMs, priceGeneration: generation, items: [], skipped: 0)
        prepared.items.reserveCapacity(records.count)
        for record in records {
            guard let job = jobs[record.jobID] else {
                prepared.items.append(PreparedUsage.Item(record: record, payer: nil, rating: nil))
                continue
            }
            guard let payer = PreparedUsage.Payer(record, of: job, from: site) else {
                prepared.skipped += 1
                continue
            }
            prepared.items.append(
                PreparedUsage.Item(
                    record: record, payer: payer, rating: rating(record, tenant: payer.tenant, history: history, energy: energy)))
        }
        return prepared
    }

    /// The usage part of a site's upstream batch, inside the caller's store write: the records
    /// are stored unless they are already (`INSERT OR IGNORE`), and only those stored now are
    /// posted: the voucher redeemed, the job's hold drawn on and released, the journal rows
    /// written. Balances are written once per commit (`attach(to:)`). This is the one place
    /// usage becomes money (`CoordinatorCore.applyUpstream` and the `ledger` benchmark both
    /// call it).
    ///
    /// Records whose job was not in memory are checked against the stored job here; all are
    /// rated again if the site's prices changed since `prepareUsage`.
    public func postUsage(_ prepared: PreparedUsage, tx: StoreTransaction) throws -> UsagePosting {
        var result = UsagePosting()
        result.skipped = prepared.skipped
        let site = prepared.site
        // Writes run one at a time, so no period closes and no price changes while this one runs.
        let period = try state.withLock { state in
            try Self.openPeriod(atMs: prepared.nowMs, in: state, utcOffsetMinutes: settings.utcOffsetMinutes)
        }
        let (history, generation) = pricing.withLock { ($0.histories[site], $0.generation) }
        var items = prepared.items
        var accepted = 0
        for index in items.indices {
            var item = items[index]
            if item.payer == nil {
                guard let stored = try tx.job(item.record.jobID),
                    let payer = PreparedUsage.Payer(item.record, of: stored, from: site)
                else {
                    result.skipped += 1
                    continue
                }
                item.payer = payer
                item.rating = nil
            }
            if item.rating == nil || generation != prepared.priceGeneration, let payer = item.payer {
                item.rating = rating(item.record, tenant: payer.tenant, history: history, energy: prepared.energy)
            }
            items[accepted] = item
            accepted += 1
        }
        items.removeLast(items.count - accepted)
        let rows = items.map { UsageRow($0.record, unrated: $0.rating?.unratedReason) }
        // Not `change(tx)`: a cache lookup must not wait for the postings of earlier batches.
        let provider = try mutate { state in try Self.provider(of: site, in: &state, tx: tx) } ?? ""
        let posting = Posting(site: site, provider: provider, period: period, nowMs: prepared.nowMs, peer: prepared.peer)
        // The store's writer inserts the usage rows chunk by chunk; each chunk's new charges are
        // posted to the ledger on `poster` while the writer goes on (with the next chunk, then
        // the next batch of the transaction), and their journal rows are written by `settle`:
        // before the transaction commits, or before any other change of the ledger in it. A
        // batch of one chunk is posted inline.
        let chunk = Self.postingChunk
        let pipelined = rows.count > chunk
        var jobs: [PostingJob] = []
        do {
            for start in stride(from: 0, to: rows.count, by: chunk) {
                let range = start..<min(rows.count, start + chunk)
                let stored = try tx.insertUsage(Array(rows[range]), recordedAtMs: prepared.nowMs, period: period.description)
                var charges: [Charge] = []
                charges.reserveCapacity(range.count)
                for (offset, index) in range.enumerated() {
                    let item = items[index]
                    guard stored[offset] else {
                        result.duplicates += 1
                        continue
                    }
                    switch item.rating {
                    case .charge(let lines, let gross, let encoded)?:
                        if let payer = item.payer {
                            charges.append(Charge(record: item.record, payer: payer, lines: lines, gross: gross, encoded: encoded))
                        }
                    case .unrated?, nil: result.unrated += 1
                    }
                }
                guard !charges.isEmpty else { continue }
                result.charged += charges.count
                let job = PostingJob(afterPosting: jobs.last)
                jobs.append(job)
                let ready = charges
                let work: @Sendable () -> Void = { [self] in job.run { try post(ready, posting, afterOthers: job.follows) } }
                if pipelined { poster.async { ThreadPriority.raised(work) } } else { work() }
            }
        } catch {
            // Chunks handed to the poster may have changed the ledger: wait for them, and stop
            // the meter if any did, since this write will not commit.
            var posted = false
            for job in jobs where (try? job.wait()) != nil { posted = true }
            if posted { try writing { throw error } }
            throw error
        }
        guard !jobs.isEmpty else { return result }
        // If this batch's write does not commit (a later statement of its unit throws, or the
        // transaction fails), memory holds charges the store never will.
        tx.onRollback { [self] in markBroken("a write that posted usage of \(site) to the ledger did not commit") }
        inFlight.withLock { $0.append(contentsOf: jobs) }
        return result
    }

    /// Finishes the usage postings in flight and writes their journal rows (and the hold
    /// deletions they imply) in `tx`, in posting order. Runs before every commit (`attach(to:)`)
    /// and before any other change of the ledger in a write (`change(tx)`), so the journal's
    /// order is the order in which memory changed. A posting that failed now breaks the meter:
    /// its batch's usage rows are already written in an earlier unit of the transaction.
    func settle(_ tx: StoreTransaction) throws {
        let pending = inFlight.withLock { inFlight in
            defer { inFlight.removeAll(keepingCapacity: true) }
            return inFlight
        }
        guard !pending.isEmpty else { return }
        // The rows go into `tx`'s unit: if that unit rolls back, they are gone while memory
        // keeps the postings.
        tx.onRollback { [self] in markBroken("the journal rows of posted usage were written in a write that did not commit") }
        if let broken = state.withLock({ $0.broken }) { throw MeterError.broken(broken) }
        try writing {
            for job in pending {
                let written = try job.wait()
                try tx.insertJournal(written.journal)
                try tx.deleteHolds(jobs: written.released)
                for (peer, charge) in written.transfers {
                    try tx.appendMeshOutbox(peer: peer, body: try MeshMessage.charge(charge).encoded(), atMs: written.atMs)
                }
            }
        }
    }

    /// Records per chunk of a pipelined usage batch.
    static let postingChunk = 64

    /// Where and when one batch's charges are posted.
    struct Posting: Sendable {
        var site: SiteID
        var provider: String
        var period: BillingPeriod
        var nowMs: Int64
        /// See `PreparedUsage.peer`.
        var peer: CoordinatorID?
    }

    /// What posting one chunk produced: its journal rows, encoded, and the jobs whose holds it
    /// released.
    struct Written: Sendable {
        var journal: [JournalRow]
        var released: [JobID]
        /// Site shares moved to peer coordinators: each peer is told (`MeshMessage.charge`).
        var transfers: [(CoordinatorID, MeshCharge)] = []
        var atMs: Int64 = 0
    }

    /// One chunk's posting, run on the poster (or inline) and awaited by the store's writer. A
    /// chunk whose predecessor failed does not post: the batch is abandoned as a whole.
    final class PostingJob: Sendable {
        private let outcome = Mutex<Result<Written, any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)
        private let previous: PostingJob?

        init(afterPosting previous: PostingJob?) { self.previous = previous }

        /// Whether an earlier chunk of the batch already posted (so a failure now leaves the
        /// ledger part-way through the batch).
        var follows: Bool { previous != nil }

        func run(_ body: () throws -> Written) {
            let result: Result<Written, any Error>
            if let previous, let failure = previous.failure {
                result = .failure(failure)
            } else {
                result = Result { try body() }
            }
            outcome.withLock { $0 = result }
            done.signal()
        }

        /// Waits for the chunk; several waits are allowed.
        func wait() throws -> Written {
            done.wait()
            done.signal()
            return try outcome.withLock { $0! }.get()
        }

        /// The failure of this chunk once it ran (the poster runs chunks in order, so a
        /// predecessor has always run by then).
        private var failure: (any Error)? {
            outcome.withLock { outcome in
                if case .failure(let error)? = outcome { return error }
                return nil
            }
        }
    }

    /// A record stored now, with its price: what `post` turns into a journal row.
    private struct Charge {
        var record: UsageRecord
        var payer: PreparedUsage.Payer
        var lines: [ChargeLine]
        var gross: Fen
        var encoded: EncodedChargeLines
    }

    /// Posts rated charges, in order, in one change of the ledger, and returns their journal
    /// rows (encoded here, off the writer) and the jobs whose holds were released. No SQL: the
    /// store's writer writes the rows (this may run on the poster while the writer goes on with
    /// the next chunk or batch). The ledger's lock is held only while the ledger changes;
    /// encoding runs after it, so readers (the scheduler, API views) wait for one chunk's
    /// arithmetic at most. `afterOthers`: earlier charges of this
    /// batch are already posted, so any failure now stops the meter.
    private func post(_ charges: [Charge], _ posting: Posting, afterOthers: Bool) throws -> Written {
        let fee = settings.platformFee
        let site = posting.site
        var entries: [(transaction: LedgerTransaction, charge: PostedCharge?, lines: EncodedChargeLines?)] = []
        entries.reserveCapacity(charges.count)
        var released: [JobID] = []
        var transfers: [(CoordinatorID, MeshCharge)] = []
        try mutate { state in
            var changed = afterOthers
            do {
                for charge in charges {
                    let record = charge.record
                    let tenant = charge.payer.tenant
                    let gross = charge.gross
                    let job = record.jobID
                    let registered = state.tenants[tenant]
                    let profile = registered?.profile ?? TenantProfile(tenant: tenant, organisation: "")
                    let program = registered?.voucherProgram.flatMap { state.programs[$0] }
                    let item: BillableItem =
                        catalog[record.acceleratorClass].map { .compute($0.kind, domestic: $0.domestic) }
                        ?? .other(record.acceleratorClass.rawValue)
                    let voucherCharge = VoucherCharge(
                        id: record.id.rawValue, tenant: tenant, site: site, providerOrganisation: posting.provider,
                        item: item, amount: gross, atMs: record.endedAtMs)
                    let current = charge.payer.current
                    // Everything that can throw a LedgerError is computed before the ledger changes.
                    let feeFen = try fee.fee(on: gross)
                    let posted = try state.ledger.postCharge(
                        voucherCharge, tenant: profile, program: program, fee: fee, drawingOnHoldOf: current ? job : nil,
                        overdraft: true)
                    changed = true
                    for opening in posted.openings {
                        entries.append((opening, nil, nil))
                        state.dirty.formUnion(opening.postings.lazy.map(\.account))
                    }
                    let postedCharge = PostedCharge(
                        recordID: record.id, job: job, tenant: tenant, site: site, cls: record.acceleratorClass,
                        lines: charge.lines, grossFen: gross, voucherFen: posted.voucherAmount,
                        voucherProgram: posted.draw?.program, voucherYear: posted.draw?.year, feeFen: feeFen,
                        atMs: record.endedAtMs)
                    entries.append((posted.transaction, postedCharge, charge.encoded))
                    for posting in posted.transaction.postings { state.dirty.insert(posting.account) }
                    if let peer = posting.peer {
                        // The site is a peer's: what the charge owes the site is owed to the peer.
                        let owed = Fen(clamping: posted.transaction.net(for: .siteReceivable(site)))
                        if owed != 0 {
                            let transfer = try LedgerTransaction.interRegion(record: record.id, site: site, peer: peer, toSite: -owed)
                            try state.ledger.apply(transfer)
                            entries.append((transfer, nil, nil))
                            for posting in transfer.postings { state.dirty.insert(posting.account) }
                            transfers.append((
                                peer,
                                MeshCharge(
                                    record: record.id, job: job, attempt: charge.payer.attempt, tenant: tenant, site: site,
                                    owedFen: owed)
                            ))
                        }
                    }
                    if current, state.ledger.release(job: job) != nil { released.append(job) }
                }
            } catch let error as LedgerError where changed {
                // Earlier charges of this batch are already in memory: the write must not
                // commit without them, so the meter stops here (`mutate` marks it broken).
                throw MeterError.broken("posting a usage batch of \(site) failed part-way: \(error)")
            }
        }
        let journal = entries.map {
            JournalRow($0.transaction, period: posting.period, atMs: posting.nowMs, charge: $0.charge, lines: $0.lines)
        }
        return Written(journal: journal, released: released, transfers: transfers, atMs: posting.nowMs)
    }

    /// Writes the balances of every account changed since the last commit: once per store
    /// transaction, however many usage batches it groups. Call it after `settle`.
    func flushBalances(_ tx: StoreTransaction) throws {
        guard state.withLock({ !$0.dirty.isEmpty }) else { return }
        let balances = try mutate { state -> [(AccountID, Fen)] in
            guard !state.dirty.isEmpty else { return [] }
            defer { state.dirty.removeAll(keepingCapacity: true) }
            return state.dirty.map { ($0, state.ledger.balance($0)) }
        }
        guard !balances.isEmpty else { return }
        try writing { try tx.setBalances(balances) }
    }

    /// Makes every transaction of `store` end by writing the journal rows of the usage posted in
    /// it (`settle`) and the balances it changed. A coordinator's meter is attached to its store
    /// once, before the first write.
    public func attach(to store: CoordinatorStore) {
        store.beforeEachCommit { [self] tx in
            try settle(tx)
            try flushBalances(tx)
        }
    }

    /// What `record` costs at the site's prices `history` (nil: the site has none), or why it
    /// cannot be charged.
    func rating(_ record: UsageRecord, tenant: TenantID, history: PriceHistory?, energy: SiteEnergy) -> PreparedUsage.Rating {
        guard let history else { return .unrated("site \(record.siteID) has no price book") }
        do {
            let lines = try Rater.rate(
                UsageToRate(record, tenant: tenant), history: history, energy: energy,
                spec: catalog[record.acceleratorClass], rule: settings.ratingRule)
            let gross = try LedgerArithmetic.sum(lines.map(\.amountFen), "charge of \(record.id)")
            guard gross > 0 else { return .unrated("no charge: the usage rates at 0 fen") }
            let identity = ChargeIdentity(recordID: record.id, job: record.jobID, tenant: tenant, site: record.siteID)
            return .charge(lines, gross: gross, encoded: LedgerCodec.encodeLines(lines, of: identity))
        } catch {
            return .unrated("\(error)")
        }
    }
}

extension Meter {
    /// The runner's side of an inter-region transfer: the home coordinator `peer` charged a
    /// job this coordinator ran for it, and owes the site's share, which the site earns here.
    /// Posted once per usage record (the transaction id is the record's); returns whether it
    /// was posted now. Inside the caller's store write.
    func postPeerShare(_ charge: MeshCharge, from peer: CoordinatorID, nowMs: Int64, tx: StoreTransaction) throws -> Bool {
        guard charge.owedFen > 0 else { return false }
        let transfer = try LedgerTransaction.interRegion(record: charge.record, site: charge.site, peer: peer, toSite: charge.owedFen)
        // The coordinator's ledger keeps no journal in memory: the store says what was posted.
        if let earlier = try tx.ledgerTransaction(id: transfer.id) {
            guard earlier.transaction.fingerprint == transfer.fingerprint else {
                throw BackendError.conflict("\(transfer.id) was posted before with other amounts")
            }
            return false
        }
        return try change(tx) { state in
            let period = try Self.openPeriod(atMs: nowMs, in: state, utcOffsetMinutes: settings.utcOffsetMinutes)
            guard try state.ledger.apply(transfer) == .posted else { return false }
            try tx.insertLedgerTransaction(transfer, period: period, atMs: nowMs, charge: nil)
            try tx.setBalances(transfer.postings.map { ($0.account, state.ledger.balance($0.account)) })
            return true
        }
    }
}
