import EstuaryConfig
import EstuaryModel
import Testing

private let validProfile = """
    [site]
    id = "pengcheng-dev"
    display_name = "Pengcheng style Ascend pool (simulated)"
    region = "shenzhen"
    zones = ["gba", "mainland"]
    driver = "process"
    [coordinator]
    address = "127.0.0.1:7401"
    insecure_dev = true
    [agent]
    data_dir = "pengcheng"
    [[pools]]
    class = "ascend-910b"
    count = 64
    simulated = true
    [[pools]]
    class = "cpu-x86-64"
    count = 16
    [driver.process]
    max_concurrent_jobs = 8
    kill_grace = "500ms"
    """

/// A valid profile with one line replaced (or appended when `replacing` is nil).
private func variant(_ replacing: String?, with line: String) -> String {
    guard let replacing else { return validProfile + "\n" + line }
    precondition(validProfile.contains(replacing), "no line \(replacing)")
    return validProfile.replacing(replacing, with: line)
}

@Suite("Site profiles")
struct SiteProfileTests {
    @Test("a complete profile parses into every field")
    func parsesValidProfile() throws {
        let profile = try SiteProfile.parse(validProfile)
        #expect(profile.site.id == "pengcheng-dev")
        #expect(profile.site.zones == ["gba", "mainland"])
        #expect(profile.coordinator.address == CoordinatorAddress(host: "127.0.0.1", port: 7401))
        #expect(profile.coordinator.insecureDev)
        #expect(profile.agent.dataDir == "pengcheng")
        #expect(profile.pools.map(\.acceleratorClass) == ["ascend-910b", "cpu-x86-64"])
        #expect(profile.pools.map(\.count) == [64, 16])
        #expect(profile.pools[1].simulated, "process-driver pools default to simulated")
        #expect(profile.processDriver.maxConcurrentJobs == 8)
        #expect(profile.processDriver.killGrace == .milliseconds(500))
    }

