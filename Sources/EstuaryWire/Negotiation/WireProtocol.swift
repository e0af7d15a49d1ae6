/// Versions, names and negotiation rules of the agent session (PROTOCOL.md §2 and §5).
public enum WireProtocol {
    /// Protocol versions this build speaks, lowest first.
    public static let supportedVersions: [UInt32] = [1]

    /// The highest version both sides speak, or nil when they share none (the coordinator then
    /// answers `Error{UNSUPPORTED_VERSION, fatal}`).
    public static func negotiate(_ offered: [UInt32], supported: [UInt32] = supportedVersions) -> UInt32? {
        Set(offered).intersection(supported).max()
    }

    /// The limit that governs both directions once Welcome is sent: the smaller of what the agent
    /// accepts (`Hello.max_frame_bytes`, 0 meaning the default) and the coordinator's own limit.
    public static func negotiateMaxFrameBytes(offered: UInt32, local: Int) -> Int {
        let peer = offered == 0 ? FrameLimits.defaultMaxFrameBytes : Int(offered)
        return min(peer, local)
    }

    // MARK: HTTP/2 names of the session stream

    /// The request path of the agent session stream.
    public static let sessionPath = "/estuary.v1/session"
    /// Certificate renewal over mutual TLS: POST a PEM CSR, get the new certificate (PEM).
    public static let renewPath = "/estuary.v1/renew"
    /// Content type of request and response bodies made of frames.
    public static let contentType = "application/estuary-frames"
    /// Request header: comma-separated protocol versions the agent speaks.
    public static let protocolHeader = "estuary-protocol"
    /// Request header: the agent's site id.
    public static let siteHeader = "estuary-site"
    /// Response header on a refused request: a readable reason.
    public static let errorHeader = "estuary-error"
    /// Default mesh port.
    public static let defaultPort = 7401

    /// The value of the `estuary-protocol` header for `versions`.
    public static func versionsHeaderValue(_ versions: [UInt32] = supportedVersions) -> String {
        versions.map(String.init).joined(separator: ",")
    }

    /// Parses an `estuary-protocol` header (`"1"`, `"1, 2"`); nil when it is empty or any
    /// element is not a positive decimal version.
    public static func parseVersionsHeader(_ value: String) -> [UInt32]? {
        var versions: [UInt32] = []
        for element in value.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = element.filter { $0 != " " && $0 != "\t" }
            guard let version = UInt32(trimmed), version > 0 else { return nil }
            versions.append(version)
        }
        return versions.isEmpty ? nil : versions
    }
}
