import EstuaryModel
import EstuaryScheduler

/// A discrete-event replay of a trace through the scheduler.
///
/// Events are arrivals (a job's `arrivalMs`) and completions (placement time + `runtimeMs`).
/// At each distinct event time, completions are released first, arrivals enqueued, then one
/// `schedule(nowMs:)` pass runs; every placement is confirmed at once (the simulated site
/// accepts) and its completion is queued. Before each pass the sites report their free units
/// (`Options.siteReports`). Ties are broken by job order, so a replay is
/// deterministic. When no event is left, one last pass runs; whatever is still queued then
/// never got a place.
public struct TraceReplay {
    public struct Options: Sendable {
        /// Check after every pass that no pool has more units allocated than it has.
        public var verifyCapacity: Bool
        /// Keep the full placement sequence in the result.
        public var recordPlacements: Bool
        /// Before each pass, every site whose jobs changed since its last report sends a
        /// capacity report (`updatePools`) whose `reportedFree` is its units minus the Estuary
        /// jobs it runs, as a real site does.
        public var siteReports: Bool

        public init(verifyCapacity: Bool = true, recordPlacements: Bool = true, siteReports: Bool = true) {
            self.verifyCapacity = verifyCapacity
            self.recordPlacements = recordPlacements
            self.siteReports = siteReports
        }
    }

    /// One placement as it happened.
    public struct Placed: Sendable, Hashable {
        public var job: JobID
        public var site: SiteID
        public var cls: AcceleratorClass
        public var units: Int
        public var atMs: Int64
    }

    /// Queueing delay (arrival → placement) and utilisation of one class.
    public struct ClassFigures: Sendable, Hashable {
        public var cls: AcceleratorClass
        /// Units of the class over all sites.
        public var capacity: Int
        public var placed: Int
        /// Delays in trace seconds (scaled time divided by the time scale).
        public var delaySeconds: Distribution
        /// Allocated unit-time ÷ (capacity × window): the time-weighted mean utilisation from the
        /// first arrival to the later of the last arrival and the last placement, while work is
        /// offered or waiting (the drain after it is left out: a few tasks run for months).
        public var utilisation: Double
        /// Largest units allocated at once.
        public var peakUnits: Int
    }

    public struct Result: Sendable {
        public var total: Int
        public var placed: Int
        /// Jobs still queued when no event was left.
        public var unplaced: [JobID]
        public var passes: Int
        /// Placement decisions the passes returned (equals `placed`: each job is placed once).
        public var placements: [Placed]
        public var delaySeconds: Distribution
        public var classes: [ClassFigures]
        /// First arrival to last completion, in scaled ms.
        public var spanMs: Int64
        /// First arrival to the later of the last arrival and the last placement, in scaled ms:
        /// the window utilisation is measured over.
        public var windowMs: Int64
        /// Pools found with more units allocated than they have, after some pass (should be empty).
        public var capacityViolations: [String]
        /// Units still allocated after the last completion (should be 0).
        public var allocatedAtEnd: Int
        /// Jobs still queued in the scheduler at the end (should equal `unplaced.count`).
        public var queuedAtEnd: Int
    }

    public var scheduler: Scheduler
    public let sites: [SchedulerSite]
    public let jobs: [TraceJob]
    public let timeScale: Double
    public var options: Options

    public init(mesh: TraceMesh, workload: TraceWorkload, options: Options = Options()) {
        var scheduler = Scheduler(catalog: mesh.catalog, policy: mesh.policy)
        for site in mesh.sites { scheduler.upsertSite(site) }
        self.scheduler = scheduler
        sites = mesh.sites
        jobs = workload.jobs
        timeScale = workload.timeScale
        self.options = options
    }

