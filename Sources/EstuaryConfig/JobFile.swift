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
/// [resources]
/// class = "ascend-910b"
/// count = 8                  # units per task, default 1
/// tasks = 2                  # default 1
/// memory_mib = 65536         # optional
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

    mutating func read(_ root: TOMLTable) throws(JobFileError) -> JobSpec {
        rejectUnknownKeys(in: root, allowed: JobFileKeys.topLevel, prefix: "")
        let name = string(root, "name", path: "name", example: #"name = "resnet-train""#)
        let tenant = string(root, "tenant", path: "tenant", example: #"tenant = "pengcheng-lab""#)
        let command = stringArray(root, "command", path: "command")
        let walltime = walltimeSeconds(root)
        let priority = integer(root, "priority", path: "priority")
        let idempotencyKey = string(root, "idempotency_key", path: "idempotency_key", example: nil)
        let resources = readResources(root)
        let environment = readEnvironment(root)

        let spec = JobSpec(
            name: name ?? "", tenant: TenantID(rawValue: tenant ?? ""), command: command ?? [],
            environment: environment, resources: resources, walltimeSeconds: walltime ?? 0,
            priority: priority ?? 0, idempotencyKey: idempotencyKey
        )
        for problem in spec.validate() {
            let field = problem.field.replacing("walltime_seconds", with: "walltime")
            if !isBroken(field) { problems.append(FieldError(field: field, message: problem.message)) }
        }
        guard problems.isEmpty else { throw .invalid(ordered(problems)) }
        return spec
    }

    // MARK: sections

    private mutating func readResources(_ root: TOMLTable) -> ResourceRequest {
        var request = ResourceRequest(acceleratorClass: "")
        guard let value = root["resources"] else {
            missing("resources", example: "a [resources] section with at least class = \"cpu-x86-64\"")
            return request
        }
        guard let table = value.table else {
            wrongType("resources", expected: "a table", found: value, hint: "write a [resources] section")
            return request
        }
        rejectUnknownKeys(in: table, allowed: JobFileKeys.resources, prefix: "resources.")
        if let name = string(table, "class", path: "resources.class", example: #"class = "ascend-910b""#) {
            request.acceleratorClass = AcceleratorClass(rawValue: name)
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

    private mutating func string(_ table: TOMLTable, _ key: String, path: String, example: String?) -> String? {
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

    private mutating func integer(_ table: TOMLTable, _ key: String, path: String) -> Int? {
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

    private mutating func rejectUnknownKeys(in table: TOMLTable, allowed: [String], prefix: String) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            var message = "unknown key"
            if let guess = JobFileKeys.suggestion(for: key, among: allowed) { message += "; did you mean \"\(guess)\"?" }
            problems.append(FieldError(field: prefix + key, message: message))
        }
    }

    private mutating func missing(_ path: String, example: String) {
        broken(path, "is required, e.g. \(example)")
    }

    private mutating func wrongType(_ path: String, expected: String, found value: any TOMLValueConvertible, hint: String?) {
        var message = "expected \(expected), found \(Self.describe(value.type))"
        if let hint { message += "; \(hint)" }
        broken(path, message)
    }

    private mutating func broken(_ path: String, _ message: String) {
        brokenFields.insert(path)
        problems.append(FieldError(field: path, message: message))
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

    static func describe(_ type: TOMLType) -> String {
        switch type {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
