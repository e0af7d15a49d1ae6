/// What a user asks to run. The same shape arrives from a TOML job file (estuaryctl), from the
/// JSON API, and travels to the site inside `JobAssign`.
public struct JobSpec: Sendable, Hashable, Codable {
    public var name: String
    public var tenant: TenantID
    /// argv of the job's first process; the `process` driver runs it without a shell.
    public var command: [String]
    public var environment: [String: String]
    public var resources: ResourceRequest
    public var walltimeSeconds: Int
    /// Higher runs first within a tenant's queue; -1000…1000, default 0.
    public var priority: Int
    /// Sent by a client so that a retried submit creates the job once.
    public var idempotencyKey: String?
    /// Hard rules for where the job may run.
    public var constraints: PlacementConstraints
    /// How sites that pass the rules are ranked; nil means the coordinator's default.
    public var preference: PlacementPreference?
    /// When the job may start; nil means as soon as possible.
    public var deferral: Deferral?

    public init(
        name: String, tenant: TenantID, command: [String], environment: [String: String] = [:],
        resources: ResourceRequest, walltimeSeconds: Int, priority: Int = 0, idempotencyKey: String? = nil,
        constraints: PlacementConstraints = .none, preference: PlacementPreference? = nil, deferral: Deferral? = nil
    ) {
        self.constraints = constraints
        self.preference = preference
        self.deferral = deferral
        self.name = name
        self.tenant = tenant
        self.command = command
        self.environment = environment
        self.resources = resources
        self.walltimeSeconds = walltimeSeconds
        self.priority = priority
        self.idempotencyKey = idempotencyKey
    }

    enum CodingKeys: String, CodingKey {
        case name, tenant, command
        case environment = "env"
        case resources
        case walltimeSeconds = "walltime_seconds"
        case priority
        case idempotencyKey = "idempotency_key"
        case constraints, preference
        case deferral = "schedule"
    }

    /// Optional fields (`env`, `priority`, `idempotency_key`) may be omitted.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        tenant = try container.decode(TenantID.self, forKey: .tenant)
        command = try container.decode([String].self, forKey: .command)
        environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        resources = try container.decode(ResourceRequest.self, forKey: .resources)
        walltimeSeconds = try container.decode(Int.self, forKey: .walltimeSeconds)
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        idempotencyKey = try container.decodeIfPresent(String.self, forKey: .idempotencyKey)
        constraints = try container.decodeIfPresent(PlacementConstraints.self, forKey: .constraints) ?? .none
        preference = try container.decodeIfPresent(PlacementPreference.self, forKey: .preference)
        deferral = try container.decodeIfPresent(Deferral.self, forKey: .deferral)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(command, forKey: .command)
        try container.encode(environment, forKey: .environment)
        try container.encode(resources, forKey: .resources)
        try container.encode(walltimeSeconds, forKey: .walltimeSeconds)
        try container.encode(priority, forKey: .priority)
        try container.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        if constraints != .none { try container.encode(constraints, forKey: .constraints) }
        try container.encodeIfPresent(preference, forKey: .preference)
        try container.encodeIfPresent(deferral, forKey: .deferral)
    }
}

/// One problem with one field of an input, named by its path (`resources.count`), so that a
/// user can fix a job file or an API body without guessing.
public struct FieldError: Sendable, Hashable, Codable, CustomStringConvertible, Error {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Every problem found in one input, reported together.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [FieldError]
    public init(_ problems: [FieldError]) { self.problems = problems }
    public var description: String {
        problems.map(\.description).joined(separator: "; ")
    }
}

public enum JobLimits {
    public static let maxWalltimeSeconds = 30 * 24 * 3600
    public static let maxUnitsPerTask = 100_000
    public static let maxTasks = 10_000
    public static let maxCommandArguments = 4096
    public static let maxCommandBytes = 256 * 1024
    public static let maxEnvironmentEntries = 1024
    public static let maxNameLength = 128
    public static let maxIdempotencyKeyLength = 200
    public static let priorityRange = -1000...1000
    public static let maxClassAlternatives = 32
    public static let maxSiteListLength = 1000
    public static let maxLabelLength = 64
}

extension PlacementConstraints {
    /// Every problem, with `constraints.` paths.
    public func validate() -> [FieldError] {
        var problems: [FieldError] = []
        func problem(_ field: String, _ message: String) {
            problems.append(FieldError(field: "constraints.\(field)", message: message))
        }
        for (field, value) in [("data_zone", dataZone), ("residency", residency), ("from_region", fromRegion), ("data_region", dataRegion)] {
            if let value, value.isEmpty || value.utf8.count > JobLimits.maxLabelLength || !Identifiers.isWellFormed(value) {
                problem(field, "must be a zone or region name of letters, digits, '.', '_' or '-'")
            }
        }
        if let latency = maxLatencyMs {
            if !(0...100_000).contains(latency) { problem("max_latency_ms", "must be between 0 and 100000") }
            if fromRegion == nil { problem("from_region", "is required with max_latency_ms: latency is measured from a region") }
        }
        if let green = minGreenShareBP, !(0...10_000).contains(green) {
            problem("min_green_share_bp", "must be between 0 and 10000 basis points (0–100 %)")
        }
        if let price = maxPricePerHourFen, price < 0 { problem("max_price_per_hour_fen", "must not be negative") }
        if allowSites.count > JobLimits.maxSiteListLength { problem("allow_sites", "lists more than \(JobLimits.maxSiteListLength) sites") }
        if denySites.count > JobLimits.maxSiteListLength { problem("deny_sites", "lists more than \(JobLimits.maxSiteListLength) sites") }
        if let bad = (allowSites + denySites).first(where: { !$0.isWellFormed }) {
            problem(allowSites.contains(bad) ? "allow_sites" : "deny_sites", "\"\(bad)\" is not a site id")
        }
        if !allowSites.isEmpty, Set(allowSites).isSubset(of: Set(denySites)) {
            problem("allow_sites", "every allowed site is also denied: the job could never run")
        }
        return problems
    }
}

