/// Where and how the admin/user API listens. Filled from the coordinator's TOML and flags.
public struct APIConfiguration: Sendable, Hashable {
    /// Address to bind. Default `127.0.0.1`: the API is local unless an operator opens it.
    public var host: String
    /// TCP port. Default 7400; 0 asks the kernel for a free port (tests, dev meshes), which
    /// ``makeAPIApplication(backend:configuration:logger:onBound:)`` reports through `onBound`.
    public var port: Int
    /// Largest request body accepted; larger bodies get 413. Default 1 MiB.
    public var maxBodyBytes: Int

    public static let defaultPort = 7400
    public static let defaultMaxBodyBytes = 1 << 20

    public init(host: String = "127.0.0.1", port: Int = APIConfiguration.defaultPort, maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }
}
