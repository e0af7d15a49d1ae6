import EstuaryTrust
import EstuaryWire
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Settings of the mesh listener (PROTOCOL.md §2).
public struct MeshServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (tests); read it back from `MeshServer.localPort`.
    public var port: Int = 7401
    public var http2 = HTTP2Limits()
    public var frames = FrameLimits()
    /// A connection that has not completed a session handshake by then is closed.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// A connection that sent nothing (not even a PING) for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Mutual TLS; nil serves cleartext HTTP/2 (h2c, `--insecure-dev` only).
    public var tls: MeshServerTLS?

    public init() {}
}

/// One session request, before any response is sent.
public struct SessionRequest: Sendable {
    /// Request headers with lower-case names.
    public let headers: [String: String]
    public let remoteAddress: String
    /// The client's verified certificate; nil over h2c.
    public let peer: PeerCertificate?

    public init(headers: [String: String], remoteAddress: String, peer: PeerCertificate? = nil) {
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.peer = peer
    }

    public var siteHeader: String? { headers[WireProtocol.siteHeader] }
    /// The versions the `estuary-protocol` header offers; nil when it is missing or ill-formed.
    public var protocolVersions: [UInt32]? {
        headers[WireProtocol.protocolHeader].flatMap(WireProtocol.parseVersionsHeader)
    }
}

/// Why a session request is turned away before the stream starts.
public struct SessionRefusal: Sendable, Error {
    public var status: Int
    public var message: String
    public var retryAfterSeconds: Int?

