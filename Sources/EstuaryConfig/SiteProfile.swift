import EstuaryModel

/// Everything an agent needs to know about its site, read from a site profile (TOML; the
/// format is documented in `Agents/README.md`) and validated once, up front.
///
/// Flags and environment variables that override parts of it (`--coordinator`, `--data-dir`)
/// are applied by the executable after parsing, with ``CoordinatorAddress/parse(_:)`` and
/// ``AgentSettings/resolvedDataDirectory(root:currentDirectory:)``.
public struct SiteProfile: Sendable, Hashable {
    /// Identity, energy and list prices, sent in `Hello.site`.
    public var site: SiteDescriptor
    /// Where the coordinator listens and whether cleartext is allowed.
    public var coordinator: CoordinatorSettings
    /// Local state of the agent.
    public var agent: AgentSettings
    /// The accelerator pools the site offers, in file order.
    public var pools: [PoolDefinition]
    /// Settings of the `process` driver (`[driver.process]`).
    public var processDriver: ProcessDriverSettings
    /// Settings of the `slurm` driver (`[driver.slurm]`); defaults when the site uses another.
    public var slurmDriver: SlurmDriverSettings

    public init(
        site: SiteDescriptor, coordinator: CoordinatorSettings, agent: AgentSettings, pools: [PoolDefinition],
        processDriver: ProcessDriverSettings = ProcessDriverSettings(), slurmDriver: SlurmDriverSettings = SlurmDriverSettings()
    ) {
        self.site = site
        self.coordinator = coordinator
        self.agent = agent
        self.pools = pools
        self.processDriver = processDriver
        self.slurmDriver = slurmDriver
    }

    /// Drivers this agent can run jobs with.
    public static let supportedDrivers: Set<String> = ["process", "slurm"]

    /// Whether jobs go to a Slurm cluster (`site.driver = "slurm"`).
    public var usesSlurm: Bool { site.driver == "slurm" }
}

/// `[coordinator]`: the mesh address the agent dials, and how it trusts the coordinator.
public struct CoordinatorSettings: Sendable, Hashable {
    public var address: CoordinatorAddress
    /// Dial cleartext HTTP/2 (h2c). Only for development meshes; mutual TLS is the default.
    public var insecureDev: Bool
    /// PEM file of the mesh CA the coordinator's certificate must chain to (`ca`). Relative
    /// paths are resolved against the profile's directory.
    public var caFile: String?
    /// The coordinator's API base URL for first enrollment, e.g. `https://coord:7400`.
    public var enrollURL: String?
    /// Name the coordinator's certificate must carry when it differs from the dialed host.
    public var serverName: String?

    public init(
        address: CoordinatorAddress, insecureDev: Bool = false, caFile: String? = nil, enrollURL: String? = nil,
        serverName: String? = nil
    ) {
        self.address = address
        self.insecureDev = insecureDev
        self.caFile = caFile
        self.enrollURL = enrollURL
        self.serverName = serverName
    }
}

