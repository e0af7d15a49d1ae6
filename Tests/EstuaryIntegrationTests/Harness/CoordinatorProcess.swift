import Foundation

/// A running `estuary-coordinator` and where it listens.
struct CoordinatorProcess: Sendable {
    let process: ManagedProcess
    let dataDirectory: String
    let meshPort: Int
    let apiPort: Int
    /// Mutual TLS on the mesh and HTTPS on the API (false: --insecure-dev).
    let tls: Bool
    /// Where both ports listen (another address in a network namespace of the test's).
    var host = "127.0.0.1"
    /// The bootstrap admin token the coordinator wrote on first start.
    var adminToken: String {
        (try? String(contentsOfFile: adminTokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }
    var adminTokenPath: String { "\(dataDirectory)/admin.token" }
    var caPath: String { "\(dataDirectory)/tls/ca.pem" }
    /// The API as admin.
    var api: APIClient { APIClient(baseURL: apiURL, token: adminToken, caPath: tls ? caPath : nil) }
    /// The API with another token (nil: none at all).
    func api(token: String?) -> APIClient { APIClient(baseURL: apiURL, token: token, caPath: tls ? caPath : nil) }
    var apiURL: String { "\(tls ? "https" : "http")://\(host):\(apiPort)" }
    var meshAddress: String { "\(host):\(meshPort)" }
    /// Environment for estuaryctl: address, CA and the admin token file (never a flag).
    var ctlEnvironment: [String: String] {
        var environment = ["ESTUARY_API": apiURL, "ESTUARY_TOKEN_FILE": adminTokenPath]
        if tls { environment["ESTUARY_CA"] = caPath }
        return environment
    }
}

struct CoordinatorOptions: Sendable {
    /// 0 = ephemeral; fixed ports are for tests that restart the coordinator.
    var meshPort = 0
    var apiPort = 0
    var reportInterval = "1s"
    var handshakeTimeout: String?
    var lostAfter: String?
    var logLevel = "info"
    /// Mutual TLS (the production setting) instead of --insecure-dev.
    var tls = false
    var certValidity: String?
    /// More flags for `run` (`--policy FILE` …).
    var extraArguments: [String] = []
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
            "run", "--data-dir", data,
            "--mesh-port", String(options.meshPort), "--api-port", String(options.apiPort),
            "--report-interval", options.reportInterval, "--log-level", options.logLevel,
        ]
        if let timeout = options.handshakeTimeout { arguments += ["--handshake-timeout", timeout] }
        if let lost = options.lostAfter { arguments += ["--lost-after", lost] }
        if !options.tls { arguments.append("--insecure-dev") }
        if let validity = options.certValidity { arguments += ["--cert-validity", validity] }
        arguments += options.extraArguments
        let process = try start(Binaries.coordinator, name: "coordinator", arguments: arguments)

        let ports = try await waitFor("the coordinator to write \(data)/mesh.port and api.port", timeout: .seconds(30)) { () -> (Int, Int)? in
            guard process.isRunning else { throw ExitedEarly(name: process.name, status: process.terminationStatus) }
            guard let mesh = Self.readPort("\(data)/mesh.port"), let api = Self.readPort("\(data)/api.port") else { return nil }
            return (mesh, api)
        }
        let coordinator = CoordinatorProcess(process: process, dataDirectory: data, meshPort: ports.0, apiPort: ports.1, tls: options.tls)
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
