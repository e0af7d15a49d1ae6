import EstuaryLedger
import EstuaryModel
import Dispatch
import EstuaryStore
import Synchronization

/// How the coordinator rates and bills (`--platform-fee`, `--default-credit-limit` …).
public struct MeterSettings: Sendable {
    /// How a charge line's amount is rounded to the fen (docs/MONEY.md): the one rule for every
    /// site, so a bill never depends on which site rated it.
    public var ratingRule: RoundingRule = .halfUp
    /// The platform's commission on each charge.
    public var platformFee: PlatformFee = .none
    /// The time zone of billing periods (calendar months) as a fixed offset; 480 = UTC+8.
    public var utcOffsetMinutes: Int = 480
    /// The credit line of a tenant nobody registered: nil (the default) is postpaid without
    /// limit, so that a mesh without billing set up runs; 0 makes every tenant prepaid.
    public var defaultCreditLimitFen: Fen?
    /// A job's hold covers its walltime plus this much overrun (the agent's kill grace).
    public var overrunMs: Int64 = 60_000
    /// A hold that never settles lapses this long after the job's walltime would have ended.
    public var holdGraceMs: Int64 = 3_600_000

    public init() {}
}

/// Why a metering call failed.
enum MeterError: Error, CustomStringConvertible {
    /// A store write failed after the in-memory ledger changed: memory is ahead of disk and the
    /// coordinator must stop (its restart reloads the ledger from the store).
    case broken(String)

    var description: String {
        switch self {
        case .broken(let why): "the ledger is out of step with the store (\(why)); restart the coordinator"
        }
    }
}

/// What rating one usage record did.
public enum RatingOutcome: Sendable {
    case charged(PostedCharge)
    /// Recorded but not charged, with the reason (no price for the class, a zero charge …).
    case unrated(String)
}

/// The coordinator's ledger: the pure `Ledger` (balances, holds, credit lines) with the tenants,
/// voucher programmes and price histories rating needs.
///
/// Every change happens inside a store write closure (`CoordinatorStore.enqueueWrite`), which
/// the group committer runs one at a time, and its rows are written in that same transaction
/// (a usage batch's journal rows at the transaction's end or before the next change, `settle`):
/// the in-memory order of changes is the order of the journal, and a usage record is rated in
/// the very transaction that records it, so it is charged exactly once. Reads (API views, the
/// scheduler's effective prices) take the lock briefly from anywhere. If a store write fails
/// after memory changed, or a write that changed it does not commit (`onRollback`), the meter
/// refuses all further changes and the coordinator stops; a restart reloads everything from the
/// store and checks that the balances sum to zero.
public final class Meter: Sendable {
    public struct State: Sendable {
        var ledger: Ledger
        var tenants: [TenantID: TenantRecord]
        var programs: [VoucherProgramID: VoucherProgram]
        /// Sites whose prices an administrator set: their agents' own books no longer change them.
        var adminPriced: Set<SiteID>
        /// The organisation operating each site, for voucher non-affiliation.
        var providers: [SiteID: String]
        var closed: Set<BillingPeriod>
        var broken: String?
        /// No live hold lapses before this (a hold released early may leave it earlier than the
        /// true next expiry; it is recomputed when reached), so the sweep's check is O(1).
        var nextHoldExpiryMs: Int64? = nil
        /// Accounts posted to since the last commit wrote balances (`flushBalances`).
        var dirty: Set<AccountID> = []
    }

    /// Every site's price history, and a count of changes to any of them (so that a rating made
    /// before a write can tell whether it still holds when the write runs).
    public struct Pricing: Sendable {
        var histories: [SiteID: PriceHistory] = [:]
        var generation: UInt64 = 0
    }

    /// What `load` read: the state and the prices.
    public struct Loaded: Sendable {
        public var state: State
        public var prices: [SiteID: PriceHistory]
    }

    let state: Mutex<State>
    /// Apart from `state`, which the store's writer holds while it posts a usage batch: rating a
    /// batch before its write, the scheduler's price lookups and price views never wait for it.
    /// Changed only inside `change` (so in store write order), taken after `state`.
    let pricing = Mutex(Pricing())
    /// Posts usage chunks to the ledger, in order, while the store's writer goes on with the
    /// next chunk or batch (`postUsage`); at the writer's raised priority (`ThreadPriority`),
    /// since the writer waits for it before each commit.
    let poster = DispatchQueue(label: "estuary.meter.post", qos: .userInteractive)
    /// Usage chunks handed to `poster` whose journal rows are not written yet, in posting order.
    /// Only the store's writer touches it: `postUsage` adds, `settle` writes and empties.
    let inFlight = Mutex<[PostingJob]>([])
    public let settings: MeterSettings
    public let catalog: AcceleratorCatalog

