/// What a job asks for: `tasks` tasks of `count` units each, all of one accelerator class.
/// All tasks of one job land on one site and one pool (a gang), all or none.
///
/// The class is named (`classes = [nvidia-a100]`), chosen from a list of acceptable classes
/// (`V100M16|V100M32`), or described by a capability (any catalog class with at least
/// `minFP16TFLOPS` per unit and `minMemoryGiB` of device memory). Exactly one of the two forms.
public struct ResourceRequest: Sendable, Hashable, Codable {
    /// Acceptable classes; empty when the request is a capability.
    public var classes: [AcceleratorClass]
    public var minFP16TFLOPS: Double?
    public var minMemoryGiB: Double?
    /// Units per task (GPUs, NPUs, or CPU cores for a CPU class).
    public var count: Int
    /// Number of tasks.
    public var tasks: Int
    /// Memory per task in MiB, if the job states it.
    public var memoryMiB: Int?

    public init(acceleratorClass: AcceleratorClass, count: Int = 1, tasks: Int = 1, memoryMiB: Int? = nil) {
        self.init(classes: [acceleratorClass], count: count, tasks: tasks, memoryMiB: memoryMiB)
    }

    public init(
        classes: [AcceleratorClass], minFP16TFLOPS: Double? = nil, minMemoryGiB: Double? = nil, count: Int = 1,
        tasks: Int = 1, memoryMiB: Int? = nil
    ) {
        self.classes = classes
        self.minFP16TFLOPS = minFP16TFLOPS
        self.minMemoryGiB = minMemoryGiB
        self.count = count
        self.tasks = tasks
        self.memoryMiB = memoryMiB
    }

    /// Units held at the site while the job runs.
    public var totalUnits: Int { count * tasks }

    /// True when the job names its class(es) rather than a capability.
    public var isCapability: Bool { classes.isEmpty }

    /// The one class of an assigned job (the coordinator resolves alternatives and
    /// capabilities before it assigns); nil when the request still allows several.
    public var assignedClass: AcceleratorClass? { classes.count == 1 ? classes[0] : nil }

    /// `a|b|c` as job files and the wire write a list of classes.
    public var classExpression: String { classes.map(\.rawValue).joined(separator: "|") }

    /// Parses `a|b|c`; empty members are kept as empty names for validation to report.
    public static func classes(fromExpression text: String) -> [AcceleratorClass] {
        text.split(separator: "|", omittingEmptySubsequences: false).map {
            AcceleratorClass(rawValue: String($0).trimmingSpaces)
        }
    }

    /// The same request bound to one class, as it is assigned.
    public func assigned(to cls: AcceleratorClass) -> ResourceRequest {
        ResourceRequest(classes: [cls], count: count, tasks: tasks, memoryMiB: memoryMiB)
    }

    enum CodingKeys: String, CodingKey {
        case acceleratorClass = "class"
        case minFP16TFLOPS = "min_fp16_tflops"
        case minMemoryGiB = "min_memory_gib"
        case count, tasks
        case memoryMiB = "memory_mib"
    }

    /// `count` and `tasks` default to 1; `class` is `"a"` or `"a|b"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let expression = try container.decodeIfPresent(String.self, forKey: .acceleratorClass)
        classes = expression.map(Self.classes(fromExpression:)) ?? []
        minFP16TFLOPS = try container.decodeIfPresent(Double.self, forKey: .minFP16TFLOPS)
        minMemoryGiB = try container.decodeIfPresent(Double.self, forKey: .minMemoryGiB)
        count = try container.decodeIfPresent(Int.self, forKey: .count) ?? 1
        tasks = try container.decodeIfPresent(Int.self, forKey: .tasks) ?? 1
        memoryMiB = try container.decodeIfPresent(Int.self, forKey: .memoryMiB)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !classes.isEmpty { try container.encode(classExpression, forKey: .acceleratorClass) }
        try container.encodeIfPresent(minFP16TFLOPS, forKey: .minFP16TFLOPS)
        try container.encodeIfPresent(minMemoryGiB, forKey: .minMemoryGiB)
        try container.encode(count, forKey: .count)
        try container.encode(tasks, forKey: .tasks)
        try container.encodeIfPresent(memoryMiB, forKey: .memoryMiB)
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
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
    /// FP16 TFLOPS per unit measured by a test job, once measured; nil until then.
    public var verifiedFP16TFLOPS: Double?

    public init(acceleratorClass: AcceleratorClass, count: Int, free: Int, simulated: Bool, verifiedFP16TFLOPS: Double? = nil) {
        self.acceleratorClass = acceleratorClass
        self.count = count
        self.free = free
        self.simulated = simulated
        self.verifiedFP16TFLOPS = verifiedFP16TFLOPS
    }

    enum CodingKeys: String, CodingKey {
        case acceleratorClass = "class"
        case count, free, simulated
        case verifiedFP16TFLOPS = "verified_fp16_tflops"
    }
}
