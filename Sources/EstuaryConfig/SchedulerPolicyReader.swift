import EstuaryModel
import EstuaryScheduler
import TOMLKit

extension SchedulerPolicy {
    /// Parses and validates a scheduler policy (the format is shown, with comments, in
    /// `Agents/policy.example.toml`). Everything is optional; what is absent keeps the defaults
    /// of ``SchedulerPolicy/init(latency:tenants:defaultTenant:defaultPreference:weights:holdTimeoutMs:reservationDepth:)``.
    /// - Throws: ``SchedulerPolicyError/syntax(line:column:message:)`` for malformed TOML,
    ///   otherwise ``SchedulerPolicyError/invalid(_:)`` with every problem found.
    public static func parse(_ text: String) throws(SchedulerPolicyError) -> SchedulerPolicy {
        try SchedulerPolicyReader.parse(text)
    }

    /// Reads and parses the policy at `path`.
    public static func load(path: String) throws(SchedulerPolicyError) -> SchedulerPolicy {
        try SchedulerPolicyReader.load(path: path)
    }
}

/// One pass over a parsed policy that collects every problem.
struct SchedulerPolicyReader: TOMLDocumentReader {
    typealias Kind = SchedulerPolicyFile
    var problems: [FieldError] = []

    private static let topLevelKeys: Set<String> = ["scheduler", "latency", "tenants", "default_tenant", "weights"]
    private static let schedulerKeys: Set<String> = ["default_preference", "hold_timeout", "reservation_depth", "same_region_latency_ms"]
    private static let latencyKeys: Set<String> = ["between", "ms"]
    private static let tenantKeys: Set<String> = ["weight", "quota"]
    private static let weightKeys: Set<String> = ["price", "start", "speed", "latency", "carbon", "spread", "locality"]
    private static let maxLatencyMs = 100_000
    private static let maxTenantWeight = 10_000

