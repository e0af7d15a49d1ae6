import EstuaryModel
import Foundation

/// What one `estuaryctl` run printed and how it exited.
struct CommandResult: Sendable, CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String {
        "estuaryctl \(arguments.joined(separator: " ")) → exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)"
    }
}

extension TestBed {
    /// Runs `estuaryctl` against `coordinator` as admin (address, CA and token file from the
    /// environment, as an operator would set them) to its end. `environment` adds or overrides.
    func estuaryctl(
        _ arguments: [String], coordinator: CoordinatorProcess, environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let process = try start(
            Binaries.ctl, name: "estuaryctl", arguments: arguments,
            environment: coordinator.ctlEnvironment.merging(environment) { $1 })
        let status = try await process.waitForExit(timeout: timeout)
        return CommandResult(arguments: arguments, status: status, stdout: process.stdout, stderr: process.stderr)
    }

    /// Submits every job file with `estuaryctl job submit`, `parallel` processes at a time, and
    /// returns the job ids in file order. Any submit that does not exit 0 fails the call.
    func submitAll(_ files: [String], coordinator: CoordinatorProcess, parallel: Int = 8) async throws -> [JobID] {
        struct SubmitFailed: Error, CustomStringConvertible {
            var result: CommandResult
            var description: String { "submit failed: \(result)" }
        }
        var ids = [JobID?](repeating: nil, count: files.count)
        try await withThrowingTaskGroup(of: (Int, JobID).self) { group in
            var next = 0
            func launch() {
                let index = next
                next += 1
                group.addTask {
                    let result = try await self.estuaryctl(["job", "submit", files[index]], coordinator: coordinator)
                    let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    guard result.status == 0, JobID(rawValue: id).isWellFormed else { throw SubmitFailed(result: result) }
                    return (index, JobID(rawValue: id))
                }
            }
            while next < min(parallel, files.count) { launch() }
            while let (index, id) = try await group.next() {
                ids[index] = id
                if next < files.count { launch() }
            }
        }
        return ids.map { $0! }
    }
}

/// A job file (the TOML `estuaryctl job submit` reads) for a `/bin/sh -c` script.
struct TestJob: Sendable {
    var name: String
    var script: String
    var acceleratorClass: String
    var count = 1
    var tasks = 1
    var walltime = "5m"
    var environment: [String: String] = [:]
    var tenant = "integration"
    /// More top-level keys (`preference = "cheapest"`), one per line.
    var topLevel = ""
    /// More `[resources]` keys (`min_fp16_tflops = 250`); `acceleratorClass` empty omits `class`.
    var resourceKeys = ""
    /// More tables at the end (`[constraints]` …).
    var extraTables = ""

    var toml: String {
        var text = """
            name = "\(name)"
            tenant = "\(tenant)"
            command = ["/bin/sh", "-c", \(Self.quoted(script))]
            walltime = "\(walltime)"
            \(topLevel)

            [resources]
            \(acceleratorClass.isEmpty ? "" : "class = \"\(acceleratorClass)\"")
            count = \(count)
            tasks = \(tasks)
            \(resourceKeys)

            """
        if !environment.isEmpty {
            text += "\n[env]\n"
            for (key, value) in environment.sorted(by: { $0.key < $1.key }) { text += "\(key) = \(Self.quoted(value))\n" }
        }
        if !extraTables.isEmpty { text += "\n" + extraTables + "\n" }
        return text
    }

    /// A TOML basic string.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}

extension TestBed {
    /// Writes `job` to `jobs/<name>.toml` and returns the path.
    func write(_ job: TestJob) throws -> String {
        try write(job.toml, to: "jobs/\(job.name).toml")
    }
}
