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
    private static let poolKeys: Set<String> = ["class", "count", "simulated"]
    private static let driverKeys: Set<String> = ["process"]
    private static let processKeys: Set<String> = ["max_concurrent_jobs", "kill_grace"]

    mutating func read(_ root: TOMLTable) -> SiteProfile {
        rejectUnknown(root, allowed: Self.topLevelKeys, prefix: "")
        let site = readSite(root)
        let coordinator = readCoordinator(root)
        let agent = readAgent(root)
        let pools = readPools(root, driver: site.driver)
        let process = readProcessDriver(root)
        var described = site
        if let table = root["site"]?.table {
            described.energy = readEnergy(table)
            described.priceBook = readPriceBook(root, site: table, pools: pools)
        }
        return SiteProfile(site: described, coordinator: coordinator, agent: agent, pools: pools, processDriver: process)
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
                problem("site.driver", "\"\(driver)\" is not supported by this agent; use \"process\"")
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
            if let count = integer(table, "count", path: path + ".count", required: true) {
                if count < 1 || count > Int(UInt32.max) {
                    problem(path + ".count", "must be a positive integer")
                } else {
                    pool.count = count
                }
            }
            if let simulated = bool(table, "simulated", path: path + ".simulated") {
                pool.simulated = simulated
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
}
