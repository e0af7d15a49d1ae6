import EstuaryModel
import TOMLKit

/// Job files: the TOML a user writes and `estuaryctl job submit` sends.
///
/// ```toml
/// name = "resnet-train"
/// tenant = "pengcheng-lab"
/// command = ["/bin/sh", "-c", "python train.py"]
/// walltime = "2h"            # or seconds (7200), "1h30m", "HH:MM:SS"
/// priority = 0               # optional, -1000…1000
/// idempotency_key = "..."    # optional
/// preference = "cheapest"   # optional: cheapest | fastest | greenest | balanced
/// [resources]
/// class = "ascend-910b"      # or "nvidia-a100|nvidia-a800", or omit it and give
///                            # min_fp16_tflops / min_memory_gib (a capability)
/// count = 8                  # units per task, default 1
/// tasks = 2                  # default 1
/// memory_mib = 65536         # optional
/// [constraints]              # optional, see JobFile+Placement.swift
/// residency = "mainland"
/// [schedule]                 # optional
/// deadline = 2026-11-24T09:00:00+08:00
/// [env]
/// EPOCHS = "10"
/// ```
///
/// Unknown keys are rejected (they are usually typos that would silently change the job), and
/// every problem is reported with its field path, together, before ``JobSpec/validate()``'s
/// checks, which are reported under the file's own key names (`walltime`, not `walltime_seconds`).
public enum JobFile {
    /// Parses and validates a job file.
    /// - Throws: ``JobFileError/syntax(line:column:message:)`` for malformed TOML, otherwise
    ///   ``JobFileError/invalid(_:)`` with every problem found.
    public static func parse(_ text: String) throws(JobFileError) -> JobSpec {
        let root: TOMLTable
        do {
            root = try TOMLText.parse(text)
        } catch {
            throw .syntax(line: error.line, column: error.column, message: error.message)
        }
        var reader = JobFileReader()
        return try reader.read(root)
    }
}

/// One pass over a parsed job file that collects every problem instead of stopping at the first.
struct JobFileReader {
    private(set) var problems: [FieldError] = []
    /// Fields that are missing or of the wrong type; validation problems about them would only
    /// repeat what is already said, so they are dropped.
    private var brokenFields: Set<String> = []
    /// `max_price_per_hour_fen` was used, so validation names that key.
    var priceGivenInFen = false

