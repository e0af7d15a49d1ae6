import EstuaryConfig

/// Everything the agent service runs with: the validated site profile with the command line's
/// overrides applied, plus timings that have sensible defaults and are shortened by tests.
public struct AgentConfiguration: Sendable {
    public var profile: SiteProfile
    /// Absolute data directory (outbox database and job directories).
    public var dataDirectory: String
    /// Coordinator to dial (the profile's, unless overridden).
    public var coordinator: CoordinatorAddress
    public var driver: ProcessDriverConfiguration
    /// Mutual TLS to the coordinator; nil only in insecure-dev mode (cleartext h2c).
    public var tls: AgentTLSSettings?

    /// Reported in Hello.agent_version.
    public var agentVersion = AgentVersion.current
    /// How long to wait for Welcome after Hello.
    public var welcomeTimeout: Duration = .seconds(10)
    /// Capacity report period when Welcome does not say.
    public var defaultReportInterval: Duration = .seconds(10)
    /// How often the job watcher looks at job directories.
    public var pollInterval: Duration = .milliseconds(200)
    /// How often running jobs' output is shipped.
    public var logInterval: Duration = .milliseconds(250)
    /// How long terminal jobs are kept after their report was acknowledged.
    public var reportedJobRetention: Duration = .seconds(3600)
    public var backoff = ReconnectBackoff()
    /// Uniform random numbers in [0, 1) for backoff jitter; injectable for tests.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// Sleeps between reconnects; injectable for tests.
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }

    public init(profile: SiteProfile, dataDirectory: String, coordinator: CoordinatorAddress? = nil, driver: ProcessDriverConfiguration? = nil) {
        self.profile = profile
        self.dataDirectory = dataDirectory
        self.coordinator = coordinator ?? profile.coordinator.address
        self.driver = driver ?? ProcessDriverConfiguration(killGrace: profile.processDriver.killGrace)
    }
}

/// The agent's version string.
public enum AgentVersion {
    public static let current = "0.1.0"
}