    public init(state: State, settings: MeterSettings, catalog: AcceleratorCatalog) {
        self.state = Mutex(state)
        self.settings = settings
        self.catalog = catalog
    }

    /// Nothing yet: the state of a meter before `bootstrap` loads it.
    public static func emptyState(settings: MeterSettings) -> State {
        var ledger = Ledger(retainingJournal: false)
        ledger.defaultCreditLimit = settings.defaultCreditLimitFen
        return State(
            ledger: ledger, tenants: [:], programs: [:], adminPriced: [], providers: [:], closed: [],
            broken: nil)
    }

    /// Replaces the whole state and the prices (at start, with what `load` read).
    public func replace(_ loaded: Loaded) {
        state.withLock { state in
            state = loaded.state
            pricing.withLock { pricing in
                pricing.histories = loaded.prices
                pricing.generation &+= 1
            }
        }
    }

    /// Loads the ledger and everything rating needs from the store, refusing a ledger whose
    /// balances do not sum to zero.
    public static func load(_ tx: StoreTransaction, settings: MeterSettings) throws -> Loaded {
        let tenants = try tx.tenants()
        var limits: [TenantID: Fen?] = [:]
        for tenant in tenants { limits[tenant.profile.tenant] = .some(tenant.creditLimitFen) }
        let ledger = try Ledger(
            balances: try tx.ledgerBalances(), creditLimits: limits, defaultCreditLimit: settings.defaultCreditLimitFen,
            holds: try tx.holds())
        var prices: [SiteID: PriceHistory] = [:]
        for (site, versions) in try tx.priceVersions() {
            do {
                prices[site] = try PriceHistory(site: site, versions: versions)
            } catch {
                throw StoreError.corruptRow(table: "price_versions", key: site.rawValue, reason: "\(error)")
            }
        }
        var providers: [SiteID: String] = [:]
        for enrollment in try tx.siteEnrollments() where enrollment.revokedAtMs == nil {
            providers[enrollment.siteID] = enrollment.org
        }
        let state = State(
            ledger: ledger, tenants: Dictionary(uniqueKeysWithValues: tenants.map { ($0.profile.tenant, $0) }),
            programs: Dictionary(uniqueKeysWithValues: try tx.voucherPrograms().map { ($0.id, $0) }),
            adminPriced: try tx.adminPricedSites(), providers: providers,
            closed: Set(try tx.closedPeriods().map(\.0)), broken: nil,
            nextHoldExpiryMs: ledger.holds.values.map(\.expiresAtMs).min())
        return Loaded(state: state, prices: prices)
    }

    // MARK: periods

    /// The open period a transaction posted at `ms` belongs to: the month containing it, or the
    /// first open month after it when that one is already closed (a clock that stepped back).
    static func openPeriod(atMs ms: Int64, in state: State, utcOffsetMinutes: Int) throws -> BillingPeriod {
        var period = try BillingPeriod.containing(ms: ms, utcOffsetMinutes: utcOffsetMinutes)
        while state.closed.contains(period) {
            guard let next = period.next else { throw LedgerError.invalid("no open billing period after \(period)") }
            period = next
        }
        return period
    }

    func isClosed(_ period: BillingPeriod) -> Bool { state.withLock { $0.closed.contains(period) } }

    /// An account's balance now.
    public func balance(_ account: AccountID) -> Fen { state.withLock { $0.ledger.balance(account) } }

    /// The sum of every balance: always 0 (reconciliation and tests say so).
    public var sumOfBalances: Int128 { state.withLock { $0.ledger.sumOfBalances } }

    // MARK: changes (inside a store write closure)