    public init(status: Int, message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// An accepted session stream, handed to the `MeshSessionHandler`.
public struct MeshServerSession {
    public let request: SessionRequest
    public var reader: EnvelopeReader
    public let writer: EnvelopeWriter
    public let codec: SessionCodec
    let connection: any Channel

    /// Called once the handshake succeeded: lifts the connection's handshake deadline.
    public func markEstablished() {
        connection.pipeline.removeHandler(name: HandshakeDeadlineHandler.name, promise: nil)
    }

    /// Closes the whole HTTP/2 connection (e.g. after a fatal protocol error).
    public func closeConnection() {
        connection.close(promise: nil)
    }
}

/// What runs each session. The server validates the HTTP shape (path, method, content type);
/// the handler decides admission and runs the protocol.
public protocol MeshSessionHandler: Sendable {
    /// Returns a refusal to turn the request away, or nil to accept it.
    func admit(_ request: SessionRequest) async -> SessionRefusal?
    /// Runs an accepted session until it ends. The stream is closed when this returns.
    func run(_ session: MeshServerSession) async
    /// Answers a POST to any path but the session path (e.g. `/estuary/v1/renew`), with its
    /// whole body (at most `MeshServer.unaryBodyLimit`). The default answers 404.
    func unary(_ request: SessionRequest, body: [UInt8]) async -> UnaryResponse
}

/// The mesh listener: HTTP/2 over mutual TLS 1.3 (or with prior knowledge, h2c, under
/// `--insecure-dev`), one session stream per agent connection, explicit limits, handshake
/// deadline and idle close.
public final class MeshServer: Sendable {
    typealias StreamChannel = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>
    typealias Connection = (
        channel: any Channel, mux: NIOHTTP2Handler.AsyncStreamMultiplexer<StreamChannel>, tls: TLSConnectionState?
    )

    let listener: NIOAsyncChannel<Connection, Never>
    let configuration: MeshServerConfiguration
    let logger: Logger
    /// The bound port (useful when the configuration asked for port 0).
    public let localPort: Int

    private init(listener: NIOAsyncChannel<Connection, Never>, configuration: MeshServerConfiguration, logger: Logger) {
        self.listener = listener
        self.configuration = configuration
        self.logger = logger
        self.localPort = listener.channel.localAddress?.port ?? configuration.port
    }

    /// Binds the listening socket. Nothing is accepted until `run` is called.
    public static func bind(
        configuration: MeshServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> MeshServer {
        let http2 = configuration.http2.handlerConfiguration()
        let handshake = configuration.handshakeTimeout
        let idle = configuration.idleTimeout
        let tls = try configuration.tls?.makeSetup()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture { () -> Connection in
                    let sync = channel.pipeline.syncOperations
                    var state: TLSConnectionState?
                    if let tls {
                        let connectionState = TLSConnectionState()
                        let remote = channel.remoteAddress.map { "\($0)" } ?? "unknown"
                        try sync.addHandler(
                            NIOSSLServerHandler(
                                context: tls.context,
                                customVerificationCallbackWithMetadata: tls.verification.callback(recordingInto: connectionState)
                            )
                        )
                        try sync.addHandler(
                            TLSHandshakeObserver(state: connectionState, logger: logger, remote: remote, outcome: nil))
                        state = connectionState
                    }
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(IdleCloseHandler())
                    try sync.addHandler(HandshakeDeadlineHandler(timeout: handshake), name: HandshakeDeadlineHandler.name)
                    let mux = try sync.configureAsyncHTTP2Pipeline(
                        mode: .server, streamDelegate: nil, frameDelegate: CloseAfterGoAway(channel: channel),
                        configuration: http2
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try StreamChannel(wrappingChannelSynchronously: stream)
                        }
                    }
                    return (channel, mux, state)
                }
            }
        return MeshServer(listener: listener, configuration: configuration, logger: logger)
    }

    /// Accepts connections and runs their sessions until the calling task is cancelled or the
    /// listener is closed.
    public func run(handler: some MeshSessionHandler) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection, handler: handler) }
                }
            }
        }
    }

    private func serve(_ connection: Connection, handler: some MeshSessionHandler) async {
        let remote = connection.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await stream in connection.mux.inbound {
                    group.addTask {
                        await self.serve(
                            stream: stream, connection: connection.channel, remote: remote, peer: connection.tls?.peer,
                            handler: handler)
                    }
                }
            }
        } catch {
            logger.debug("mesh connection ended", metadata: ["remote": "\(remote)", "error": "\(error)"])
        }
        connection.channel.close(promise: nil)
    }

    private func serve(
        stream: StreamChannel, connection: any Channel, remote: String, peer: PeerCertificate?,
        handler: some MeshSessionHandler
    ) async {
        let codec = SessionCodec(limits: configuration.frames)
        do {
            try await stream.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard case .headers(let opening)? = try await frames.next() else {
                    throw TransportError.unexpectedFrame("a session stream must start with HEADERS")
                }
                var headers: [String: String] = [:]
                for (name, value, _) in opening.headers { headers[name.lowercased()] = value }
                // Streams only start after the TLS handshake, which verified the peer.
                if configuration.tls != nil && peer == nil {
                    throw TransportError.tlsFailed("stream on a TLS connection without a verified peer")
                }
                let request = SessionRequest(headers: headers, remoteAddress: remote, peer: peer)
                if Self.isUnary(headers) {
                    try await Self.serveUnary(
                        request, endStream: opening.endStream, connection: connection, frames: &frames, outbound: outbound, handler: handler)
                    return
                }
                var refusal = Self.checkShape(headers)
                if refusal == nil { refusal = await handler.admit(request) }
                if let refusal {
                    try await Self.refuse(refusal, outbound: outbound)
                    return
                }
                let response: HPACKHeaders = [":status": "200", "content-type": WireProtocol.contentType]
                try await outbound.write(.headers(.init(headers: response)))
                let session = MeshServerSession(
                    request: request,
                    reader: EnvelopeReader(frames: frames, codec: codec),
                    writer: EnvelopeWriter(outbound: outbound, codec: codec),
                    codec: codec,
                    connection: connection
                )
                await handler.run(session)
                outbound.finish()
            }
        } catch {
            logger.debug("mesh stream ended", metadata: ["remote": "\(remote)", "error": "\(error)"])
        }
    }

    static func checkShape(_ headers: [String: String]) -> SessionRefusal? {
        if headers[":path"] != WireProtocol.sessionPath {
            return SessionRefusal(status: 404, message: "unknown path \(headers[":path"] ?? "-"); sessions use \(WireProtocol.sessionPath)")
        }
        if headers[":method"] != "POST" {
            return SessionRefusal(status: 405, message: "sessions are opened with POST")
        }
        let contentType = headers["content-type"]?.split(separator: ";").first.map(String.init)
        if contentType != WireProtocol.contentType {
            return SessionRefusal(status: 415, message: "content-type must be \(WireProtocol.contentType)")
        }
        return nil
    }

    static func refuse(_ refusal: SessionRefusal, outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>) async throws {
        var headers: HPACKHeaders = [":status": "\(refusal.status)", WireProtocol.errorHeader: sanitize(refusal.message)]
        if let retry = refusal.retryAfterSeconds { headers.add(name: "retry-after", value: "\(retry)") }
        try await outbound.write(.headers(.init(headers: headers, endStream: true)))
    }

    /// Header values must not carry control characters.
    static func sanitize(_ message: String) -> String {
        String(message.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(Character.init)).prefix(512).description
    }
}
