import EstuaryModel
import Foundation

/// One simulated site for tests: its id, its single pool and the agent's data directory.
struct TestSite: Sendable {
    var id: String
    var acceleratorClass: String
    var count = 16
    var killGrace = "1s"
    var region = "test"
    var zones = ["gba"]
    /// More `[site]` keys (`green_share = 0.6`), one per line.
    var siteKeys = ""
    /// More tables at the end of the profile (`[prices.nvidia-a100]` …).
    var extraTables = ""
    /// `process`, or `slurm` (then `[driver.slurm]` is `driverTable` and the pool's `count` may
    /// be nil, left to sinfo).
    var driver = "process"
    /// More `[[pools]]` keys (`partition = "cpu"`), one per line.
    var poolKeys = ""
    /// The driver's table, replacing `[driver.process]`.
    var driverTable: String?

    static let cpu = TestSite(id: "it-guangzhou-cpu", acceleratorClass: "cpu-x86-64")
    static let ascend = TestSite(id: "it-pengcheng-ascend", acceleratorClass: "ascend-910b")
    static let gpu = TestSite(id: "it-shaoguan-gpu", acceleratorClass: "nvidia-a100")
    static let all = [cpu, ascend, gpu]

    /// A site profile (Agents/README.md) pointing at `coordinator`.
    func profile(coordinator: String, dataDirectory: String, insecureDev: Bool = true) -> String {
        """
        [site]
        id = "\(id)"
        display_name = "integration test site \(id) (simulated)"
        region = "\(region)"
        zones = [\(zones.map { "\"\($0)\"" }.joined(separator: ", "))]
        driver = "\(driver)"
        \(siteKeys)

        [coordinator]
        address = "\(coordinator)"
        insecure_dev = \(insecureDev)

        [agent]
        data_dir = "\(dataDirectory)"

        [[pools]]
        class = "\(acceleratorClass)"
        \(count > 0 ? "count = \(count)" : "")
        simulated = \(driver == "process")
        \(poolKeys)

        \(driverTable ?? "[driver.process]\nkill_grace = \"\(killGrace)\"")

        \(extraTables)
        """
    }
}

struct AgentProcess: Sendable {
    let site: TestSite
    let process: ManagedProcess
    let dataDirectory: String
}

extension TestBed {
    /// Starts an agent for `site` (its data directory survives restarts: same site, same path)
    /// and, unless told otherwise, waits until the coordinator lists the site as connected with
    /// its pool.
    ///
    /// With a TLS coordinator the site is first added (`POST /v1/sites`) unless its agent
    /// already holds a certificate, and the agent enrolls with the join token from a file.
    func startAgent(_ site: TestSite, coordinator: CoordinatorProcess, waitConnected: Bool = true) async throws -> AgentProcess {
        let data = try directory("agents/\(site.id)")
        let profile = try write(
            site.profile(coordinator: coordinator.meshAddress, dataDirectory: data, insecureDev: !coordinator.tls),
            to: "profiles/\(site.id).toml")
        var arguments = ["run", "--profile", profile, "--data-dir", data, "--coordinator", coordinator.meshAddress]
        if coordinator.tls {
            arguments += ["--ca", coordinator.caPath, "--enroll-url", coordinator.apiURL]
            if !FileManager.default.fileExists(atPath: "\(data)/tls/site.pem") {
                let token = try await addSite(site.id, coordinator: coordinator)
                arguments += ["--join-token-file", try write(token + "\n", to: "tokens/\(site.id).join")]
            }
        } else {
            arguments.append("--insecure-dev")
        }
        let process = try start(Binaries.agent, name: "agent-\(site.id)", arguments: arguments)
        let agent = AgentProcess(site: site, process: process, dataDirectory: data)
        if waitConnected { try await waitForConnected(agent, coordinator: coordinator) }
        return agent
    }

    /// `POST /v1/sites` as admin: a one-time join token for `site`.
    func addSite(_ site: String, org: String = "test-org", coordinator: CoordinatorProcess) async throws -> String {
        struct Added: Decodable {
            var join_token: String
        }
        let added: Added = try await coordinator.api.post("/v1/sites", json: ["id": site, "org": org], expect: 201)
        return added.join_token
    }

    func waitForConnected(_ agent: AgentProcess, coordinator: CoordinatorProcess, timeout: Duration = .seconds(30)) async throws {
        try await waitUntil("site \(agent.site.id) to be connected with its \(agent.site.acceleratorClass) pool", timeout: timeout) {
            guard agent.process.isRunning else { throw ExitedEarly(name: agent.process.name, status: agent.process.terminationStatus) }
            let sites = try await coordinator.api.sites()
            guard let view = sites.first(where: { $0.site.id.rawValue == agent.site.id }) else { return false }
            return view.state == .connected && view.pools.contains { $0.acceleratorClass.rawValue == agent.site.acceleratorClass }
        }
    }

    /// A coordinator and the three standard sites.
    func startMesh(options: CoordinatorOptions = CoordinatorOptions()) async throws -> (CoordinatorProcess, [AgentProcess]) {
        let coordinator = try await startCoordinator(options: options)
        var agents: [AgentProcess] = []
        for site in TestSite.all { agents.append(try await startAgent(site, coordinator: coordinator, waitConnected: false)) }
        for agent in agents { try await waitForConnected(agent, coordinator: coordinator) }
        return (coordinator, agents)
    }
}
