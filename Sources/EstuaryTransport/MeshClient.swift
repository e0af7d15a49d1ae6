import EstuaryTrust
import EstuaryWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Settings of the agent's side of a mesh connection.
public struct MeshClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var http2 = HTTP2Limits()
    public var frames = FrameLimits()
    public var connectTimeout: TimeAmount = .seconds(5)
    /// HTTP/2 PING period, and how long without an ACK before the connection is dropped.
    public var keepaliveInterval: TimeAmount = .seconds(10)
    public var keepaliveTimeout: TimeAmount = .seconds(20)
    /// TLS 1.3 to the coordinator; nil dials cleartext HTTP/2 (h2c, `--insecure-dev` only).
    public var tls: MeshClientTLS?
    /// How long a unary request (`MeshClient.request`) may take, connecting included.
    public var requestTimeout: TimeAmount = .seconds(30)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// An open session stream from the agent's side.
public struct MeshSession {
    /// Response headers with lower-case names.
    public let responseHeaders: [String: String]
    /// The coordinator's verified certificate; nil over h2c.
    public let server: PeerCertificate?
    public var reader: EnvelopeReader
    public let writer: EnvelopeWriter
    public let codec: SessionCodec
}

/// Dials the coordinator's mesh port and opens session streams.
public enum MeshClient {
    typealias StreamChannel = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>

    /// Connects, opens one session stream with `headers`, runs `body` with it, and closes the
    /// connection when `body` returns or throws. Throws `TransportError.refused` if the
    /// coordinator answers with anything but 200, `TransportError.tlsFailed` if either side
    /// refused the other's certificate.
    public static func withSession<Result: Sendable>(
        configuration: MeshClientConfiguration,
        headers extra: [(String, String)],
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (MeshSession) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(configuration: configuration, group: group)
        let channel = connection.channel
        defer { channel.close(promise: nil) }

        let stream: StreamChannel
        do {
            stream = try await connection.mux.openStream { stream in
                stream.eventLoop.makeCompletedFuture { try StreamChannel(wrappingChannelSynchronously: stream) }
            }
        } catch {
            throw connection.explain(error)
        }
        let codec = SessionCodec(limits: configuration.frames)
        return try await stream.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let response: [String: String]
            do {
                var request: HPACKHeaders = [
                    ":method": "POST", ":scheme": configuration.tls == nil ? "http" : "https",
                    ":path": WireProtocol.sessionPath, ":authority": authority(configuration),
                    "content-type": WireProtocol.contentType,
                ]
                for (name, value) in extra { request.add(name: name, value: value) }
                try await outbound.write(.headers(.init(headers: request)))
                response = try await readResponseHeaders(&frames)
            } catch {
                throw connection.explain(error)
            }
            guard response[":status"] == "200" else {
                throw TransportError.refused(
                    status: Int(response[":status"] ?? "") ?? 0,
                    message: response[WireProtocol.errorHeader] ?? "no reason given",
                    retryAfterSeconds: response["retry-after"].flatMap { Int($0) }
                )
            }
            let session = MeshSession(
                responseHeaders: response,
                server: connection.tls?.peer,
                reader: EnvelopeReader(frames: frames, codec: codec),
                writer: EnvelopeWriter(outbound: outbound, codec: codec),
                codec: codec
            )
            return try await body(session)
        }
    }

    private static func readResponseHeaders(
        _ frames: inout NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator
    ) async throws -> [String: String] {
        var response: [String: String] = [:]
        switch try await frames.next() {
        case .headers(let headers)?:
            for (name, value, _) in headers.headers { response[name.lowercased()] = value }
        case .rstStream(let code)?:
            throw TransportError.streamReset(code)
        case nil:
            throw TransportError.connectionClosed
        case .some(let other):
            throw TransportError.unexpectedFrame("expected response HEADERS, got \(other)")
        }
        return response
    }

    /// An open HTTP/2 connection to the coordinator, its TLS handshake completed.
    struct Connection: Sendable {
        let channel: any Channel
        let mux: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
        /// Nil over h2c.
        let tls: TLSConnectionState?

        /// A failure after the handshake may be the server refusing our certificate (TLS 1.3
        /// checks the client's certificate after the client finished): say so rather than
        /// "connection closed".
        func explain(_ error: any Error) -> any Error {
            if let reason = tls?.failure { return TransportError.tlsFailed(reason) }
            return error
        }
    }

    /// Connects and, with TLS, waits for the handshake (bounded by `connectTimeout`), so
    /// that certificate problems surface as `TransportError.tlsFailed` with their reason.
    static func connect(configuration: MeshClientConfiguration, group: any EventLoopGroup) async throws -> Connection {
        let http2 = configuration.http2.handlerConfiguration()
        let keepalive = (configuration.keepaliveInterval, configuration.keepaliveTimeout)
        let tls = try configuration.tls?.makeSetup(host: configuration.host)
        let state = tls.map { _ in TLSConnectionState() }
        let opened: (any Channel, NIOHTTP2Handler.AsyncStreamMultiplexer<Void>, EventLoopFuture<Void>?)
        do {
            opened = try await ClientBootstrap(group: group)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        var handshake: EventLoopFuture<Void>?
                        if let tls, let state {
                            let outcome = channel.eventLoop.makePromise(of: Void.self)
                            let callback = tls.setup.verification.callback(recordingInto: state)
                            let handler: NIOSSLClientHandler
                            do {
                                handler = try NIOSSLClientHandler(
                                    context: tls.setup.context, serverHostname: tls.sni,
                                    customVerificationCallbackWithMetadata: callback)
                            } catch {
                                // A name NIOSSL will not send as SNI; verification still checks it.
                                handler = try NIOSSLClientHandler(
                                    context: tls.setup.context, serverHostname: nil,
                                    customVerificationCallbackWithMetadata: callback)
                            }
                            try sync.addHandler(handler)
                            try sync.addHandler(TLSHandshakeObserver(state: state, logger: nil, remote: "", outcome: outcome))
                            handshake = outcome.futureResult
                        }
                        let mux = try sync.configureAsyncHTTP2Pipeline(mode: .client, configuration: http2) { stream in
                            // The coordinator never opens streams toward an agent.
                            stream.close()
                        }
                        try sync.addHandler(KeepaliveHandler(interval: keepalive.0, timeout: keepalive.1))
                        return (channel, mux, handshake)
                    }
                }
        } catch {
            throw TransportError.connectFailed(host: configuration.host, port: configuration.port, underlying: "\(error)")
        }
        let (channel, mux, handshake) = opened
        if let handshake, let state {
            let limit = configuration.connectTimeout
            let deadline = channel.eventLoop.scheduleTask(in: limit) {
                state.fail("no TLS handshake within \(limit.nanoseconds / 1_000_000) ms")
                channel.close(promise: nil)
            }
            defer { deadline.cancel() }
            do {
                try await handshake.get()
            } catch {
                channel.close(promise: nil)
                throw TransportError.tlsFailed(state.failure ?? "\(error)")
            }
        }
        return Connection(channel: channel, mux: mux, tls: state)
    }

    static func authority(_ configuration: MeshClientConfiguration) -> String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "\(host):\(configuration.port)"
    }
}
