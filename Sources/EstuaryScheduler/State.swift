import EstuaryModel

// The scheduler's internal tables. Sites, pools, jobs and tenants live in arrays addressed by
// stable integer slots so that the placement loop never hashes a string id.

/// The hot figures of one pool, kept apart in one compact array for the placement loop.
struct PoolLive: Sendable {
    // 32-bit so that four pools share a cache line (units per pool stay far below 2³¹).
    private var free32: Int32 = 0
    private var allocated32: Int32 = 0
    private var count32: Int32 = 0
    private var reservations32: Int32 = 0
    /// 1 / count (0 for an empty pool): the spread criterion multiplies instead of dividing.
    var inverseCount = 0.0

    /// Units a new job may take now (see `Scheduler`).
    var free: Int {
        get { Int(free32) }
        set { free32 = Int32(clamping: newValue) }
    }
    /// Held + confirmed units of Estuary jobs.
    var allocated: Int {
        get { Int(allocated32) }
        set { allocated32 = Int32(clamping: newValue) }
    }
    var count: Int {
        get { Int(count32) }
        set { count32 = Int32(clamping: newValue) }
    }
    /// Reservations the current (or last) pass made on this pool.
    var reservations: Int {
        get { Int(reservations32) }
        set { reservations32 = Int32(clamping: newValue) }
    }
}

/// One Estuary job's units in one pool, with the time it is expected to end.
struct PoolAllocation: Sendable {
    var job: Int
    var units: Int
    var endMs: Int64
}

/// One (site, class) pool. Entries are never deleted: a pool that vanishes from a report (or
/// whose site is removed) stays with `present == false`, still carrying its allocations until
/// their jobs end, so that nothing leaks and nothing over-commits when it comes back.
struct PoolState: Sendable {
    let site: Int
    let classId: Int
    var present = false
    var count = 0
    var reportedFree = 0
    var verifiedFP16TFLOPS: Double?
    var allocated = 0
    /// Held units the site has not accepted yet (not in its `reportedFree`).
    var unconfirmed = 0
    var allocations: [PoolAllocation] = []
    /// Moves on every change to `allocations`.
    var allocationVersion = 0
    /// List prices per unit-hour by period kind; nil when the site publishes none.
    var listPrices: KindPrices?
}

/// One site id the scheduler has heard of. A removed site keeps its slot (and its pools'
/// allocations); a job restored to a site not yet upserted gets a slot with `site == nil`.
struct SiteSlot: Sendable {
    let id: SiteID
    var site: SchedulerSite?
    /// Order of `id` among all slots (ties in scoring go to the lower id).
    var rank = 0
    /// Pools in the site's latest report.
    var pools: [Int] = []
    /// Every pool ever seen at this site, by class id.
    var poolOfClass: [Int: Int] = [:]
    var regionId = 0
    /// Integer EWMA of the time from hold to the site's accept, ms; nil before any data.
    var acceptEWMAms: Int64?
    /// Sorted minute-of-day edges of the price book's periods, with 0 and 1440.
    var tariffEdges: [Int] = [0, 1440]
    /// Sites with equal periods and offset share a tariff shape (deferral plans per shape).
    var tariffShape = 0
}

/// What the catalog says about a class id, looked up once.
struct ClassFacts: Sendable {
    let name: AcceleratorClass
    let fp16TFLOPS: Double
    let powerWatts: Int
    let domestic: Bool
}

enum JobPhase: Sendable {
    case queued, held, confirmed, free
}

/// One job the scheduler knows: queued, held at a site, or confirmed running there.
struct JobRecord: Sendable {
    var job: SchedulerJob
    var phase: JobPhase
    var tenant: Int
    var units: Int
    var walltimeMs: Int64
    /// Signature id (constraints, classes, exclusions) of the job as it is now.
    var signature: Int
    /// Matches the queue entry that represents the job while queued.
    var queueToken: UInt64 = 0
    /// Matches the hold-queue entry while held.
    var holdToken: UInt64 = 0
    var pool = -1
    /// Position of the job's entry in its pool's `allocations`.
    var allocationIndex = -1
    var heldAtMs: Int64 = 0
    /// The last deferral decision: deferred until then (kept while the sites do not change).
    var deferredUntilMs: Int64 = .min
    var deferredEpoch: UInt64 = 0
    var deferredReason = ""
    /// Holds made so far (the first placement is attempt 1).
    var attempts = 0
    /// On which attempt each site rejected the job.
    var rejectedOnAttempt: [SiteID: Int] = [:]
}

/// A queue position: ordered by priority (desc), submit time, then job id.
struct QueueEntry: Sendable {
    var priority: Int
    var submittedAtMs: Int64
    var job: Int
    var token: UInt64
}

/// One tenant's queue and holdings.
struct TenantState: Sendable {
    let id: TenantID
    var rank = 0
    /// Sorted; entries whose token no longer matches their job are stale and skipped.
    var queue: [QueueEntry] = []
    var head = 0
    /// Enqueued since the last pass, merged into `queue` before the next one.
    var pending: [QueueEntry] = []
    var stale = 0
    var queued = 0
    /// Held + confirmed units by class id.
    var usage: [Int] = []
    // Pass scratch.
    var cursor = 0
    var share = 0.0
    /// The policy's weight, at least 1.
    var weight = 1.0
    var reserved = false
    var reservationTries = 0
    var quotaLimits: [Int]? = nil

    init(id: TenantID) { self.id = id }

    func held(_ classId: Int) -> Int { classId < usage.count ? usage[classId] : 0 }

    mutating func add(_ units: Int, classId: Int) {
        if classId >= usage.count { usage += Array(repeating: 0, count: classId + 1 - usage.count) }
        usage[classId] += units
    }
}

/// Hold-expiry order: by hold time; stale when the job's hold token moved on.
struct HoldEntry: Sendable {
    var heldAtMs: Int64
    var job: Int
    var token: UInt64
}

/// Capacity held back in a pool by the current pass for a blocked job (EASY backfill).
struct PoolReservation: Sendable {
    var job: Int
    var id: JobID
    var units: Int
    var startMs: Int64
    var endMs: Int64
    /// Units of the pool's allocations expected to end by `startMs`.
    var releasedByStart: Int
}

/// One pool that fits the job being placed: its criteria and where it is in the
/// signature's class tables.
struct FitRow: Sendable {
    var x: Criteria
    var classSlot: Int32
    var row: Int32
}

/// A pool a job could use, with its site and the class's place in the job's class list.
struct PoolRef: Sendable {
    var pool: Int
    var site: Int
    var classSlot: Int
}

/// A pool's allocations by expected end (overdue ones at the pass time), with running totals.
struct SortedEnds: Sendable {
    var version: Int
    var ends: [Int64]
    /// `released[i]`: units of the first `i` ends.
    var released: [Int]

    /// Units released by `instant`.
    func releasedBy(_ instant: Int64) -> Int {
        var low = 0
        var high = ends.count
        while low < high {
            let mid = (low + high) / 2
            if ends[mid] <= instant { low = mid + 1 } else { high = mid }
        }
        return released[low]
    }
}

/// What makes two price books' period kinds change at the same instants.
struct TariffShapeKey: Hashable, Sendable {
    var periods: [TariffPeriod]
    var utcOffsetMinutes: Int
}
