import EstuaryLedger
import EstuaryModel
import EstuaryScheduler
import EstuaryStore
import EstuaryWire
import Logging

/// The single owner of the coordinator's live state: active jobs, the sites with their
/// sessions, and the scheduler (queues, holds and allocations; EstuaryScheduler).
///
/// Every job transition is decided here, synchronously, then queued to the store in decision
/// order (`enqueueWrite`), and its effects (a JobAssign to a site, an API answer) happen only
/// after the commit. If the store fails, the coordinator stops (fail-stop): memory may be ahead
/// of disk, and a restart rebuilds memory from disk.
actor CoordinatorCore {
    let store: CoordinatorStore
    let configuration: CoordinatorConfiguration
    let logger: Logger
    let clock: @Sendable () -> Int64
    let onFatal: @Sendable (any Error) -> Void

    var ids = JobIDGenerator()
    var random = SystemRandomNumberGenerator()
    var active: [JobID: JobRecord] = [:]
    /// Jobs that ended lately, as they ended: a site's usage record often arrives in the batch
    /// after the job's last update, and rating it then needs no store read.
    var recentlyEnded = RecentJobs(capacity: 8192)
    /// Queues, fair share, holds and allocations. Pure: every input comes from here.
    var scheduler: Scheduler
    /// The ledger, tenants, prices and vouchers; changed only inside store write closures.
    nonisolated let meter: Meter
    /// When a deferred job next wants a placement pass (the sweep checks it).
    var nextDeferralWakeMs: Int64?
    /// When a price version set for later takes effect (the sweep re-syncs the scheduler then).
    var nextPriceChangeMs: Int64?
    var sites: [SiteID: LiveSite] = [:]
    /// Sites of peer coordinators the scheduler may place on (a job placed there is forwarded).
    var remoteSites: [SiteID: RemoteSite] = [:]
    /// Upstream messages refused, over all sites, because they spoke for another site's jobs.
    var refusedMessagesTotal = 0
    /// Upstream cursor per site for the outbox epoch of its current session.
    var cursors: [SiteID: (epoch: String, seq: UInt64)] = [:]
    /// Jobs whose placement is decided but not yet committed: never announce them to a site.
    var uncommittedPlacements: Set<JobID> = []
    /// The start each deferred job was last told (as a job event), so that a pass that keeps
    /// the same plan records nothing new.
    var deferralNoted: [JobID: Int64] = [:]
    let placementSignal: AsyncStream<Void>.Continuation
    let placementRequests: AsyncStream<Void>
    /// Signalled when the mesh outbox has new messages (`MeshFederation` sends them).
    let outboxSignal: AsyncStream<Void>.Continuation
    let outboxRequests: AsyncStream<Void>

    init(
        store: CoordinatorStore, configuration: CoordinatorConfiguration, logger: Logger,
        clock: @escaping @Sendable () -> Int64, onFatal: @escaping @Sendable (any Error) -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.onFatal = onFatal
        let meter = Meter(
            state: Meter.emptyState(settings: configuration.metering), settings: configuration.metering,
            catalog: configuration.catalog)
        meter.attach(to: store)
        self.meter = meter
        scheduler = Scheduler(
            catalog: configuration.catalog, policy: configuration.policy,
            effectivePrice: { tenant, site, cls, list in
                meter.effectivePrice(tenant: tenant, site: site, cls: cls, list: list, nowMs: clock())
            })
        (placementRequests, placementSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (outboxRequests, outboxSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Rebuilds live state from the store after a (re)start. Sites start unreachable until
    /// their agents reconnect; their jobs keep their capacity until then or until lost.
    func bootstrap() async throws {
        let now = clock()
        let settings = configuration.metering
        let (siteRecords, jobs, ledger) = try await store.read { tx in
            (try tx.sites(), try tx.activeJobs(), try Meter.load(tx, settings: settings))
        }
        meter.replace(ledger)
        for record in siteRecords {
            var site = LiveSite(
                descriptor: record.descriptor, agentVersion: record.agentVersion, firstSeenMs: record.firstSeenMs,
                lastSeenMs: record.lastSeenMs)
            site.pools = Dictionary(record.pools.map { ($0.acceleratorClass, $0) }, uniquingKeysWith: { a, _ in a })
            site.unreachableSinceMs = now
            site.draining = record.draining
            sites[record.descriptor.id] = site
            syncScheduler(site: record.descriptor.id)
        }
        for job in jobs {
            active[job.id] = job
            switch job.state {
            case .submitted, .queued:
                scheduler.enqueue(Self.schedulerJob(job))
            default:
                guard let site = job.siteID else { continue }
                // Jobs placed before the scheduler recorded classes ran on their only class.
                let cls = job.placedClass ?? job.spec.resources.classes.first ?? AcceleratorClass(rawValue: "unknown")
                scheduler.restore(
                    Self.schedulerJob(job), site: site, cls: cls, heldAtMs: job.updatedAtMs, confirmed: job.state != .placed)
            }
        }
        logger.info(
            "state restored",
            metadata: ["sites": "\(sites.count)", "active_jobs": "\(active.count)", "queued": "\(scheduler.queuedCount)"])
        requestPlacement()
    }

    // MARK: helpers

    func requestPlacement() { placementSignal.yield() }

    /// The scheduler's view of a stored job.
    static func schedulerJob(_ job: JobRecord) -> SchedulerJob {
        SchedulerJob(id: job.id, spec: job.spec, submittedAtMs: job.createdAtMs, excludedSites: job.excludedSites)
    }

    /// Tells the scheduler what changed about a site (state, pools or prices). Prices are the
    /// ledger's version in force, which an administrator may have set, not only the agent's book.
    func syncScheduler(site id: SiteID) {
        guard let site = sites[id] else {
            scheduler.removeSite(id)
            return
        }
        let now = clock()
        var view = site.schedulerSite
        if let book = meter.bookInForce(site: id, nowMs: now) { view.priceBook = book }
        scheduler.upsertSite(view)
        nextPriceChangeMs = meter.nextPriceChange(afterMs: now)
    }

    /// Moves an active job to `next`, keeping the scheduler (queue, holds, allocations) and the
    /// active set in step. Returns the event to record. A placed job that goes back to
    /// `queued` (rejected, or never confirmed) avoids that site from then on.
    func transition(
        _ job: inout JobRecord, to next: JobState, cause: String, source: String, siteAtMs: Int64? = nil
    ) -> JobEventRecord {
        var next = next
        var cause = cause
        var source = source
        if let origin = job.origin, next == .queued {
            // A forwarded job is placed by its home coordinator: here it ends, and home places
            // it again (`meshReports` tells it "rejected").
            next = .failed
            cause = "returned to \(origin.coordinator): \(cause)"
            source = Self.returnedSource
        }
        let now = clock()
        let wasQueued = job.state == .queued || job.state == .submitted
        let eventSite = job.siteID
        if job.state.holdsCapacity && next == .queued, let site = eventSite {
            job.excludedSites.insert(site)
            scheduler.requeue(job.id, excluding: site, atMs: now)
        } else if job.state.holdsCapacity && !next.holdsCapacity {
            scheduler.release(job.id)
        } else if job.state == .placed && (next == .starting || next == .running) {
            scheduler.confirm(job.id, atMs: now)
        }
        if wasQueued && next != .queued && next != .placed { scheduler.dequeue(job.id) }
        job.state = next
        job.updatedAtMs = now
        if next == .queued {
            job.siteID = nil
            job.placedClass = nil
            job.forwardedTo = nil
        }
        if next.isTerminal {
            deferralNoted[job.id] = nil
            active[job.id] = nil
            recentlyEnded.insert(job)
        } else {
            active[job.id] = job
        }
        return JobEventRecord(
            jobID: job.id, state: next, atMs: now, siteAtMs: siteAtMs, cause: cause, source: source, siteID: eventSite,
            attempt: job.attempt)
    }

    /// Writes job transitions and their events; a job that no longer holds capacity (it ended,
    /// or went back to the queue) gives its money hold back in the same transaction.
    nonisolated func record(_ changes: [(JobRecord, JobEventRecord)], _ tx: StoreTransaction) throws {
        for (job, event) in changes {
            try tx.updateJob(job)
            try tx.appendEvent(event)
            if !job.state.holdsCapacity { try meter.releaseHold(job: job.id, tx: tx) }
        }
        try meshReports(changes, tx)
    }

    /// Awaits a commit; on failure stops the coordinator, since memory is now ahead of disk.
    func commit<T: Sendable>(_ ticket: WriteTicket<T>) async throws -> T {
        do {
            return try await ticket.wait()
        } catch {
            logger.critical("store write failed; stopping", metadata: ["error": "\(error)"])
            onFatal(error)
            throw BackendError.unavailable("the store failed: \(error)")
        }
    }

    // MARK: reads of live state

    func siteViews() -> [SiteView] {
        var running: [SiteID: Int] = [:]
        for job in active.values where job.state.holdsCapacity {
            if let site = job.siteID { running[site, default: 0] += 1 }
        }
        return sites.values.sorted { $0.descriptor.id < $1.descriptor.id }.map { site in
            var allocated: [AcceleratorClass: Int] = [:]
            for cls in site.pools.keys { allocated[cls] = scheduler.allocatedUnits(site: site.descriptor.id, cls: cls) }
            return site.view(runningJobs: running[site.descriptor.id] ?? 0, allocated: allocated)
        }
    }

    func queuedCount() -> Int { scheduler.queuedCount }
}

/// The last `capacity` jobs inserted, by id; the oldest is forgotten first. Ended jobs never
/// change again, so a copy kept here is the stored record.
struct RecentJobs {
    let capacity: Int
    private var jobs: [JobID: JobRecord] = [:]
    private var order: [JobID] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = capacity
        order.reserveCapacity(capacity)
    }

    subscript(id: JobID) -> JobRecord? { jobs[id] }

    mutating func insert(_ job: JobRecord) {
        if jobs.updateValue(job, forKey: job.id) != nil { return }
        if order.count < capacity {
            order.append(job.id)
        } else {
            jobs[order[next]] = nil
            order[next] = job.id
            next = (next + 1) % capacity
        }
    }
}