    mutating func read(_ root: TOMLTable) -> SchedulerPolicy {
        rejectUnknown(root, allowed: Self.topLevelKeys, prefix: "")
        var policy = SchedulerPolicy()
        readScheduler(root, into: &policy)
        readLatencies(root, into: &policy.latency)
        if let table = section(root, "default_tenant", required: false) {
            policy.defaultTenant = readTenant(table, path: "default_tenant")
        }
        if let tenants = section(root, "tenants", required: false) {
            for key in tenants.keys.sorted() {
                let path = "tenants.\(key)"
                let id = TenantID(rawValue: key)
                if !id.isWellFormed {
                    problem(path, "a tenant id is 1–\(Identifiers.maxLength) characters of letters, digits, '.', '_' or '-'")
                }
                guard let table = section(tenants, key, path: path, required: false) else { continue }
                policy.tenants[id] = readTenant(table, path: path)
            }
        }
        if let weights = section(root, "weights", required: false) {
            for key in weights.keys.sorted() {
                let path = "weights.\(key)"
                guard let preset = PlacementPreference(rawValue: key) else {
                    problem(path, "unknown preset; expected one of \(PlacementPreference.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                guard let table = section(weights, key, path: path, required: false) else { continue }
                let base = policy.weights[preset] ?? SchedulerPolicy.standardWeights[preset]!
                policy.weights[preset] = readWeights(table, path: path, base: base)
            }
        }
        return policy
    }

    // MARK: sections

    private mutating func readScheduler(_ root: TOMLTable, into policy: inout SchedulerPolicy) {
        guard let table = section(root, "scheduler", required: false) else { return }
        rejectUnknown(table, allowed: Self.schedulerKeys, prefix: "scheduler.")
        if let text = string(table, "default_preference", path: "scheduler.default_preference", required: false) {
            if let preference = PlacementPreference(rawValue: text) {
                policy.defaultPreference = preference
            } else {
                problem(
                    "scheduler.default_preference",
                    "must be one of \(PlacementPreference.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if let value = table["hold_timeout"] {
            // Below a second an agent on a slow link could never accept in time.
            if let duration = DurationText.duration(value), duration >= .seconds(1), duration <= .seconds(3600) {
                policy.holdTimeoutMs = DurationText.milliseconds(duration)
            } else {
                problem("scheduler.hold_timeout", "must be a duration from 1s to 1h, e.g. \"60s\", \"1500ms\" or \"5m\"")
            }
        }
        if let depth = integer(table, "reservation_depth", path: "scheduler.reservation_depth", required: false) {
            if (0...10_000).contains(depth) {
                policy.reservationDepth = depth
            } else {
                problem("scheduler.reservation_depth", "must be between 0 and 10000")
            }
        }
        if let ms = integer(table, "same_region_latency_ms", path: "scheduler.same_region_latency_ms", required: false) {
            if (0...Self.maxLatencyMs).contains(ms) {
                policy.latency.sameRegionMs = ms
            } else {
                problem("scheduler.same_region_latency_ms", "must be between 0 and \(Self.maxLatencyMs)")
            }
        }
    }

    private mutating func readLatencies(_ root: TOMLTable, into matrix: inout LatencyMatrix) {
        var seen: [Set<String>: String] = [:]
        for (path, table) in tableArray(root, "latency") {
            rejectUnknown(table, allowed: Self.latencyKeys, prefix: path + ".")
            var pair: [String]?
            if let regions = stringArray(table, "between", path: path + ".between") {
                if regions.count != 2 {
                    problem(path + ".between", "must name two regions, e.g. [\"shenzhen\", \"shaoguan\"]")
                } else if let bad = regions.first(where: { !Identifiers.isWellFormed($0) }) {
                    problem(path + ".between", "\"\(bad)\" is not a region name of letters, digits, '.', '_' or '-'")
                } else if let first = seen[Set(regions)] {
                    problem(path + ".between", "\(regions[0])–\(regions[1]) is already given by \(first)")
                } else {
                    seen[Set(regions)] = path
                    pair = regions
                }
            } else if table["between"] == nil {
                problem(path + ".between", "missing; it is required, e.g. between = [\"shenzhen\", \"shaoguan\"]")
            }
            guard let ms = integer(table, "ms", path: path + ".ms", required: true) else { continue }
            guard (0...Self.maxLatencyMs).contains(ms) else {
                problem(path + ".ms", "must be between 0 and \(Self.maxLatencyMs)")
                continue
            }
            if let pair { matrix.set(pair[0], pair[1], ms: ms) }
        }
    }

    private mutating func readTenant(_ table: TOMLTable, path: String) -> TenantPolicy {
        rejectUnknown(table, allowed: Self.tenantKeys, prefix: path + ".")
        var tenant = TenantPolicy()
        if let weight = integer(table, "weight", path: path + ".weight", required: false) {
            if (1...Self.maxTenantWeight).contains(weight) {
                tenant.weight = weight
            } else {
                problem(path + ".weight", "must be between 1 and \(Self.maxTenantWeight)")
            }
        }
        if let quotas = section(table, "quota", path: path + ".quota", required: false) {
            for key in quotas.keys.sorted() {
                let quotaPath = "\(path).quota.\(key)"
                let cls = AcceleratorClass(rawValue: key)
                if !cls.isWellFormedClassName {
                    problem(quotaPath, "must be a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
                    continue
                }
                guard let units = integer(quotas, key, path: quotaPath, required: true) else { continue }
                if units < 0 {
                    problem(quotaPath, "must be a number of units, 0 or more")
                } else {
                    tenant.quotas[cls] = units
                }
            }
        }
        return tenant
    }

    private mutating func readWeights(_ table: TOMLTable, path: String, base: ScoreWeights) -> ScoreWeights {
        rejectUnknown(table, allowed: Self.weightKeys, prefix: path + ".")
        var weights = base
        let fields: [(String, WritableKeyPath<ScoreWeights, Double>)] = [
            ("price", \.price), ("start", \.start), ("speed", \.speed), ("latency", \.latency), ("carbon", \.carbon),
            ("spread", \.spread), ("locality", \.locality),
        ]
        for (key, keyPath) in fields {
            guard let value = number(table, key, path: "\(path).\(key)", required: false) else { continue }
            if value < 0 || value > 1_000_000 {
                problem("\(path).\(key)", "must be between 0 and 1000000")
            } else {
                weights[keyPath: keyPath] = value
            }
        }
        let sum = fields.reduce(0.0) { $0 + weights[keyPath: $1.1] }
        if sum <= 0 { problem(path, "the weights must not all be 0") }
        return weights
    }
}
