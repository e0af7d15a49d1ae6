import EstuaryModel
import EstuaryStore
import EstuaryWire
import Logging

/// The single owner of the coordinator's live state: active jobs, the placement queue and the
/// sites with their sessions and allocations.
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
    var queue = PlacementQueue()
    var sites: [SiteID: LiveSite] = [:]
    /// Upstream messages refused, over all sites, because they spoke for another site's jobs.
    var refusedMessagesTotal = 0
    /// Upstream cursor per site for the outbox epoch of its current session.
    var cursors: [SiteID: (epoch: String, seq: UInt64)] = [:]
    /// Jobs whose placement is decided but not yet committed: never announce them to a site.
    var uncommittedPlacements: Set<JobID> = []
    let placementSignal: AsyncStream<Void>.Continuation
    let placementRequests: AsyncStream<Void>

    init(
        store: CoordinatorStore, configuration: CoordinatorConfiguration, logger: Logger,
        clock: @escaping @Sendable () -> Int64, onFatal: @escaping @Sendable (any Error) -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.onFatal = onFatal
        (placementRequests, placementSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Rebuilds live state from the store after a (re)start. Sites start unreachable until
    /// their agents reconnect; their jobs keep their capacity until then or until lost.
    func bootstrap() async throws {
        let now = clock()
        let (siteRecords, jobs) = try await store.read { tx in (try tx.sites(), try tx.activeJobs()) }
        for record in siteRecords {
            var site = LiveSite(
                descriptor: record.descriptor, agentVersion: record.agentVersion, firstSeenMs: record.firstSeenMs,
                lastSeenMs: record.lastSeenMs)
            site.pools = Dictionary(record.pools.map { ($0.acceleratorClass, $0) }, uniquingKeysWith: { a, _ in a })
            site.unreachableSinceMs = now
            site.draining = record.draining
            sites[record.descriptor.id] = site
        }
        for job in jobs {
            active[job.id] = job
            switch job.state {
            case .submitted, .queued:
                queue.insert(job.spec, id: job.id)
            default:
                if let site = job.siteID { allocate(job, on: site) }
            }
        }
        logger.info(
            "state restored",
            metadata: ["sites": "\(sites.count)", "active_jobs": "\(active.count)", "queued": "\(queue.count)"])
        requestPlacement()
    }

    // MARK: helpers

    func requestPlacement() { placementSignal.yield() }

    func allocate(_ job: JobRecord, on site: SiteID) {
        sites[site]?.allocated[job.spec.resources.acceleratorClass, default: 0] += job.spec.resources.totalUnits
    }

    func release(_ job: JobRecord) {
        guard let site = job.siteID, job.state.holdsCapacity else { return }
        let cls = job.spec.resources.acceleratorClass
        sites[site]?.allocated[cls, default: 0] -= job.spec.resources.totalUnits
        if sites[site]?.allocated[cls] ?? 0 <= 0 { sites[site]?.allocated[cls] = nil }
    }

    /// Moves an active job to `next`, keeping queue, allocations and the active set in step.
    /// Returns the event to record.
    func transition(
        _ job: inout JobRecord, to next: JobState, cause: String, source: String, siteAtMs: Int64? = nil
    ) -> JobEventRecord {
        let now = clock()
        let wasQueued = job.state == .queued || job.state == .submitted
        if job.state.holdsCapacity && !next.holdsCapacity { release(job) }
        if wasQueued && next != .queued { queue.remove(job.id, acceleratorClass: job.spec.resources.acceleratorClass) }
        let eventSite = job.siteID
        job.state = next
        job.updatedAtMs = now
        if next == .queued {
            job.siteID = nil
            queue.insert(job.spec, id: job.id)
        }
        if next.isTerminal {
            active[job.id] = nil
        } else {
            active[job.id] = job
        }
        return JobEventRecord(
            jobID: job.id, state: next, atMs: now, siteAtMs: siteAtMs, cause: cause, source: source, siteID: eventSite,
            attempt: job.attempt)
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
        return sites.values.sorted { $0.descriptor.id < $1.descriptor.id }.map { $0.view(runningJobs: running[$0.descriptor.id] ?? 0) }
    }

    func queuedCount() -> Int { queue.count }
}
