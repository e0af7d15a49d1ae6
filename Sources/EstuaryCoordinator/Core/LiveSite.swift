import EstuaryModel
import EstuaryScheduler

/// What the coordinator knows about one site right now.
struct LiveSite {
    var descriptor: SiteDescriptor
    var pools: [AcceleratorClass: PoolCapacity] = [:]
    var link: SiteLink?
    var agentVersion: String?
    var firstSeenMs: Int64
    var lastSeenMs: Int64
    /// Set when the site stopped reporting; cleared when it reports again.
    var unreachableSinceMs: Int64?
    var draining = false
    /// Upstream messages refused because they spoke for jobs of another site.
    var refusedMessages = 0

    var state: SiteState {
        if draining { return .draining }
        return link != nil && unreachableSinceMs == nil ? .connected : .unreachable
    }

    var acceptsWork: Bool { state == .connected }

    /// The site as the scheduler sees it.
    var schedulerSite: SchedulerSite {
        SchedulerSite(
            id: descriptor.id, region: descriptor.region, zones: Set(descriptor.zones), energy: descriptor.energy,
            priceBook: descriptor.priceBook, status: schedulerStatus, pools: schedulerPools)
    }

    var schedulerStatus: SiteStatus {
        switch state {
        case .connected: .available
        case .draining: .draining
        case .unreachable: .unreachable
        }
    }

    var schedulerPools: [SchedulerPool] { Self.schedulerPools(pools.values) }

    /// Pools as the scheduler sees them, by class (a peer's site's too: `RemoteSite`).
    static func schedulerPools(_ pools: some Collection<PoolCapacity>) -> [SchedulerPool] {
        pools.sorted { $0.acceleratorClass < $1.acceleratorClass }.map {
            SchedulerPool(cls: $0.acceleratorClass, count: $0.count, reportedFree: $0.free, verifiedFP16TFLOPS: $0.verifiedFP16TFLOPS)
        }
    }

    func view(runningJobs: Int, allocated: [AcceleratorClass: Int]) -> SiteView {
        SiteView(
            site: descriptor,
            state: state,
            pools: pools.values.sorted { $0.acceleratorClass < $1.acceleratorClass },
            allocated: Dictionary(uniqueKeysWithValues: allocated.filter { $0.value > 0 }.map { ($0.key.rawValue, $0.value) }),
            runningJobs: runningJobs,
            lastSeenMs: lastSeenMs,
            agentVersion: agentVersion,
            refusedMessages: refusedMessages
        )
    }
}