    mutating func read(_ root: TOMLTable) throws(JobFileError) -> JobSpec {
        rejectUnknownKeys(in: root, allowed: JobFileKeys.topLevel, prefix: "")
        let name = string(root, "name", path: "name", example: #"name = "resnet-train""#)
        let tenant = string(root, "tenant", path: "tenant", example: #"tenant = "pengcheng-lab""#)
        let command = stringArray(root, "command", path: "command")
        let walltime = walltimeSeconds(root)
        let priority = integer(root, "priority", path: "priority")
        let idempotencyKey = string(root, "idempotency_key", path: "idempotency_key", example: nil)
        let preference = readPreference(root)
        let resources = readResources(root)
        let constraints = readConstraints(root)
        let deferral = readSchedule(root)
        let environment = readEnvironment(root)

        let spec = JobSpec(
            name: name ?? "", tenant: TenantID(rawValue: tenant ?? ""), command: command ?? [],
            environment: environment, resources: resources, walltimeSeconds: walltime ?? 0,
            priority: priority ?? 0, idempotencyKey: idempotencyKey, constraints: constraints,
            preference: preference, deferral: deferral
        )
        for problem in spec.validate() {
            let problem = inFileTerms(problem)
            if !isBroken(problem.field) { problems.append(problem) }
        }
        guard problems.isEmpty else { throw .invalid(ordered(problems)) }
        return spec
    }

    // MARK: sections

    private mutating func readResources(_ root: TOMLTable) -> ResourceRequest {
        var request = ResourceRequest(classes: [])
        guard let value = root["resources"] else {
            missing("resources", example: "a [resources] section with at least class = \"cpu-x86-64\"")
            return request
        }
        guard let table = value.table else {
            wrongType("resources", expected: "a table", found: value, hint: "write a [resources] section")
            return request
        }
        rejectUnknownKeys(in: table, allowed: JobFileKeys.resources, prefix: "resources.")
        request.classes = classList(table)
        request.minFP16TFLOPS = number(table, "min_fp16_tflops", path: "resources.min_fp16_tflops")
        request.minMemoryGiB = number(table, "min_memory_gib", path: "resources.min_memory_gib")
        if table["class"] == nil, table["min_fp16_tflops"] == nil, table["min_memory_gib"] == nil {
            missing(
                "resources.class",
                example: #"class = "ascend-910b" or class = "nvidia-a100|nvidia-a800", or a capability: min_fp16_tflops = 300, min_memory_gib = 64"#)
        } else if request.classes.isEmpty, request.minFP16TFLOPS == nil, request.minMemoryGiB == nil {
            // What was given is already reported as unreadable; "name a class" would only repeat it.
            brokenFields.insert("resources.class")
        }
        if let count = integer(table, "count", path: "resources.count") { request.count = count }
        if let tasks = integer(table, "tasks", path: "resources.tasks") { request.tasks = tasks }
        request.memoryMiB = integer(table, "memory_mib", path: "resources.memory_mib")
        return request
    }

    private mutating func readEnvironment(_ root: TOMLTable) -> [String: String] {
        guard let value = root["env"] else { return [:] }
        guard let table = value.table else {
            wrongType("env", expected: "a table", found: value, hint: "write an [env] section of NAME = \"value\" lines")
            return [:]
        }
        var environment: [String: String] = [:]
        for key in table.keys {
            guard let entry = table[key] else { continue }
            if let text = entry.string {
                environment[key] = text
            } else {
                let hint = entry.table == nil && entry.array == nil ? "quote it: \(key) = \"\(entry.debugDescription)\"" : nil
                wrongType("env.\(key)", expected: "a string", found: entry, hint: hint)
            }
        }
        return environment
    }

    private mutating func walltimeSeconds(_ root: TOMLTable) -> Int? {
        guard let value = root["walltime"] else {
            missing("walltime", example: #"walltime = "2h""#)
            return nil
        }
        if let seconds = value.int { return seconds }
        guard let text = value.string else {
            wrongType("walltime", expected: "a duration string or an integer number of seconds", found: value, hint: nil)
            return nil
        }
        guard let seconds = WalltimeParser.seconds(from: text) else {
            broken("walltime", "cannot read \"\(text)\" as a duration; write seconds (7200), \"2h\", \"1h30m\", \"90s\" or \"HH:MM:SS\"")
            return nil
        }
        return seconds
    }

    // MARK: typed values

    mutating func string(_ table: TOMLTable, _ key: String, path: String, example: String?) -> String? {
        guard let value = table[key] else {
            if let example { missing(path, example: example) }
            return nil
        }
        guard let text = value.string else {
            wrongType(path, expected: "a string", found: value, hint: nil)
            return nil
        }
        return text
    }

    mutating func integer(_ table: TOMLTable, _ key: String, path: String) -> Int? {
        guard let value = table[key] else { return nil }
        guard let number = value.int else {
            wrongType(path, expected: "an integer", found: value, hint: nil)
            return nil
        }
        return number
    }

    private mutating func stringArray(_ table: TOMLTable, _ key: String, path: String) -> [String]? {
        guard let value = table[key] else {
            missing(path, example: #"command = ["/bin/echo", "hello"]"#)
            return nil
        }
        guard let array = value.array else {
            let hint = value.string != nil ? #"write command = ["/bin/sh", "-c", "…"] to run it through a shell"# : nil
            wrongType(path, expected: "an array of strings", found: value, hint: hint)
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else {
                wrongType("\(path)[\(index)]", expected: "a string", found: element, hint: nil)
                continue
            }
            result.append(text)
        }
        return result
    }

    // MARK: problems

    mutating func rejectUnknownKeys(in table: TOMLTable, allowed: [String], prefix: String) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            var message = "unknown key"
            if let guess = JobFileKeys.suggestion(for: key, among: allowed) { message += "; did you mean \"\(guess)\"?" }
            problems.append(FieldError(field: prefix + key, message: message))
        }
    }

    mutating func missing(_ path: String, example: String) {
        broken(path, "is required, e.g. \(example)")
    }

    mutating func wrongType(_ path: String, expected: String, found value: any TOMLValueConvertible, hint: String?) {
        var message = "expected \(expected), found \(Self.describe(value.type))"
        if let hint { message += "; \(hint)" }
        broken(path, message)
    }

    mutating func broken(_ path: String, _ message: String) {
        brokenFields.insert(path)
        problems.append(FieldError(field: path, message: message))
    }

    /// A validation problem named by the job file's keys: `walltime`, not `walltime_seconds`;
    /// `min_green_share` as the 0…1 fraction the file gives; the price by the key that was used.
    private func inFileTerms(_ problem: FieldError) -> FieldError {
        switch problem.field {
        case "walltime_seconds":
            return FieldError(field: "walltime", message: problem.message)
        case "constraints.min_green_share_bp", "constraints.min_green_share":
            return FieldError(field: "constraints.min_green_share", message: "must be between 0 and 1")
        case "constraints.max_price_per_hour_fen", "constraints.max_price_per_hour":
            let key = priceGivenInFen ? "constraints.max_price_per_hour_fen" : "constraints.max_price_per_hour"
            return FieldError(field: key, message: problem.message)
        default:
            return problem
        }
    }

    private func isBroken(_ field: String) -> Bool {
        brokenFields.contains { field == $0 || field.hasPrefix($0 + ".") || field.hasPrefix($0 + "[") }
    }

    /// Problems grouped by top-level key in the order the keys appear in a job file.
    private func ordered(_ problems: [FieldError]) -> [FieldError] {
        func rank(_ problem: FieldError) -> Int {
            let root = problem.field.prefix { $0 != "." && $0 != "[" }
            return JobFileKeys.topLevel.firstIndex(of: String(root)) ?? JobFileKeys.topLevel.count
        }
        return problems.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
    }

    static func describe(_ type: TOMLType) -> String { type.phrase }
}
