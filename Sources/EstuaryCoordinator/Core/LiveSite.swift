import EstuaryModel

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
    /// Units the coordinator has placed on the site and not yet seen end, per class.
    var allocated: [AcceleratorClass: Int] = [:]
    /// Upstream messages refused because they spoke for jobs of another site.
    var refusedMessages = 0

    var state: SiteState {
        if draining { return .draining }
        return link != nil && unreachableSinceMs == nil ? .connected : .unreachable
    }

    var acceptsWork: Bool { state == .connected }

    func freeUnits(_ acceleratorClass: AcceleratorClass) -> Int {
        guard let pool = pools[acceleratorClass] else { return 0 }
        return max(0, pool.count - allocated[acceleratorClass, default: 0])
    }

    func view(runningJobs: Int) -> SiteView {
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

/// Queued jobs in placement order: higher priority first, then older first (ids sort by age).
struct PlacementQueue {
    struct Entry: Comparable {
        var priority: Int
        var id: JobID
        static func < (lhs: Entry, rhs: Entry) -> Bool {
            lhs.priority != rhs.priority ? lhs.priority > rhs.priority : lhs.id < rhs.id
        }
    }

    private(set) var byClass: [AcceleratorClass: [Entry]] = [:]
    private(set) var count = 0

    mutating func insert(_ job: JobSpec, id: JobID) {
        let entry = Entry(priority: job.priority, id: id)
        var entries = byClass[job.resources.acceleratorClass, default: []]
        let index = entries.partitioningIndex { !($0 < entry) }
        entries.insert(entry, at: index)
        byClass[job.resources.acceleratorClass] = entries
        count += 1
    }

    mutating func remove(_ id: JobID, acceleratorClass: AcceleratorClass) {
        guard var entries = byClass[acceleratorClass], let index = entries.firstIndex(where: { $0.id == id }) else { return }
        entries.remove(at: index)
        byClass[acceleratorClass] = entries.isEmpty ? nil : entries
        count -= 1
    }

    mutating func replace(_ acceleratorClass: AcceleratorClass, with entries: [Entry]) {
        count += entries.count - (byClass[acceleratorClass]?.count ?? 0)
        byClass[acceleratorClass] = entries.isEmpty ? nil : entries
    }
}

extension Array {
    /// First index whose element satisfies `belongsInSecondPartition`, for a partitioned array.
    func partitioningIndex(where belongsInSecondPartition: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if belongsInSecondPartition(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