extension Deferral {
    /// Every problem, with `schedule.` paths.
    public func validate(walltimeSeconds: Int) -> [FieldError] {
        var problems: [FieldError] = []
        if let notBefore = notBeforeMs, notBefore < 0 {
            problems.append(FieldError(field: "schedule.not_before", message: "must be a time after 1970"))
        }
        if let deadline = deadlineMs {
            // Both come from the request and may be anywhere in Int64 / Int: compare the room
            // between them with the walltime without overflowing.
            let start = notBeforeMs ?? 0
            let (room, overflow) = deadline.subtractingReportingOverflow(start)
            if overflow ? deadline < start : room < Int64(walltimeSeconds).saturatingMultiply(1000) {
                problems.append(
                    FieldError(field: "schedule.deadline", message: "leaves less than the walltime after not_before: the job could never finish in time"))
            }
        }
        if deferrable && deadlineMs == nil {
            problems.append(FieldError(field: "schedule.deadline", message: "is required for a deferrable job: it bounds how long it may wait"))
        }
        return problems
    }
}

extension JobSpec {
    /// All problems with this spec, in field order. Empty means valid.
    public func validate() -> [FieldError] {
        var problems: [FieldError] = []
        func problem(_ field: String, _ message: String) { problems.append(FieldError(field: field, message: message)) }

        if !Identifiers.isWellFormed(name) {
            problem("name", "must be 1–\(JobLimits.maxNameLength) characters of letters, digits, '.', '_' or '-'")
        }
        if !tenant.isWellFormed {
            problem("tenant", "must be 1–\(Identifiers.maxLength) characters of letters, digits, '.', '_' or '-'")
        }
        if command.isEmpty {
            problem("command", "must name a program to run, e.g. [\"/bin/echo\", \"hello\"]")
        } else if command[0].isEmpty {
            problem("command[0]", "the program must not be empty")
        }
        if command.count > JobLimits.maxCommandArguments {
            problem("command", "has \(command.count) arguments; at most \(JobLimits.maxCommandArguments)")
        }
        if command.reduce(0, { $0 + $1.utf8.count }) > JobLimits.maxCommandBytes {
            problem("command", "is longer than \(JobLimits.maxCommandBytes) bytes")
        }
        for (index, argument) in command.enumerated() where argument.utf8.contains(0) {
            problem("command[\(index)]", "must not contain a NUL byte")
        }
        if environment.count > JobLimits.maxEnvironmentEntries {
            problem("env", "has \(environment.count) entries; at most \(JobLimits.maxEnvironmentEntries)")
        }
        for key in environment.keys.sorted() {
            if !Self.isEnvironmentName(key) {
                problem("env.\(key)", "is not a valid variable name (letters, digits and '_', not starting with a digit)")
            } else if environment[key]!.utf8.contains(0) {
                problem("env.\(key)", "must not contain a NUL byte")
            }
        }
        if resources.classes.isEmpty {
            if resources.minFP16TFLOPS == nil && resources.minMemoryGiB == nil {
                problem("resources.class", "name a class (\"ascend-910b\", \"nvidia-v100-16g|nvidia-v100-32g\") or a capability (min_fp16_tflops, min_memory_gib)")
            }
        } else {
            if resources.minFP16TFLOPS != nil || resources.minMemoryGiB != nil {
                problem("resources.class", "give either classes or a capability (min_fp16_tflops, min_memory_gib), not both")
            }
            if resources.classes.count > JobLimits.maxClassAlternatives {
                problem("resources.class", "lists \(resources.classes.count) classes; at most \(JobLimits.maxClassAlternatives)")
            }
            if let bad = resources.classes.first(where: { !$0.isWellFormedClassName }) {
                problem("resources.class", "\"\(bad)\" is not a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
            } else if Set(resources.classes).count != resources.classes.count {
                problem("resources.class", "names a class twice")
            }
        }
        if let tflops = resources.minFP16TFLOPS, !(tflops > 0 && tflops <= 1_000_000) {
            problem("resources.min_fp16_tflops", "must be a positive number of TFLOPS per unit")
        }
        if let memory = resources.minMemoryGiB, !(memory > 0 && memory <= 1_000_000) {
            problem("resources.min_memory_gib", "must be a positive number of GiB per unit")
        }
        if !(1...JobLimits.maxUnitsPerTask).contains(resources.count) {
            problem("resources.count", "must be between 1 and \(JobLimits.maxUnitsPerTask)")
        }
        if !(1...JobLimits.maxTasks).contains(resources.tasks) {
            problem("resources.tasks", "must be between 1 and \(JobLimits.maxTasks)")
        }
        if let memory = resources.memoryMiB, memory < 1 {
            problem("resources.memory_mib", "must be positive")
        }
        if !(1...JobLimits.maxWalltimeSeconds).contains(walltimeSeconds) {
            problem("walltime_seconds", "must be between 1 second and 30 days")
        }
        if !JobLimits.priorityRange.contains(priority) {
            problem("priority", "must be between \(JobLimits.priorityRange.lowerBound) and \(JobLimits.priorityRange.upperBound)")
        }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > JobLimits.maxIdempotencyKeyLength {
            problem("idempotency_key", "must be 1–\(JobLimits.maxIdempotencyKeyLength) bytes")
        }
        problems += constraints.validate()
        if let deferral {
            problems += deferral.validate(walltimeSeconds: walltimeSeconds)
        }
        return problems
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
        }
    }
}
