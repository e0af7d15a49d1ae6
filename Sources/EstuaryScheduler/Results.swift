import EstuaryModel

/// One job assigned to one pool of one site by a pass. The scheduler already holds the units;
/// the coordinator sends the assignment and later calls `confirm`, `requeue` or `release`.
public struct Placement: Sendable, Hashable {
    public var job: JobID
    public var site: SiteID
    public var cls: AcceleratorClass
    /// Units held for the job (`tasks × count`), all from this one pool.
    public var units: Int
    /// Weighted, min–max normalised score among the candidates that fit (0 is best).
    public var score: Double
    /// Why this site, for the job's event log: "balanced: best of 3 sites; 120.00 CNY/h, …".
    public var reason: String
    /// When the hold lapses unless the site accepts (`expiredHolds`).
    public var holdExpiresAtMs: Int64

    public init(job: JobID, site: SiteID, cls: AcceleratorClass, units: Int, score: Double, reason: String, holdExpiresAtMs: Int64) {
        self.job = job
        self.site = site
        self.cls = cls
        self.units = units
        self.score = score
        self.reason = reason
        self.holdExpiresAtMs = holdExpiresAtMs
    }
}

/// A queued job that a pass left queued on purpose: it may not start yet, or a later start is
/// cheaper or greener within its deadline.
public struct Deferment: Sendable, Hashable {
    public var job: JobID
    public var untilMs: Int64
    public var reason: String

    public init(job: JobID, untilMs: Int64, reason: String) {
        self.job = job
        self.untilMs = untilMs
        self.reason = reason
    }
}

/// Capacity a pass set aside for a blocked job at the front of its queue: later jobs may use
/// the pool only if they end before `startMs` or leave `units` free then (backfill).
public struct Reservation: Sendable, Hashable {
    public var job: JobID
    public var site: SiteID
    public var cls: AcceleratorClass
    public var units: Int
    /// Estimated earliest start, from the expected ends of the pool's allocations.
    public var startMs: Int64
    /// The time of the pass that made it.
    public var madeAtMs: Int64

    public init(job: JobID, site: SiteID, cls: AcceleratorClass, units: Int, startMs: Int64, madeAtMs: Int64) {
        self.job = job
        self.site = site
        self.cls = cls
        self.units = units
        self.startMs = startMs
        self.madeAtMs = madeAtMs
    }
}

/// What one `schedule` call decided.
public struct SchedulingPass: Sendable, Hashable {
    public var placements: [Placement]
    public var deferred: [Deferment]
    /// Reservations made for blocked jobs in this pass (they last until the next pass).
    public var reservations: [Reservation]

    public init(placements: [Placement] = [], deferred: [Deferment] = [], reservations: [Reservation] = []) {
        self.placements = placements
        self.deferred = deferred
        self.reservations = reservations
    }
}

/// Where a job stands, as `estuaryctl explain` shows it.
public enum Verdict: Sendable, Hashable, CustomStringConvertible {
    /// A pass now would place it here (unless fair share gives the capacity to another tenant first).
    case placeable(site: SiteID, cls: AcceleratorClass, score: Double)
    /// Already placed: held for the site's answer, or accepted (`confirmed`).
    case held(site: SiteID, cls: AcceleratorClass, confirmed: Bool, expiresAtMs: Int64?)
    /// Every site that could run it is busy. `reservation` is the job's own reservation from
    /// the last pass, or the reservation of another job that holds back capacity it could use.
    case waitingForCapacity(reservation: Reservation?)
    case deferred(untilMs: Int64, reason: String)
    /// Some site has room, but the tenant's quota does not.
    case waitingForQuota([RuleOut])
    /// No site can ever run it as the mesh stands (every site is ruled out for good).
    case unplaceable

    public var description: String {
        switch self {
        case .placeable(let site, let cls, _):
            return "placeable now at \(site) (\(cls))"
        case .held(let site, let cls, let confirmed, _):
            return confirmed ? "running at \(site) (\(cls))" : "assigned to \(site) (\(cls)), waiting for the site to accept"
        case .waitingForCapacity(let reservation):
            guard let r = reservation else { return "waiting for capacity" }
            let wait = Format.duration(ms: max(0, r.startMs - r.madeAtMs))
            return "waiting for capacity: \(r.units) \(r.cls) at \(r.site) reserved for job \(r.job), expected to start in ~\(wait)"
        case .deferred(_, let reason):
            return reason
        case .waitingForQuota(let reasons):
            return "waiting for quota: " + reasons.map(\.description).joined(separator: "; ")
        case .unplaceable:
            return "unplaceable: no site can run this job"
        }
    }
}

/// One site (and class) as explained for one job.
public struct SiteVerdict: Sendable, Hashable {
    public var site: SiteID
    /// The class considered; nil when the site has no pool the job could use.
    public var cls: AcceleratorClass?
    /// Every reason the site cannot take the job now; empty when it can.
    public var ruledOut: [RuleOut]
    /// The normalised score among the sites that can take it now (lower is better).
    public var score: Double?

    public init(site: SiteID, cls: AcceleratorClass?, ruledOut: [RuleOut], score: Double?) {
        self.site = site
        self.cls = cls
        self.ruledOut = ruledOut
        self.score = score
    }
}

/// Why a job is where it is, and what every site thinks of it.
public struct Explanation: Sendable, Hashable, CustomStringConvertible {
    public var job: JobID
    public var verdict: Verdict
    /// By site id, then class name.
    public var sites: [SiteVerdict]

    public init(job: JobID, verdict: Verdict, sites: [SiteVerdict]) {
        self.job = job
        self.verdict = verdict
        self.sites = sites
    }

    public var description: String {
        var lines = ["\(job): \(verdict)"]
        for entry in sites {
            let where_ = entry.cls.map { "\(entry.site) \($0)" } ?? "\(entry.site)"
            if entry.ruledOut.isEmpty {
                lines.append("  \(where_): ok" + (entry.score.map { ", score \(Format.fixed($0, decimals: 3))" } ?? ""))
            } else {
                lines.append("  \(where_): " + entry.ruledOut.map(\.description).joined(separator: "; "))
            }
        }
        return lines.joined(separator: "\n")
    }
}
