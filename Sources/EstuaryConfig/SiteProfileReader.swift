import EstuaryModel
import TOMLKit

extension SiteProfile {
    /// Parses and validates a site profile.
    /// - Throws: ``SiteProfileError/syntax(line:column:message:)`` for malformed TOML, otherwise
    ///   ``SiteProfileError/invalid(_:)`` with every problem found.
    public static func parse(_ text: String) throws(SiteProfileError) -> SiteProfile {
        try SiteProfileReader.parse(text)
    }

    /// Reads and parses the profile at `path`.
    public static func load(path: String) throws(SiteProfileError) -> SiteProfile {
        try SiteProfileReader.load(path: path)
    }
}

/// One pass over a parsed profile that collects every problem instead of stopping at the first.
struct SiteProfileReader: TOMLDocumentReader {
    typealias Kind = SiteProfileFile
    var problems: [FieldError] = []

    private static let topLevelKeys: Set<String> = ["site", "coordinator", "agent", "pools", "driver", "prices", "tariff"]
    private static let siteKeys: Set<String> = Set(["id", "display_name", "region", "zones", "driver"]).union(energyKeys)
    private static let coordinatorKeys: Set<String> = ["address", "insecure_dev", "ca", "enroll_url", "server_name"]
    private static let agentKeys: Set<String> = ["data_dir"]
    private static let poolKeys: Set<String> = ["class", "count", "simulated", "partition", "gres"]
    private static let driverKeys: Set<String> = ["process", "slurm"]
    private static let processKeys: Set<String> = ["max_concurrent_jobs", "kill_grace"]
    private static let slurmKeys: Set<String> = [
        "accounting", "capacity", "bin_dir", "work_dir", "account", "qos", "poll_interval", "command_timeout", "unrunnable_grace",
        "accounting_grace", "max_concurrent_jobs",
    ]

    mutating func read(_ root: TOMLTable) -> SiteProfile {
        rejectUnknown(root, allowed: Self.topLevelKeys, prefix: "")
        let site = readSite(root)
        let coordinator = readCoordinator(root)
        let agent = readAgent(root)
        let pools = readPools(root, driver: site.driver)
        let process = readProcessDriver(root)
        let slurm = readSlurmDriver(root, used: site.driver == "slurm")
        var described = site
        if let table = root["site"]?.table {
            described.energy = readEnergy(table)
            described.priceBook = readPriceBook(root, site: table, pools: pools)
        }
        return SiteProfile(site: described, coordinator: coordinator, agent: agent, pools: pools, processDriver: process, slurmDriver: slurm)
    }

    // MARK: sections

    private mutating func readSite(_ root: TOMLTable) -> SiteDescriptor {
        var site = SiteDescriptor(id: "", displayName: "", region: "", zones: [], driver: "process")
        guard let table = section(root, "site", required: true) else { return site }
        rejectUnknown(table, allowed: Self.siteKeys, prefix: "site.")
        if let id = string(table, "id", path: "site.id", required: true) {
            site.id = SiteID(rawValue: id)
            if !site.id.isWellFormed {
                problem("site.id", "must be 1–\(Identifiers.maxLength) characters of letters, digits, '.', '_' or '-'")
            }
        }
        if let name = string(table, "display_name", path: "site.display_name", required: true) {
            if name.isEmpty { problem("site.display_name", "must not be empty") }
            site.displayName = name
        }
        if let region = string(table, "region", path: "site.region", required: true) {
            if region.isEmpty { problem("site.region", "must not be empty, e.g. \"shenzhen\"") }
            site.region = region
        }
        site.zones = stringArray(table, "zones", path: "site.zones") ?? []
        for (index, zone) in site.zones.enumerated() where zone.isEmpty {
            problem("site.zones[\(index)]", "must not be empty")
        }
        if let driver = string(table, "driver", path: "site.driver", required: false) {
            site.driver = driver
            if !SiteProfile.supportedDrivers.contains(driver) {
                problem("site.driver", "\"\(driver)\" is not supported by this agent; use \"process\" or \"slurm\"")
            }
        }
        return site
    }

    private mutating func readCoordinator(_ root: TOMLTable) -> CoordinatorSettings {
        var settings = CoordinatorSettings(address: CoordinatorAddress(host: "127.0.0.1", port: CoordinatorAddress.defaultPort))
        guard let table = section(root, "coordinator", required: true) else { return settings }
        rejectUnknown(table, allowed: Self.coordinatorKeys, prefix: "coordinator.")
        if let address = string(table, "address", path: "coordinator.address", required: true) {
            if let parsed = CoordinatorAddress.parse(address) {
                settings.address = parsed
            } else {
                problem("coordinator.address", "must be host:port, e.g. \"127.0.0.1:7401\"")
            }
        }
        settings.insecureDev = bool(table, "insecure_dev", path: "coordinator.insecure_dev") ?? false
        settings.caFile = string(table, "ca", path: "coordinator.ca", required: false)
        if let url = string(table, "enroll_url", path: "coordinator.enroll_url", required: false) {
            if url.hasPrefix("https://") || url.hasPrefix("http://") {
                settings.enrollURL = url
            } else {
                problem("coordinator.enroll_url", "must be the coordinator's API URL, e.g. \"https://coordinator:7400\"")
            }
        }
        settings.serverName = string(table, "server_name", path: "coordinator.server_name", required: false)
        return settings
    }

