import EstuaryConfig
import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Foundation
import Logging
import Synchronization

/// What posting one UsageBatch did inside its store write (`Meter.postUsage`'s counts) and
/// when the closure ran.
struct BatchOutcome: Sendable {
    var records = 0
    /// Records stored and rated for the first time (charged or unrated).
    var inserted: Int { charged + unrated }
    /// Records the store already had: a resend, neither stored nor charged again.
    var duplicates = 0
    var charged = 0
    var unrated = 0
    /// Records refused by the site/units/class/attempt check (expected 0).
    var skipped = 0
    /// When the closure ran on the store's writer (inside the shared transaction).
    var ranFrom: ContinuousClock.Instant
    var ranTo: ContinuousClock.Instant
    /// CPU time of the writer's thread inside the closure (the rest of its wall time it waited).
    var cpuNs: Int64 = 0

    init() {
        ranFrom = .now
        ranTo = ranFrom
    }

    /// Adds the counts of `other` (the instants are per batch and not summed).
    mutating func add(_ other: BatchOutcome) {
        records += other.records
        duplicates += other.duplicates
        charged += other.charged
        unrated += other.unrated
        skipped += other.skipped
    }
}

enum LedgerPosting {
    /// One site's UsageBatch inside one store write, as `CoordinatorCore.applyUpstream` does it:
    /// `Meter.postUsage` of the batch `Meter.prepareUsage` checked and rated before the write,
    /// then the site's cursor.
    static func post(
        _ prepared: PreparedUsage, records: Int, site siteID: SiteID, seq: UInt64, meter: Meter, tx: StoreTransaction
    ) throws -> BatchOutcome {
        var outcome = BatchOutcome()
        let clock = ContinuousClock()
        outcome.ranFrom = clock.now
        let cpuFrom = ThreadCPU.nanoseconds()
        outcome.records = records
        let posted = try meter.postUsage(prepared, tx: tx)
        try tx.setCursor(site: siteID, epoch: LedgerMesh.epoch, seq: seq)
        outcome.ranTo = clock.now
        outcome.cpuNs = ThreadCPU.nanoseconds() - cpuFrom
        outcome.skipped = posted.skipped
        outcome.duplicates = posted.duplicates
        outcome.charged = posted.charged
        outcome.unrated = posted.unrated
        return outcome
    }

    // MARK: set-up (not timed)

    static let quietLogger = Logger(label: "estuary-bench.store", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Opens a fresh store in `directory` and registers the mesh's money side through the
    /// meter's admin calls, as an administrator would: site operators (enrollments), one price
    /// version per site, the voucher programme, tenants with their credit lines, top-ups for
    /// prepaid wallets and programme grants. The meter is then reloaded from the store, as the
    /// coordinator does when it starts. Returns the top-ups made.
    static func open(
        directory: String, mesh: LedgerMesh, hookTimer: CommitHookTimer? = nil
    ) async throws -> (CoordinatorStore, Meter, topUps: Int) {
        let store = try CoordinatorStore(directory: directory, logger: quietLogger)
        let settings = LedgerMesh.settings
        let meter = Meter(state: Meter.emptyState(settings: settings), settings: settings, catalog: .builtin)
        // Commit hooks run in the order added: these two time the meter's.
        if let hookTimer { store.beforeEachCommit { _ in hookTimer.begin() } }
        meter.attach(to: store)
        if let hookTimer { store.beforeEachCommit { _ in hookTimer.end() } }
        let at = mesh.periodStartMs
        let topUps = try await store.write { tx -> Int in
            for index in 0..<mesh.sites {
                let site = mesh.siteID(index)
                try tx.putSiteEnrollment(SiteEnrollmentRecord(siteID: site, org: mesh.provider(ofSite: index), addedAtMs: at))
                _ = try meter.setPrices(
                    site: site, PriceSetRequest(effectiveFromMs: at, book: mesh.priceBook(ofSite: index)), nowMs: at, tx: tx)
            }
            _ = try meter.createProgram(LedgerMesh.program, nowMs: at, tx: tx)
            var topUps = 0
            for index in 0..<mesh.tenants {
                var request = mesh.tenantRequest(index)
                let program = request.voucherProgram
                request.voucherProgram = nil
                _ = try meter.upsertTenant(request, nowMs: at, tx: tx)
                if let program { _ = try meter.grant(program: program, tenant: request.tenant, nowMs: at, tx: tx) }
                if mesh.kind(ofTenant: index) != .postpaid {
                    _ = try meter.topUp(
                        tenant: request.tenant, TopUpRequest(amountFen: 100_000_000, reference: "wire-\(index)"), nowMs: at,
                        tx: tx)
                    topUps += 1
                }
            }
            return topUps
        }
        meter.replace(try await store.read { try Meter.load($0, settings: settings) })
        return (store, meter, topUps)
    }

    /// Stores the job of every record of `workload` (placed, attempt 1, succeeded), 10,000 per
    /// write: rating reads the job's tenant, and the real path checks site, units and class.
    static func insertJobs(_ workload: LedgerWorkload, mesh: LedgerMesh, store: CoordinatorStore) async throws {
        let end = workload.first + workload.count
        for start in stride(from: workload.first, to: end, by: 10_000) {
            let range = start..<min(end, start + 10_000)
            try await store.write { tx in
                for index in range { try tx.insertJob(mesh.record(index, site: workload.site(of: index)).job) }
            }
        }
    }
}

/// The wall and CPU time of the meter's commit hook (`Meter.attach`: the journal rows of the
/// transaction's usage postings, after waiting for the poster, then the balances), timed by two
/// hooks added around it. They run on the store's writer, one transaction at a time.
final class CommitHookTimer: Sendable {
    struct Totals {
        var wall = Duration.zero
        var cpuNs: Int64 = 0
        var commits = 0
    }

    private struct State {
        var from: ContinuousClock.Instant?
        var cpuFrom: Int64 = 0
        var totals = Totals()
    }

    private let state = Mutex(State())

    func begin() {
        let now = ContinuousClock.now
        let cpu = ThreadCPU.nanoseconds()
        state.withLock { state in
            state.from = now
            state.cpuFrom = cpu
        }
    }

    func end() {
        let now = ContinuousClock.now
        let cpu = ThreadCPU.nanoseconds()
        state.withLock { state in
            guard let from = state.from else { return }
            state.totals.wall += now - from
            state.totals.cpuNs += cpu - state.cpuFrom
            state.totals.commits += 1
            state.from = nil
        }
    }

    /// The totals since the last `take`, and a fresh start.
    func take() -> Totals {
        state.withLock { state in
            defer { state.totals = Totals() }
            return state.totals
        }
    }
}

/// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
enum ThreadCPU {
    static func nanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
