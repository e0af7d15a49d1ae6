#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A real estuary-coordinator on loopback with a fresh data directory, started for one run.
struct CoordinatorProcess {
    let process: ChildProcess
    let dataDirectory: String
    let meshPort: Int
    let apiPort: Int
    let arguments: [String]

    var pid: pid_t { process.pid }

    /// Starts the coordinator and waits until both port files exist (it is listening then).
    static func start(
        binary: String, workDirectory: String, label: String, reportInterval: String, reaper: ChildReaper,
        extraArguments: [String] = []
    ) async throws -> CoordinatorProcess {
        let dataDirectory = (workDirectory as NSString).appendingPathComponent(label)
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let arguments =
            [
                "run", "--data-dir", dataDirectory, "--insecure-dev", "--mesh-port", "0", "--api-port", "0",
                "--report-interval", reportInterval,
            ] + extraArguments
        let process = try ChildProcess.spawn(
            binary, arguments: arguments, logPath: dataDirectory + ".log", reaper: reaper)
        let mesh = try await waitForPortFile(dataDirectory, "mesh.port", process: process)
        let api = try await waitForPortFile(dataDirectory, "api.port", process: process)
        return CoordinatorProcess(process: process, dataDirectory: dataDirectory, meshPort: mesh, apiPort: api, arguments: arguments)
    }

    static func waitForPortFile(_ directory: String, _ name: String, process: ChildProcess, timeout: Duration = .seconds(60))
        async throws -> Int
    {
        let path = (directory as NSString).appendingPathComponent(name)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), port > 0
            {
                return port
            }
            if process.hasExited {
                throw BenchError.setup("\(process.name) exited before writing \(name):\n\(process.logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError.setup("\(process.name) did not write \(path) within \(timeout):\n\(process.logTail())")
    }

    /// The bootstrap admin API token (`<data-dir>/admin.token`, written before the port files).
    func adminToken() throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent("admin.token")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else {
            throw BenchError.setup("no admin token in \(path)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Lines of the coordinator's log at warning level or above, counted by kind, for the report.
    func logProblems() -> [String: Int] {
        guard let text = try? String(contentsOfFile: process.logPath, encoding: .utf8) else { return [:] }
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            // swift-log's stream format: "<time> <level> <label>: <metadata> [<module>] <message>".
            let words = line.split(separator: " ", maxSplits: 2)
            guard words.count == 3, ["warning", "error", "critical"].contains(String(words[1])) else { continue }
            if line.contains("INSECURE DEV MODE") { continue }  // expected: the benchmarks run --insecure-dev
            let message = line.range(of: "] ").map { String(line[$0.upperBound...]) } ?? String(words[2])
            counts["\(words[1]): \(message.prefix(70))", default: 0] += 1
        }
        return counts
    }
}

/// A temporary working directory for one benchmark invocation, removed at the end unless kept.
struct BenchWorkDirectory {
    let path: String

    static func make(root: String?, prefix: String) throws -> BenchWorkDirectory {
        let base = root ?? NSTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var template = Array(((base as NSString).appendingPathComponent("\(prefix)-XXXXXX")).utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError.setup("cannot create a temporary directory under \(base)")
        }
        return BenchWorkDirectory(path: String(cString: made))
    }

    func remove(keep: Bool) {
        if keep {
            FileHandle.standardError.write(Data("estuary-bench: kept \(path)\n".utf8))
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