    private mutating func readAgent(_ root: TOMLTable) -> AgentSettings {
        var settings = AgentSettings()
        guard let table = section(root, "agent", required: false) else { return settings }
        rejectUnknown(table, allowed: Self.agentKeys, prefix: "agent.")
        if let dataDir = string(table, "data_dir", path: "agent.data_dir", required: false) {
            if dataDir.isEmpty { problem("agent.data_dir", "must not be empty") }
            settings.dataDir = dataDir
        }
        return settings
    }

    private mutating func readPools(_ root: TOMLTable, driver: String) -> [PoolDefinition] {
        guard let value = root["pools"] else {
            problem("pools", "at least one [[pools]] entry is required, e.g. class = \"cpu-x86-64\", count = 8")
            return []
        }
        guard let array = value.array else {
            problem("pools", "expected an array of tables ([[pools]]), found \(value.type)")
            return []
        }
        if array.isEmpty { problem("pools", "at least one [[pools]] entry is required") }
        var pools: [PoolDefinition] = []
        var seen: [AcceleratorClass: Int] = [:]
        for index in 0..<array.count {
            let path = "pools[\(index)]"
            guard let table = array[index].table else {
                problem(path, "expected a table, found \(array[index].type)")
                continue
            }
            rejectUnknown(table, allowed: Self.poolKeys, prefix: path + ".")
            var pool = PoolDefinition(acceleratorClass: "", count: 0, simulated: driver == "process")
            if let name = string(table, "class", path: path + ".class", required: true) {
                pool.acceleratorClass = AcceleratorClass(rawValue: name)
                if !pool.acceleratorClass.isWellFormedClassName {
                    problem(path + ".class", "must be a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
                } else if let first = seen[pool.acceleratorClass] {
                    problem(path + ".class", "\"\(name)\" is already defined by pools[\(first)]")
                } else {
                    seen[pool.acceleratorClass] = index
                }
            }
            // With Slurm the count may come from sinfo (0 until the agent has asked).
            if let count = integer(table, "count", path: path + ".count", required: driver != "slurm") {
                if count < 1 || count > Int(UInt32.max) {
                    problem(path + ".count", "must be a positive integer")
                } else {
                    pool.count = count
                }
            }
            readSlurmPoolKeys(table, path: path, driver: driver, into: &pool)
            if let simulated = bool(table, "simulated", path: path + ".simulated") {
                pool.simulated = simulated
                if driver == "slurm", simulated {
                    problem(path + ".simulated", "a Slurm pool runs on the cluster's real devices; remove simulated or set it false")
                }
                if driver == "process", !simulated, !pool.acceleratorClass.rawValue.hasPrefix("cpu-") {
                    problem(path + ".simulated", "the process driver cannot drive real accelerators; set simulated = true")
                }
            }
            pools.append(pool)
        }
        return pools
    }

    private mutating func readProcessDriver(_ root: TOMLTable) -> ProcessDriverSettings {
        var settings = ProcessDriverSettings()
        guard let driver = section(root, "driver", required: false) else { return settings }
        rejectUnknown(driver, allowed: Self.driverKeys, prefix: "driver.")
        guard let table = section(driver, "process", path: "driver.process", required: false) else { return settings }
        rejectUnknown(table, allowed: Self.processKeys, prefix: "driver.process.")
        if let limit = integer(table, "max_concurrent_jobs", path: "driver.process.max_concurrent_jobs", required: false) {
            if limit < 1 {
                problem("driver.process.max_concurrent_jobs", "must be a positive integer")
            } else {
                settings.maxConcurrentJobs = limit
            }
        }
        if let value = table["kill_grace"] {
            let path = "driver.process.kill_grace"
            if let grace = DurationText.duration(value), grace <= .seconds(3600) {
                settings.killGrace = grace
            } else {
                problem(path, "must be a duration from 0 to 1h, e.g. \"5s\", \"500ms\" or 5 (seconds)")
            }
        }
        return settings
    }

    /// `partition` and `gres` of a pool: required (partition) and allowed only with Slurm.
    private mutating func readSlurmPoolKeys(_ table: TOMLTable, path: String, driver: String, into pool: inout PoolDefinition) {
        let partition = string(table, "partition", path: path + ".partition", required: driver == "slurm")
        let gres = string(table, "gres", path: path + ".gres", required: false)
        guard driver == "slurm" else {
            if partition != nil { problem(path + ".partition", "only a site with driver = \"slurm\" has partitions") }
            if gres != nil { problem(path + ".gres", "only a site with driver = \"slurm\" has GRES") }
            return
        }
        if let partition {
            if SlurmNames.isWellFormed(partition) {
                pool.partition = partition
            } else {
                problem(path + ".partition", "must be a Slurm partition name: letters, digits, '_', '-' or '.'")
            }
        }
        if let gres {
            if SlurmNames.isWellFormedGRES(gres) {
                pool.gres = gres
            } else {
                problem(path + ".gres", "must be a GRES name[:type] such as \"gpu\", \"gpu:a100\" or \"npu:910b\"")
            }
        } else if !pool.acceleratorClass.rawValue.hasPrefix("cpu-"), !pool.acceleratorClass.rawValue.isEmpty {
            problem(path + ".gres", "an accelerator pool on Slurm needs the GRES one unit is, e.g. gres = \"gpu:a100\"")
        }
    }

    private mutating func readSlurmDriver(_ root: TOMLTable, used: Bool) -> SlurmDriverSettings {
        var settings = SlurmDriverSettings()
        guard let driver = root["driver"]?.table, let table = section(driver, "slurm", path: "driver.slurm", required: false) else {
            return settings
        }
        if !used { problem("driver.slurm", "set site.driver = \"slurm\" to use the Slurm driver") }
        rejectUnknown(table, allowed: Self.slurmKeys, prefix: "driver.slurm.")
        if let accounting = string(table, "accounting", path: "driver.slurm.accounting", required: false) {
            if let parsed = SlurmDriverSettings.Accounting(rawValue: accounting) {
                settings.accounting = parsed
            } else {
                problem("driver.slurm.accounting", "must be \"slurmdbd\" (sacct) or \"jobcomp\" (sacct -c, the text job-completion log)")
            }
        }
        if let capacity = string(table, "capacity", path: "driver.slurm.capacity", required: false) {
            if let parsed = SlurmDriverSettings.Capacity(rawValue: capacity) {
                settings.capacity = parsed
            } else {
                problem("driver.slurm.capacity", "must be \"idle\" (no more than sinfo says is idle) or \"pool\" (jobs may wait in Slurm's queue)")
            }
        }
        for (key, keyPath) in [("bin_dir", \SlurmDriverSettings.binDirectory), ("work_dir", \.workDirectory)] {
            guard let value = string(table, key, path: "driver.slurm." + key, required: false) else { continue }
            if value.hasPrefix("/") {
                settings[keyPath: keyPath] = value
            } else {
                problem("driver.slurm." + key, "must be an absolute path")
            }
        }
        for (key, keyPath) in [("account", \SlurmDriverSettings.account), ("qos", \.qos)] {
            guard let value = string(table, key, path: "driver.slurm." + key, required: false) else { continue }
            if SlurmNames.isWellFormed(value) {
                settings[keyPath: keyPath] = value
            } else {
                problem("driver.slurm." + key, "must be a Slurm name: letters, digits, '_', '-' or '.'")
            }
        }
        let durations: [(String, WritableKeyPath<SlurmDriverSettings, Duration>, ClosedRange<Duration>)] = [
            ("poll_interval", \.pollInterval, .milliseconds(100) ... .seconds(600)),
            ("command_timeout", \.commandTimeout, .seconds(1) ... .seconds(600)),
            ("unrunnable_grace", \.unrunnableGrace, .zero ... .seconds(86_400)),
            ("accounting_grace", \.accountingGrace, .zero ... .seconds(86_400)),
        ]
        for (key, keyPath, range) in durations {
            guard let value = table[key] else { continue }
            if let duration = DurationText.duration(value), range.contains(duration) {
                settings[keyPath: keyPath] = duration
            } else {
                problem("driver.slurm." + key, "must be a duration from \(range.lowerBound) to \(range.upperBound), e.g. \"5s\" or \"2m\"")
            }
        }
        if let limit = integer(table, "max_concurrent_jobs", path: "driver.slurm.max_concurrent_jobs", required: false) {
            if limit < 1 {
                problem("driver.slurm.max_concurrent_jobs", "must be a positive integer")
            } else {
                settings.maxConcurrentJobs = limit
            }
        }
        return settings
    }
}

/// What Slurm accepts as partition, account and GRES names (a conservative subset: nothing a
/// shell or Slurm's own option parser would split).
public enum SlurmNames {
    public static func isWellFormed(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "_-.".contains($0) }
    }

    /// `name` or `name:type`.
    public static func isWellFormedGRES(_ gres: String) -> Bool {
        let parts = gres.split(separator: ":", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { isWellFormed(String($0)) }
    }
}
