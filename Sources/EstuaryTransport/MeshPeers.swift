import EstuaryTrust
import NIOCore
import NIOPosix

/// Long-lived HTTP/2 connections to other coordinators' mesh ports, one per address, for
/// many small unary requests (gossip): each request is a new stream on the open connection,
/// so a probe costs a few frames rather than a TCP and TLS handshake. A connection that
/// closed (peer restarted, keepalive expired, request timed out) is dialled again on the next
/// request; concurrent requests to an address that is still connecting wait for that one dial.
/// A request that times out resets its stream only: under CPU starvation answers come late,
/// and a new TLS handshake per timeout would cost more than it saves.
public actor MeshPeers {
    /// Connection settings for every peer; `host` and `port` are replaced per address.
    private let template: MeshClientConfiguration
    private let group: any EventLoopGroup
    private var connections: [String: MeshClient.Connection] = [:]
    private var dialling: [String: Task<MeshClient.Connection, any Error>] = [:]
    private var closed = false

    /// `template.tls` must carry this coordinator's certificate (mutual TLS) or be nil (h2c,
    /// `--insecure-dev`). Its `requestTimeout` bounds each exchange; a timed-out exchange resets
    /// its stream only.
    public init(template: MeshClientConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.template = template
        self.group = group
    }

    /// Parses `host:port` or `[v6]:port`.
    public static func split(address: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            host = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = address.lastIndex(of: ":") else { return nil }
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
            if host.contains(":") { return nil }  // a bare IPv6 literal needs brackets
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// POSTs `body` to `path` on the peer at `address` and returns its answer, with the peer's
    /// verified certificate (nil over h2c).
    public func post(to address: String, path: String, headers: [(String, String)] = [], body: [UInt8]) async throws
        -> (response: UnaryResponse, server: PeerCertificate?)
    {
        let connection = try await connection(to: address)
        let configuration = configuration(for: address, connection: connection)
        do {
            let response = try await MeshClient.exchange(
                on: connection, configuration: configuration, method: "POST", path: path, headers: headers, body: body,
                timeout: template.requestTimeout, closeConnectionOnTimeout: false)
            return (response, connection.tls?.peer)
        } catch {
            if !connection.channel.isActive { forget(address, connection) }
            throw error
        }
    }

    /// Closes the connection to one peer (it left, or was reaped).
    public func disconnect(_ address: String) {
        dialling.removeValue(forKey: address)?.cancel()
        connections.removeValue(forKey: address)?.channel.close(promise: nil)
    }

    /// Closes every connection; later requests fail.
    public func closeAll() {
        closed = true
        for task in dialling.values { task.cancel() }
        dialling = [:]
        for connection in connections.values { connection.channel.close(promise: nil) }
        connections = [:]
    }


    private func configuration(for address: String, connection: MeshClient.Connection) -> MeshClientConfiguration {
        var configuration = template
        if let (host, port) = Self.split(address: address) {
            configuration.host = host
            configuration.port = port
        }
        return configuration
    }

    private func connection(to address: String) async throws -> MeshClient.Connection {
        if closed { throw TransportError.connectionClosed }
        if let open = connections[address] {
            if open.channel.isActive { return open }
            connections[address] = nil
        }
        if let pending = dialling[address] { return try await pending.value }
        guard let (host, port) = Self.split(address: address) else {
            throw TransportError.connectFailed(host: address, port: 0, underlying: "not a host:port address")
        }
        var configuration = template
        configuration.host = host
        configuration.port = port
        let group = self.group
        let task = Task { try await MeshClient.connect(configuration: configuration, group: group) }
        dialling[address] = task
        defer { if dialling[address] == task { dialling[address] = nil } }
        let connection = try await task.value
        if closed || Task.isCancelled {
            connection.channel.close(promise: nil)
            throw TransportError.connectionClosed
        }
        connections[address] = connection
        return connection
    }

    private func forget(_ address: String, _ connection: MeshClient.Connection) {
        if let current = connections[address], current.channel === connection.channel {
            connections[address] = nil
        }
    }
}
