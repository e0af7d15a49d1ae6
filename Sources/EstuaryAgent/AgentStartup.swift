import EstuaryConfig

/// Command-line and environment overrides of a site profile, as the executable collected them.
public struct AgentOverrides: Sendable {
    /// `--coordinator HOST:PORT` (or `ESTUARY_COORDINATOR`).
    public var coordinator: String?
    /// `--data-dir DIR` (or `ESTUARY_DATA_DIR`): replaces the profile's data_dir.
    public var dataDir: String?
    /// `--data-root DIR` (or `ESTUARY_DATA_ROOT`): base of a relative data_dir.
    public var dataRoot: String?
    /// `--insecure-dev`: allow cleartext h2c even if the profile does not.
    public var insecureDev: Bool

    public init(coordinator: String? = nil, dataDir: String? = nil, dataRoot: String? = nil, insecureDev: Bool = false) {
        self.coordinator = coordinator
        self.dataDir = dataDir
        self.dataRoot = dataRoot
        self.insecureDev = insecureDev
    }
}

/// Why the agent will not start with the given settings.
public enum AgentStartupError: Error, Sendable, CustomStringConvertible {
    case invalidCoordinator(String)
    case cleartextNotAllowed(CoordinatorAddress)

    public var description: String {
        switch self {
        case .invalidCoordinator(let text):
            "--coordinator \"\(text)\" is not host:port (e.g. 127.0.0.1:7401)"
        case .cleartextNotAllowed(let address):
            "refusing to dial \(address) in cleartext: this agent has no TLS yet; pass --insecure-dev "
                + "(or set insecure_dev = true under [coordinator]) for a development mesh"
        }
    }
}

extension AgentConfiguration {
    /// Applies overrides to a validated profile. Every session is cleartext h2c for now, so
    /// this refuses unless the operator allowed it explicitly.
    public static func resolve(
        profile: SiteProfile, overrides: AgentOverrides, currentDirectory: String
    ) throws(AgentStartupError) -> AgentConfiguration {
        var coordinator = profile.coordinator.address
        if let text = overrides.coordinator {
            guard let parsed = CoordinatorAddress.parse(text) else { throw .invalidCoordinator(text) }
            coordinator = parsed
        }
        guard overrides.insecureDev || profile.coordinator.insecureDev else { throw .cleartextNotAllowed(coordinator) }
        var agent = profile.agent
        if let dataDir = overrides.dataDir { agent.dataDir = dataDir }
        let dataDirectory = agent.resolvedDataDirectory(root: overrides.dataRoot, currentDirectory: currentDirectory)
        return AgentConfiguration(profile: profile, dataDirectory: dataDirectory, coordinator: coordinator)
    }
}