    /// Runs `body`, which writes what a change already made in memory; if it fails, memory is
    /// ahead of the store and the meter refuses every further change.
    func writing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            state.withLock { $0.broken = $0.broken ?? "\(error)" }
            throw MeterError.broken("\(error)")
        }
    }

    /// A change made inside the store write `tx`: first the usage postings still in flight are
    /// finished and their journal rows written (`settle`), so that this change comes after them
    /// in memory and in the journal; then `body` runs as `mutate` runs it.
    @discardableResult
    func change<T>(_ tx: StoreTransaction, _ body: (inout State) throws -> T) throws -> T {
        try settle(tx)
        return try mutate(body)
    }

    /// Marks the meter broken: memory is ahead of the store (a write that changed it did not
    /// commit), so it refuses every further change until a restart reloads it.
    func markBroken(_ why: String) {
        state.withLock { $0.broken = $0.broken ?? why }
    }

    /// Runs `body` with the state locked; refuses when an earlier failure left memory ahead of
    /// disk, and marks the meter broken if `body` fails after changing the ledger. Only for what
    /// must not wait for postings in flight (the poster itself, balances at commit, caches);
    /// everything else goes through `change(tx)`.
    @discardableResult
    func mutate<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            if let broken = state.broken { throw MeterError.broken(broken) }
            do {
                return try body(&state)
            } catch let error as LedgerError {
                // The pure ledger refuses atomically: nothing changed.
                throw error
            } catch let error as HoldRefusal {
                throw error
            } catch let error as BackendError {
                throw error
            } catch {
                state.broken = "\(error)"
                throw MeterError.broken("\(error)")
            }
        }
    }

    /// The organisation operating `site` (its enrollment), cached; nil for a site never
    /// enrolled (an insecure dev mesh), whose charges then earn no voucher.
    static func provider(of site: SiteID, in state: inout State, tx: StoreTransaction) throws -> String? {
        if let known = state.providers[site] { return known }
        guard let enrollment = try tx.siteEnrollment(site), enrollment.revokedAtMs == nil else { return nil }
        state.providers[site] = enrollment.org
        return enrollment.org
    }

    /// Learns a site's operator when its agent attaches (enrolled after the meter loaded).
    func observeProvider(site: SiteID, tx: StoreTransaction) throws {
        try change(tx) { state in _ = try Self.provider(of: site, in: &state, tx: tx) }
    }

    /// Reserves the most a placed job can cost: its units for its walltime (plus the overrun
    /// allowance) at the highest price any version in force over that time charges for the
    /// class. Returns the refusal when the tenant cannot cover it (the job must not start), nil
    /// when held or when there is nothing to hold (the site prices nothing for the class).
    func hold(
        job: JobRecord, site: SiteID, cls: AcceleratorClass, units: Int, nowMs: Int64, tx: StoreTransaction
    ) throws -> HoldRefusal? {
        let settings = self.settings
        return try change(tx) { state -> HoldRefusal? in
            if state.ledger.release(job: job.id) != nil { try tx.deleteHold(job: job.id) }
            guard let history = pricing.withLock({ $0.histories[site] }) else { return nil }
            let spanMs = Int64(job.spec.walltimeSeconds) * 1000 + settings.overrunMs
            guard let price = Self.highestPrice(history, cls: cls, fromMs: nowMs, toMs: nowMs &+ spanMs), price > 0
            else { return nil }
            let exact = Int128(units) * Int128(price) * Int128(spanMs)
            let amount = (exact + Int128(Rater.msPerHour) - 1) / Int128(Rater.msPerHour)  // rounded up
            guard let fen = Fen(exactly: amount) else { return .exceedsLedgerRange(.max) }
            do {
                let hold = try state.ledger.hold(
                    job: job.id, tenant: job.spec.tenant, amount: fen, expiresAtMs: nowMs &+ spanMs &+ settings.holdGraceMs)
                try tx.upsertHold(hold)
                state.nextHoldExpiryMs = min(state.nextHoldExpiryMs ?? hold.expiresAtMs, hold.expiresAtMs)
                return nil
            } catch let refusal as HoldRefusal {
                return refusal
            }
        }
    }

    /// The highest fen per unit-hour for `cls` over the versions in force in `[fromMs, toMs)`.
    static func highestPrice(_ history: PriceHistory, cls: AcceleratorClass, fromMs: Int64, toMs: Int64) -> Int64? {
        var highest: Int64?
        for (index, version) in history.versions.enumerated() {
            let until = index + 1 < history.versions.count ? history.versions[index + 1].effectiveFromMs : .max
            guard version.effectiveFromMs < toMs, until > fromMs, let price = version.book.prices[cls] else { continue }
            let top = max(price.flat, price.peak ?? price.flat, price.valley ?? price.flat)
            highest = max(highest ?? top, top)
        }
        return highest
    }

    /// Gives a job's hold back (the job ended, was requeued, or never started).
    func releaseHold(job: JobID, tx: StoreTransaction) throws {
        try change(tx) { state in
            if state.ledger.release(job: job) != nil { try tx.deleteHold(job: job) }
        }
    }

    /// Releases every hold that has lapsed by `nowMs`.
    func expireHolds(nowMs: Int64, tx: StoreTransaction) throws -> [Hold] {
        try change(tx) { state in
            let expired = state.ledger.expireHolds(nowMs: nowMs)
            state.nextHoldExpiryMs = state.ledger.holds.values.map(\.expiresAtMs).min()
            for hold in expired { try tx.deleteHold(job: hold.job) }
            return expired
        }
    }

    /// Whether any live hold has lapsed by `nowMs`. The sweep asks every second: O(1) until the
    /// earliest expiry noted is reached, then one pass over the live holds to find the next.
    func hasExpiredHolds(nowMs: Int64) -> Bool {
        state.withLock { state in
            guard let next = state.nextHoldExpiryMs, next <= nowMs else { return false }
            state.nextHoldExpiryMs = state.ledger.holds.values.map(\.expiresAtMs).min()
            return state.nextHoldExpiryMs.map { $0 <= nowMs } ?? false
        }
    }
}
