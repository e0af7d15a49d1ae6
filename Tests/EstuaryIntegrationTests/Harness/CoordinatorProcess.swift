import Foundation

/// A running `estuary-coordinator` and where it listens.
struct CoordinatorProcess: Sendable {
    let process: ManagedProcess
    let dataDirectory: String
    let meshPort: Int
    let apiPort: Int
    var api: APIClient { APIClient(baseURL: apiURL) }
    var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    var meshAddress: String { "127.0.0.1:\(meshPort)" }
}

struct CoordinatorOptions: Sendable {
    /// 0 = ephemeral; fixed ports are for tests that restart the coordinator.
    var meshPort = 0
    var apiPort = 0
    var reportInterval = "1s"
    var handshakeTimeout: String?
    var lostAfter: String?
    var logLevel = "info"
}

extension TestBed {
    /// Starts a coordinator on `dataDirectory` and waits until it has written its port files
    /// and answers /readyz.
    func startCoordinator(
        dataDirectory relative: String = "coordinator", options: CoordinatorOptions = CoordinatorOptions()
    ) async throws -> CoordinatorProcess {
        let data = try directory(relative)
        // A restart on the same directory must not read the previous run's port files.
        for file in ["mesh.port", "api.port"] { try? FileManager.default.removeItem(atPath: "\(data)/\(file)") }
        var arguments = [
            "run", "--data-dir", data, "--insecure-dev",
            "--mesh-port", String(options.meshPort), "--api-port", String(options.apiPort),
            "--report-interval", options.reportInterval, "--log-level", options.logLevel,
        ]
        if let timeout = options.handshakeTimeout { arguments += ["--handshake-timeout", timeout] }
        if let lost = options.lostAfter { arguments += ["--lost-after", lost] }
        let process = try start(Binaries.coordinator, name: "coordinator", arguments: arguments)

        let ports = try await waitFor("the coordinator to write \(data)/mesh.port and api.port", timeout: .seconds(30)) { () -> (Int, Int)? in
            guard process.isRunning else { throw ExitedEarly(name: process.name, status: process.terminationStatus) }
            guard let mesh = Self.readPort("\(data)/mesh.port"), let api = Self.readPort("\(data)/api.port") else { return nil }
            return (mesh, api)
        }
        let coordinator = CoordinatorProcess(process: process, dataDirectory: data, meshPort: ports.0, apiPort: ports.1)
        try await waitUntil("the coordinator to answer /readyz with 200", timeout: .seconds(20)) { await coordinator.api.isReady() }
        return coordinator
    }

    private static func readPort(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

struct ExitedEarly: Error, CustomStringConvertible {
    var name: String
    var status: Int32?
    var description: String { "\(name) exited early with status \(status.map(String.init) ?? "?")" }
}