    /// Runs the whole trace. The scheduler is left as the replay ends (every job released).
    public mutating func run() -> Result {
        let order = jobs.indices.sorted { (jobs[$0].arrivalMs, $0) < (jobs[$1].arrivalMs, $1) }
        var indexOf: [JobID: Int] = [:]
        indexOf.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() { indexOf[job.job.id] = index }

        var completions = EventHeap()
        var next = 0
        var passes = 0
        var placements: [Placed] = []
        var placedAt = Array(repeating: Int64(-1), count: jobs.count)
        var placedClass = Array(repeating: AcceleratorClass?.none, count: jobs.count)
        var violations: [String] = []
        var classIndex: [AcceleratorClass: Int] = [:]
        var capacity: [Int] = []
        for site in sites {
            for pool in site.pools {
                if classIndex[pool.cls] == nil {
                    classIndex[pool.cls] = capacity.count
                    capacity.append(0)
                }
                capacity[classIndex[pool.cls]!] += pool.count
            }
        }
        var allocated = Array(repeating: 0, count: capacity.count)
        var peak = Array(repeating: 0, count: capacity.count)
        var placedCount = Array(repeating: 0, count: capacity.count)
        var lastMs: Int64 = jobs.isEmpty ? 0 : jobs[order[0]].arrivalMs
        let firstMs = lastMs
        var placedUnits = Array(repeating: 0, count: jobs.count)
        var placedSite = Array(repeating: 0, count: jobs.count)
        var siteIndex: [SiteID: Int] = [:]
        for (index, site) in sites.enumerated() { siteIndex[site.id] = index }
        var changedSites = Array(repeating: false, count: sites.count)
        var drained = false

        while true {
            let arrival = next < order.count ? jobs[order[next]].arrivalMs : nil
            let now: Int64
            if let soonest = [arrival, completions.peek?.atMs].compactMap({ $0 }).min() {
                now = soonest
                drained = false
            } else {
                // No event left: one more pass at the last time, in case the scheduler held
                // something back; if it places nothing, what is queued never gets a place.
                if scheduler.queuedCount == 0 || drained { break }
                drained = true
                now = lastMs
            }

            lastMs = now
            while let event = completions.peek, event.atMs == now {
                completions.pop()
                scheduler.release(jobs[event.job].job.id)
                allocated[classIndex[placedClass[event.job]!]!] -= placedUnits[event.job]
                changedSites[placedSite[event.job]] = true
            }
            while next < order.count, jobs[order[next]].arrivalMs == now {
                scheduler.enqueue(jobs[order[next]].job)
                next += 1
            }
            guard scheduler.queuedCount > 0 else { continue }

            if options.siteReports {
                for (index, site) in sites.enumerated() where changedSites[index] {
                    changedSites[index] = false
                    let report = site.pools.map { pool in
                        SchedulerPool(
                            cls: pool.cls, count: pool.count,
                            reportedFree: pool.count - scheduler.allocatedUnits(site: site.id, cls: pool.cls),
                            verifiedFP16TFLOPS: pool.verifiedFP16TFLOPS)
                    }
                    scheduler.updatePools(site: site.id, pools: report)
                }
            }
            let pass = scheduler.schedule(nowMs: now)
            passes += 1
            for placement in pass.placements {
                scheduler.confirm(placement.job, atMs: now)
                guard let index = indexOf[placement.job] else { continue }
                placedAt[index] = now
                placedClass[index] = placement.cls
                placedUnits[index] = placement.units
                placedSite[index] = siteIndex[placement.site] ?? 0
                changedSites[placedSite[index]] = true
                let cls = classIndex[placement.cls] ?? 0
                allocated[cls] += placement.units
                peak[cls] = max(peak[cls], allocated[cls])
                placedCount[cls] += 1
                completions.push(atMs: now + jobs[index].runtimeMs, job: index)
                if options.recordPlacements {
                    placements.append(Placed(job: placement.job, site: placement.site, cls: placement.cls, units: placement.units, atMs: now))
                }
            }
            if options.verifyCapacity {
                for site in sites {
                    for pool in site.pools {
                        let used = scheduler.allocatedUnits(site: site.id, cls: pool.cls)
                        if used > pool.count {
                            violations.append("\(site.id)/\(pool.cls): \(used) of \(pool.count) units allocated at \(now) ms")
                        }
                    }
                }
            }
        }

        var allocatedAtEnd = 0
        for site in sites {
            for pool in site.pools { allocatedAtEnd += scheduler.allocatedUnits(site: site.id, cls: pool.cls) }
        }
        let span = max(1, lastMs - firstMs)
        // Utilisation window: first arrival → the later of the last arrival and the last
        // placement, i.e. while work was offered or waiting.
        let lastArrivalMs = jobs.isEmpty ? 0 : jobs[order[order.count - 1]].arrivalMs
        let windowEnd = max(lastArrivalMs, placedAt.max() ?? 0)
        let window = max(1, windowEnd - firstMs)
        var unitMs = Array(repeating: 0.0, count: capacity.count)
        for (index, job) in jobs.enumerated() where placedAt[index] >= 0 {
            let overlap = min(placedAt[index] + job.runtimeMs, windowEnd) - placedAt[index]
            if overlap > 0 { unitMs[classIndex[placedClass[index]!]!] += Double(placedUnits[index]) * Double(overlap) }
        }
        let toSeconds = 1 / (1000 * timeScale)
        var delays: [Double] = []
        var delaysByClass = Array(repeating: [Double](), count: capacity.count)
        var unplaced: [JobID] = []
        for (index, job) in jobs.enumerated() {
            guard placedAt[index] >= 0, let cls = placedClass[index] else {
                unplaced.append(job.job.id)
                continue
            }
            let delay = Double(placedAt[index] - job.arrivalMs) * toSeconds
            delays.append(delay)
            delaysByClass[classIndex[cls]!].append(delay)
        }
        let classes = classIndex.sorted { $0.key < $1.key }.map { cls, index in
            ClassFigures(
                cls: cls, capacity: capacity[index], placed: placedCount[index], delaySeconds: Distribution(delaysByClass[index]),
                utilisation: capacity[index] > 0 ? unitMs[index] / (Double(capacity[index]) * Double(window)) : 0,
                peakUnits: peak[index])
        }
        return Result(
            total: jobs.count, placed: jobs.count - unplaced.count, unplaced: unplaced, passes: passes, placements: placements,
            delaySeconds: Distribution(delays), classes: classes, spanMs: span, windowMs: window, capacityViolations: violations,
            allocatedAtEnd: allocatedAtEnd, queuedAtEnd: scheduler.queuedCount)
    }
}

/// Completions by time, then by job order: a binary min-heap.
struct EventHeap {
    struct Event {
        var atMs: Int64
        var job: Int
        static func < (a: Event, b: Event) -> Bool { (a.atMs, a.job) < (b.atMs, b.job) }
    }

    private var items: [Event] = []

    var peek: Event? { items.first }

    mutating func push(atMs: Int64, job: Int) {
        items.append(Event(atMs: atMs, job: job))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> Event? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
