import EstuaryWire
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

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

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// An open session stream from the agent's side.
public struct MeshSession {
    /// Response headers with lower-case names.
    public let responseHeaders: [String: String]
    public var reader: EnvelopeReader
    public let writer: EnvelopeWriter
    public let codec: SessionCodec
}

/// Dials the coordinator's mesh port and opens session streams.
public enum MeshClient {
    typealias StreamChannel = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>

    /// Connects, opens one session stream with `headers`, runs `body` with it, and closes the
    /// connection when `body` returns or throws. Throws `TransportError.refused` if the
    /// coordinator answers with anything but 200.
    public static func withSession<Result: Sendable>(
        configuration: MeshClientConfiguration,
        headers extra: [(String, String)],
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (MeshSession) async throws -> Result
    ) async throws -> Result {
        let http2 = configuration.http2.handlerConfiguration()
        let keepalive = (configuration.keepaliveInterval, configuration.keepaliveTimeout)
        let connection: (any Channel, NIOHTTP2Handler.AsyncStreamMultiplexer<Void>)
        do {
            connection = try await ClientBootstrap(group: group)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        let mux = try sync.configureAsyncHTTP2Pipeline(mode: .client, configuration: http2) { stream in
                            // The coordinator never opens streams toward an agent.
                            stream.close()
                        }
                        try sync.addHandler(KeepaliveHandler(interval: keepalive.0, timeout: keepalive.1))
                        return (channel, mux)
                    }
                }
        } catch {
            throw TransportError.connectFailed(host: configuration.host, port: configuration.port, underlying: "\(error)")
        }
        let channel = connection.0
        defer { channel.close(promise: nil) }

        let stream = try await connection.1.openStream { stream in
            stream.eventLoop.makeCompletedFuture { try StreamChannel(wrappingChannelSynchronously: stream) }
        }
        let codec = SessionCodec(limits: configuration.frames)
        return try await stream.executeThenClose { inbound, outbound in
            var request: HPACKHeaders = [
                ":method": "POST", ":scheme": "http", ":path": WireProtocol.sessionPath,
                ":authority": "\(configuration.host):\(configuration.port)",
                "content-type": WireProtocol.contentType,
            ]
            for (name, value) in extra { request.add(name: name, value: value) }
            try await outbound.write(.headers(.init(headers: request)))

            var frames = inbound.makeAsyncIterator()
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
            guard response[":status"] == "200" else {
                throw TransportError.refused(
                    status: Int(response[":status"] ?? "") ?? 0,
                    message: response[WireProtocol.errorHeader] ?? "no reason given",
                    retryAfterSeconds: response["retry-after"].flatMap { Int($0) }
                )
            }
            let session = MeshSession(
                responseHeaders: response,
                reader: EnvelopeReader(frames: frames, codec: codec),
                writer: EnvelopeWriter(outbound: outbound, codec: codec),
                codec: codec
            )
            return try await body(session)
        }
    }
}
