/// What a job asks for: `tasks` tasks of `count` units of one accelerator class each.
/// All tasks of one job land on one site (a gang), all or none.
public struct ResourceRequest: Sendable, Hashable, Codable {
    public var acceleratorClass: AcceleratorClass
    /// Units per task (GPUs, NPUs, or CPU cores for a CPU class).
    public var count: Int
    /// Number of tasks.
    public var tasks: Int
    /// Memory per task in MiB, if the job states it.
    public var memoryMiB: Int?

    public init(acceleratorClass: AcceleratorClass, count: Int = 1, tasks: Int = 1, memoryMiB: Int? = nil) {
        self.acceleratorClass = acceleratorClass
        self.count = count
        self.tasks = tasks
        self.memoryMiB = memoryMiB
    }

    /// Units held at the site while the job runs.
    public var totalUnits: Int { count * tasks }

    enum CodingKeys: String, CodingKey {
        case acceleratorClass = "class"
        case count, tasks
        case memoryMiB = "memory_mib"
    }

    /// `count` and `tasks` default to 1.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        acceleratorClass = try container.decode(AcceleratorClass.self, forKey: .acceleratorClass)
        count = try container.decodeIfPresent(Int.self, forKey: .count) ?? 1
        tasks = try container.decodeIfPresent(Int.self, forKey: .tasks) ?? 1
        memoryMiB = try container.decodeIfPresent(Int.self, forKey: .memoryMiB)
    }
}

/// One pool of identical accelerators at a site, as the site reports it.
public struct PoolCapacity: Sendable, Hashable, Codable {
    public var acceleratorClass: AcceleratorClass
    /// Units the pool has in service.
    public var count: Int
    /// Units not in use, as the site last saw them.
    public var free: Int
    /// True when the units are simulated by the `process` driver (dev meshes, CI), so that
    /// nobody mistakes a laptop for an NPU cluster.
    public var simulated: Bool

    public init(acceleratorClass: AcceleratorClass, count: Int, free: Int, simulated: Bool) {
        self.acceleratorClass = acceleratorClass
        self.count = count
        self.free = free
        self.simulated = simulated
    }

    enum CodingKeys: String, CodingKey {
        case acceleratorClass = "class"
        case count, free, simulated
    }
}