/// A `host:port` pair; IPv6 literals are written in brackets (`[::1]:7401`).
public struct CoordinatorAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// The mesh port used when an address names no port.
    public static let defaultPort = 7401

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `host` (default port 7401), `[v6]:port` or `[v6]`; nil if malformed.
    public static func parse(_ text: String) -> CoordinatorAddress? {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        var port = defaultPort
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { return nil }
            port = parsed
        }
        return CoordinatorAddress(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `[agent]`: local state.
public struct AgentSettings: Sendable, Hashable {
    /// Holds the outbox database and one working directory per job. A relative path is resolved
    /// against a data root chosen at start-up (see ``resolvedDataDirectory(root:currentDirectory:)``).
    public var dataDir: String

    public static let defaultDataDir = "/var/lib/estuary-agent"

    public init(dataDir: String = AgentSettings.defaultDataDir) { self.dataDir = dataDir }

    /// The absolute data directory: `dataDir` itself when absolute, otherwise `dataDir` under
    /// `root` (the `--data-root` flag or `ESTUARY_DATA_ROOT`), or under the current directory.
    public func resolvedDataDirectory(root: String?, currentDirectory: String) -> String {
        if dataDir.hasPrefix("/") { return dataDir }
        let base = (root?.isEmpty == false ? root! : currentDirectory)
        return base.hasSuffix("/") ? base + dataDir : base + "/" + dataDir
    }
}

/// `[[pools]]`: one pool of identical units.
public struct PoolDefinition: Sendable, Hashable {
    public var acceleratorClass: AcceleratorClass
    /// Units in the pool. With the `slurm` driver 0 means "as many as `sinfo` shows": the
    /// agent fills it in at start-up (``SlurmPools``).
    public var count: Int
    /// True when the `process` driver stands in for the real devices.
    public var simulated: Bool
    /// `slurm` driver: the partition the pool's jobs are submitted to.
    public var partition: String?
    /// `slurm` driver, accelerator pools: the GRES one unit is, `name[:type]` (`gpu:a100`,
    /// `npu`); jobs ask for `--gres=<gres>:<units per task>`. Nil for CPU pools (units are cores).
    public var gres: String?

    public init(acceleratorClass: AcceleratorClass, count: Int, simulated: Bool, partition: String? = nil, gres: String? = nil) {
        self.acceleratorClass = acceleratorClass
        self.count = count
        self.simulated = simulated
        self.partition = partition
        self.gres = gres
    }
}

/// `[driver.slurm]`: jobs go to a Slurm cluster through `sbatch`, `squeue`, `sacct` and
/// `scancel` (Agents/README.md, "The slurm driver").
public struct SlurmDriverSettings: Sendable, Hashable {
    /// How finished jobs are looked up: `sacct` against slurmdbd, or `sacct -c` against the
    /// text job-completion log (`JobCompType=jobcomp/filetxt`) of a cluster without slurmdbd.
    public enum Accounting: String, Sendable, Hashable, CaseIterable {
        case slurmdbd, jobcomp
    }

    /// What the agent reports as a pool's free units.
    public enum Capacity: String, Sendable, Hashable, CaseIterable {
        /// What Estuary's jobs leave, but no more than `sinfo` says is idle: on a shared cluster
        /// the coordinator keeps its jobs until they can start, and routes them elsewhere.
        case idle
        /// What Estuary's jobs leave of the pool: jobs are sent even when the cluster is busy
        /// and wait in Slurm's queue (a partition reserved for the federation, or a site that
        /// wants Slurm's backfill to order them).
        case pool
    }

    public var accounting: Accounting = .slurmdbd
    public var capacity: Capacity = .idle
    /// Directory holding `sbatch`, `squeue`, `sacct`, `scancel` and `sinfo`; nil = `PATH`.
    public var binDirectory: String?
    /// Where job directories (batch script, `stdout`, `stderr`) are made; must be visible at the
    /// same path on the compute nodes. Nil = `<data_dir>/jobs`.
    public var workDirectory: String?
    /// `--account` and `--qos` of every job, when set.
    public var account: String?
    public var qos: String?
    /// Period of the `squeue` (and, for ended jobs, `sacct`) round.
    public var pollInterval: Duration = .seconds(5)
    /// Longest a Slurm command may take before it is killed and counted as failed.
    public var commandTimeout: Duration = .seconds(30)
    /// How long a job may stay pending for a reason Slurm will not resolve by itself (its
    /// partition is down, its GRES or QOS is invalid …) before the agent cancels it and reports
    /// it rejected, so that the coordinator can place it elsewhere.
    public var unrunnableGrace: Duration = .seconds(60)
    /// How long a job that left the queue may go without an accounting record before the
    /// agent gives up and reports it lost.
    public var accountingGrace: Duration = .seconds(120)
    /// At most this many jobs at once; nil = limited by pool capacity only.
    public var maxConcurrentJobs: Int?

    public init() {}
}

/// `[driver.process]`: jobs run as local processes under a shim.
public struct ProcessDriverSettings: Sendable, Hashable {
    /// At most this many jobs at once; nil = limited by pool capacity only.
    public var maxConcurrentJobs: Int?
    /// Time between SIGTERM and SIGKILL when a job is cancelled or exceeds its walltime.
    public var killGrace: Duration

    public static let defaultKillGrace: Duration = .seconds(5)

    public init(maxConcurrentJobs: Int? = nil, killGrace: Duration = ProcessDriverSettings.defaultKillGrace) {
        self.maxConcurrentJobs = maxConcurrentJobs
        self.killGrace = killGrace
    }
}
