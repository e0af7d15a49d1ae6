import NIOSSL

/// Where and how the admin/user API listens. Filled from the coordinator's TOML and flags.
public struct APIConfiguration: Sendable {
    /// Address to bind. Default `127.0.0.1`: the API is local unless an operator opens it.
    public var host: String
    /// TCP port. Default 7400; 0 asks the kernel for a free port (tests, dev meshes), which
    /// ``makeAPIApplication(backend:configuration:logger:onBound:)`` reports through `onBound`.
    public var port: Int
    /// Largest request body accepted; larger bodies get 413. Default 1 MiB.
    public var maxBodyBytes: Int
    /// Per-client request rate (per token, or per remote address before authentication);
    /// beyond it requests get 429 with `Retry-After`. Default 50/s, burst 100.
    public var rateLimit: RateLimit
    /// Server-authenticated TLS for the listener; nil serves cleartext. ALPN is set to `h2`,
    /// `http/1.1` and the minimum version to TLS 1.2 whatever this says; client certificates
    /// are not asked for (clients authenticate with bearer tokens).
    public var tls: TLSConfiguration?

    public static let defaultPort = 7400
    public static let defaultMaxBodyBytes = 1 << 20
    /// JSON bodies nesting deeper than this are refused (400) before they are decoded.
    public static let maxJSONDepth = 32

    public init(
        host: String = "127.0.0.1", port: Int = APIConfiguration.defaultPort,
        maxBodyBytes: Int = APIConfiguration.defaultMaxBodyBytes, rateLimit: RateLimit = .default,
        tls: TLSConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.rateLimit = rateLimit
        self.tls = tls
    }

    /// The TLS configuration the listener uses: `tls` with ALPN `h2`, `http/1.1`, at least TLS
    /// 1.2, and no client certificates.
    var effectiveTLS: TLSConfiguration? {
        guard var tls else { return nil }
        tls.applicationProtocols = ["h2", "http/1.1"]
        tls.certificateVerification = .none
        if tls.minimumTLSVersion != .tlsv13 { tls.minimumTLSVersion = .tlsv12 }
        return tls
    }

    /// Every problem with this configuration; empty means valid. Call it before starting: a TLS
    /// configuration that cannot be loaded otherwise shows up only as refused connections.
    public func validate() -> [String] {
        var problems: [String] = []
        if !(0...65535).contains(port) { problems.append("API port must be 0…65535") }
        if maxBodyBytes < 1 { problems.append("API body limit must be positive") }
        if !(rateLimit.requestsPerSecond > 0) { problems.append("API rate limit must be positive") }
        if rateLimit.burst < 1 { problems.append("API rate-limit burst must be at least 1") }
        if let tls = effectiveTLS {
            do {
                _ = try NIOSSLContext(configuration: tls)
            } catch {
                problems.append("API TLS configuration cannot be used: \(error)")
            }
        }
        return problems
    }
}
