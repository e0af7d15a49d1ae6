import EstuaryConfig
import Foundation

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
    /// `--ca FILE` (or `ESTUARY_CA`): the mesh CA, overriding the profile's `ca`.
    public var caFile: String?
    /// `--enroll-url URL` (or `ESTUARY_ENROLL_URL`): overrides the profile's `enroll_url`.
    public var enrollURL: String?
    /// The join token's text, read from `--join-token-file` or `ESTUARY_JOIN_TOKEN`.
    public var joinToken: String?
    /// Directory that relative paths in the profile are resolved against.
    public var profileDirectory: String?

    public init(
        coordinator: String? = nil, dataDir: String? = nil, dataRoot: String? = nil, insecureDev: Bool = false,
        caFile: String? = nil, enrollURL: String? = nil, joinToken: String? = nil, profileDirectory: String? = nil
    ) {
        self.coordinator = coordinator
        self.dataDir = dataDir
        self.dataRoot = dataRoot
        self.insecureDev = insecureDev
        self.caFile = caFile
        self.enrollURL = enrollURL
        self.joinToken = joinToken
        self.profileDirectory = profileDirectory
    }
}

/// Why the agent will not start with the given settings.
public enum AgentStartupError: Error, Sendable, CustomStringConvertible {
    case invalidCoordinator(String)
    case noTrustAnchor(CoordinatorAddress)
    case unreadableCA(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidCoordinator(let text):
            "--coordinator \"\(text)\" is not host:port (e.g. 127.0.0.1:7401)"
        case .noTrustAnchor(let address):
            "no CA to verify \(address) with: set ca = \"FILE\" under [coordinator] (or --ca / ESTUARY_CA) to the "
                + "coordinator's ca.pem; cleartext h2c needs --insecure-dev and is for development meshes only"
        case .unreadableCA(let path, let reason):
            "cannot read the CA file \(path): \(reason)"
        }
    }
}

extension AgentConfiguration {
    /// Applies overrides to a validated profile. Sessions use mutual TLS, which needs the mesh
    /// CA; cleartext h2c only when the operator asked for insecure-dev mode.
    public static func resolve(
        profile: SiteProfile, overrides: AgentOverrides, currentDirectory: String
    ) throws(AgentStartupError) -> AgentConfiguration {
        var coordinator = profile.coordinator.address
        if let text = overrides.coordinator {
            guard let parsed = CoordinatorAddress.parse(text) else { throw .invalidCoordinator(text) }
            coordinator = parsed
        }
        var agent = profile.agent
        if let dataDir = overrides.dataDir { agent.dataDir = dataDir }
        let dataDirectory = agent.resolvedDataDirectory(root: overrides.dataRoot, currentDirectory: currentDirectory)
        var configuration = AgentConfiguration(profile: profile, dataDirectory: dataDirectory, coordinator: coordinator)
        if overrides.insecureDev || profile.coordinator.insecureDev { return configuration }

        let caPath: String
        if let flag = overrides.caFile {
            caPath = flag
        } else if let fromProfile = profile.coordinator.caFile {
            caPath = fromProfile.hasPrefix("/") ? fromProfile : ((overrides.profileDirectory ?? currentDirectory) as NSString).appendingPathComponent(fromProfile)
        } else {
            throw .noTrustAnchor(coordinator)
        }
        let caPEM: String
        do {
            caPEM = try String(contentsOfFile: caPath, encoding: .utf8)
        } catch {
            throw .unreadableCA(path: caPath, reason: "\(error.localizedDescription)")
        }
        configuration.tls = AgentTLSSettings(
            caPEM: caPEM, enrollURL: overrides.enrollURL ?? profile.coordinator.enrollURL,
            joinToken: overrides.joinToken, serverName: profile.coordinator.serverName)
        return configuration
    }
}
