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

    public init(
        name: String, tenant: TenantID, command: [String], environment: [String: String] = [:],
        resources: ResourceRequest, walltimeSeconds: Int, priority: Int = 0, idempotencyKey: String? = nil
    ) {
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
        if !resources.acceleratorClass.isWellFormedClassName {
            problem("resources.class", "must be a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
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