    @Test(
        "a bad field is reported by its path",
        arguments: [
            ("count = 16", "count = 0", "pools[1].count", "must be a positive integer"),
            ("count = 16", "count = \"many\"", "pools[1].count", "expected an integer"),
            ("count = 64", "count = -3", "pools[0].count", "must be a positive integer"),
            ("class = \"cpu-x86-64\"", "class = \"ascend-910b\"", "pools[1].class", "already defined by pools[0]"),
            ("class = \"cpu-x86-64\"", "class = \"CPU x86\"", "pools[1].class", "catalog class name"),
            ("id = \"pengcheng-dev\"", "id = \"bad id/\"", "site.id", "letters, digits"),
            ("driver = \"process\"", "driver = \"kubernetes\"", "site.driver", "not supported"),
            ("address = \"127.0.0.1:7401\"", "address = \"127.0.0.1:99999\"", "coordinator.address", "host:port"),
            ("kill_grace = \"500ms\"", "kill_grace = \"soon\"", "driver.process.kill_grace", "duration"),
            ("max_concurrent_jobs = 8", "max_concurrent_jobs = 0", "driver.process.max_concurrent_jobs", "positive"),
            ("simulated = true", "simulated = false", "pools[0].simulated", "cannot drive real accelerators"),
            ("insecure_dev = true", "insecure_dev = \"yes\"", "coordinator.insecure_dev", "true or false"),
            ("region = \"shenzhen\"", "regoin = \"shenzhen\"", "site.regoin", "unknown key"),
        ] as [(String, String, String, String)]
    )
    func reportsFieldProblem(original: String, replacement: String, field: String, message: String) {
        let problems = problemsOf(variant(original, with: replacement))
        #expect(
            problems.contains { $0.field == field && $0.message.contains(message) },
            "expected \(field): …\(message)…, got \(problems)"
        )
    }

    @Test("unknown keys and sections are rejected")
    func rejectsUnknownKeys() {
        let problems = problemsOf(variant(nil, with: "[telemetry]\nenabled = true"))
        #expect(problems.contains { $0.field == "telemetry" && $0.message.contains("unknown key") })
        let inPool = problemsOf(variant("count = 64", with: "count = 64\nmemory = 1"))
        #expect(inPool.contains { $0.field == "pools[0].memory" })
    }

    @Test("every problem is reported together")
    func reportsAllProblems() {
        let text = """
            [site]
            id = ""
            region = "x"
            [coordinator]
            address = "nope:port"
            [[pools]]
            class = "gpu"
            count = 0
            """
        let fields = Set(problemsOf(text).map(\.field))
        #expect(fields.isSuperset(of: ["site.id", "site.display_name", "coordinator.address", "pools[0].count"]))
    }

    @Test("missing sections are named")
    func missingSections() {
        let fields = Set(problemsOf("").map(\.field))
        #expect(fields == ["site", "coordinator", "pools"])
    }

    @Test("malformed TOML reports its line")
    func syntaxError() {
        do {
            _ = try SiteProfile.parse("[site\nid = 1")
            Issue.record("malformed TOML was accepted")
        } catch {
            guard case .syntax(let line, _, _) = error else {
                Issue.record("expected a syntax error, got \(error)")
                return
            }
            #expect(line >= 1)
        }
    }

    @Test(
        "coordinator addresses parse as host and port",
        arguments: [
            ("127.0.0.1:7401", CoordinatorAddress(host: "127.0.0.1", port: 7401)),
            ("coord.example", CoordinatorAddress(host: "coord.example", port: 7401)),
            ("[::1]:9000", CoordinatorAddress(host: "::1", port: 9000)),
            ("host:0", nil), ("", nil), ("a:b:c", nil), ("[::1", nil),
        ] as [(String, CoordinatorAddress?)]
    )
    func addressParsing(text: String, expected: CoordinatorAddress?) {
        #expect(CoordinatorAddress.parse(text) == expected)
    }

    @Test("a relative data_dir is resolved against the data root, then the current directory")
    func dataDirectoryResolution() {
        let relative = AgentSettings(dataDir: "site-a")
        #expect(relative.resolvedDataDirectory(root: "/tmp/mesh", currentDirectory: "/home/x") == "/tmp/mesh/site-a")
        #expect(relative.resolvedDataDirectory(root: nil, currentDirectory: "/home/x") == "/home/x/site-a")
        let absolute = AgentSettings(dataDir: "/var/lib/a")
        #expect(absolute.resolvedDataDirectory(root: "/tmp/mesh", currentDirectory: "/") == "/var/lib/a")
    }

    @Test("the dev profiles in Agents/dev are valid", arguments: ["pengcheng-ascend", "guangzhou-cpu", "shaoguan-gpu"])
    func devProfilesAreValid(name: String) throws {
        let path = repositoryRoot() + "/Agents/dev/\(name).toml"
        let profile = try SiteProfile.load(path: path)
        let allSimulated = profile.pools.allSatisfy { $0.simulated }
        #expect(allSimulated)
        #expect(profile.site.displayName.contains("simulated"))
    }

    @Test("the documented site profiles in Agents/sites are valid", arguments: [
        "guangzhou-supercomputer", "pengcheng-ascend-cloud", "shaoguan-gpu-datacenter", "small-cpu-site",
    ])
    func siteProfilesAreValid(name: String) throws {
        let profile = try SiteProfile.load(path: repositoryRoot() + "/Agents/sites/\(name).toml")
        #expect(profile.pools.allSatisfy { !$0.simulated }, "real sites: nothing simulated")
        #expect(!profile.site.zones.isEmpty)
        if profile.usesSlurm {
            #expect(profile.pools.allSatisfy { $0.partition != nil })
            #expect(profile.pools.allSatisfy { $0.acceleratorClass.rawValue.hasPrefix("cpu-") == ($0.gres == nil) })
        }
    }

    @Test("a Slurm profile: partitions and GRES per pool, counts left to sinfo, every [driver.slurm] key")
    func slurmProfile() throws {
        let profile = try SiteProfile.parse(slurmSite + """
            [[pools]]
            class = "cpu-x86-64"
            partition = "cpu"
            [[pools]]
            class = "nvidia-a100"
            partition = "gpu"
            gres = "gpu:a100"
            count = 16
            [driver.slurm]
            accounting = "jobcomp"
            capacity = "pool"
            bin_dir = "/opt/slurm/bin"
            work_dir = "/lustre/estuary"
            account = "fed"
            qos = "normal"
            poll_interval = "2s"
            command_timeout = "20s"
            unrunnable_grace = "5m"
            accounting_grace = "10m"
            max_concurrent_jobs = 100
            """)
        #expect(profile.usesSlurm)
        #expect(profile.pools == [
            PoolDefinition(acceleratorClass: "cpu-x86-64", count: 0, simulated: false, partition: "cpu"),
            PoolDefinition(acceleratorClass: "nvidia-a100", count: 16, simulated: false, partition: "gpu", gres: "gpu:a100"),
        ])
        var expected = SlurmDriverSettings()
        expected.accounting = .jobcomp
        expected.capacity = .pool
        expected.binDirectory = "/opt/slurm/bin"
        expected.workDirectory = "/lustre/estuary"
        expected.account = "fed"
        expected.qos = "normal"
        expected.pollInterval = .seconds(2)
        expected.commandTimeout = .seconds(20)
        expected.unrunnableGrace = .seconds(300)
        expected.accountingGrace = .seconds(600)
        expected.maxConcurrentJobs = 100
        #expect(profile.slurmDriver == expected)
    }

    @Test("Slurm settings are checked: partition required, GRES for accelerators, no simulation, no Slurm keys on a process site")
    func slurmProblems() {
        let slurm = slurmSite + """
            [[pools]]
            class = "nvidia-a100"
            simulated = true
            gres = "gpu:a100:8"
            [driver.slurm]
            accounting = "mysql"
            capacity = "all"
            work_dir = "relative/path"
            poll_interval = "0s"
            account = "a b"
            """
        let problems = Set(problemsOf(slurm).map(\.field))
        #expect(problems == [
            "pools[0].partition", "pools[0].simulated", "pools[0].gres", "driver.slurm.accounting", "driver.slurm.capacity", "driver.slurm.work_dir",
            "driver.slurm.poll_interval", "driver.slurm.account",
        ])
        let noGRES = slurm.replacing("gres = \"gpu:a100:8\"", with: "partition = \"gpu\"").replacing("simulated = true", with: "")
        #expect(problemsOf(noGRES).map(\.field).contains("pools[0].gres"), "an accelerator pool on Slurm needs its GRES")
        let processSite = Set(problemsOf(variant("count = 16", with: "count = 16\npartition = \"cpu\"") + "\n[driver.slurm]\n").map(\.field))
        #expect(processSite == ["pools[1].partition", "driver.slurm"])
    }

    /// The `[site]` and `[coordinator]` of a Slurm site, to which a test adds pools and settings.
    private let slurmSite = """
        [site]
        id = "gz"
        display_name = "Guangzhou"
        region = "guangzhou"
        driver = "slurm"
        [coordinator]
        address = "127.0.0.1:7401"

        """

    private func problemsOf(_ text: String) -> [FieldError] {
        do {
            _ = try SiteProfile.parse(text)
            return []
        } catch {
            return error.problems
        }
    }
}
