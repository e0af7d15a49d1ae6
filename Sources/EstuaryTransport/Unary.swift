import EstuaryWire
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// The answer to a one-shot request (enrollment, renewal): status, headers with lower-case
/// names, and a body of at most `MeshServer.unaryBodyLimit` bytes.
public struct UnaryResponse: Sendable, Hashable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    /// Set by a handler that authenticated a long-lived peer (a coordinator gossiping): the
    /// connection is then exempt from the session-handshake deadline, like an established session.
    public var establishesConnection: Bool

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = [], establishesConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.establishesConnection = establishesConnection
    }
}

extension MeshSessionHandler {
    public func unary(_ request: SessionRequest, body: [UInt8]) async -> UnaryResponse {
        UnaryResponse(status: 404, headers: [WireProtocol.errorHeader: "unknown path \(request.headers[":path"] ?? "-")"])
    }
}

extension MeshServer {
    /// Largest request or response body of a unary request.
    public static let unaryBodyLimit = 1 << 20

    /// POSTs to any path but the session path are unary requests.
    static func isUnary(_ headers: [String: String]) -> Bool {
        headers[":method"] == "POST" && headers[":path"] != WireProtocol.sessionPath
    }

    /// Collects the body (413 beyond the limit), asks the handler, writes its answer.
    static func serveUnary(
        _ request: SessionRequest, endStream: Bool, connection: any Channel,
        frames: inout NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>,
        handler: some MeshSessionHandler
    ) async throws {
        var body: [UInt8] = []
        var ended = endStream
        while !ended {
            guard let frame = try await frames.next() else {
                throw TransportError.connectionClosed  // reset or closed before the body ended
            }
            switch frame {
            case .data(let data):
                if case .byteBuffer(let buffer) = data.data {
                    guard body.count + buffer.readableBytes <= unaryBodyLimit else {
                        let tooLarge = UnaryResponse(
                            status: 413, headers: [WireProtocol.errorHeader: "request body larger than \(unaryBodyLimit) bytes"])
                        try await write(tooLarge, to: outbound)
                        return
                    }
                    body.append(contentsOf: buffer.readableBytesView)
                }
                ended = data.endStream
            case .headers(let trailers):
                ended = trailers.endStream
            case .rstStream(let code):
                throw TransportError.streamReset(code)
            default:
                continue
            }
        }
        let response = await handler.unary(request, body: body)
        if response.establishesConnection && (200..<300).contains(response.status) {
            connection.pipeline.removeHandler(name: HandshakeDeadlineHandler.name, promise: nil)
            connection.pipeline.fireUserInboundEventTriggered(PeerConnectionEstablished())
        }
        try await write(response, to: outbound)
    }

    static func write(_ response: UnaryResponse, to outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>) async throws {
        var headers: HPACKHeaders = [":status": "\(response.status)"]
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) {
            let name = name.lowercased()
            guard !name.hasPrefix(":"), name != "content-length" else { continue }
            headers.add(name: name, value: sanitize(value))
        }
        headers.add(name: "content-length", value: "\(response.body.count)")
        if response.body.isEmpty {
            try await outbound.write(.headers(.init(headers: headers, endStream: true)))
            return
        }
        // One write, so one flush: headers and body leave in one TLS record and one packet.
        try await outbound.write(contentsOf: [
            .headers(.init(headers: headers)), .data(.init(data: .byteBuffer(ByteBuffer(bytes: response.body)), endStream: true)),
        ])
    }
}

extension MeshClient {
    /// One HTTP/2 request on a fresh connection (h2c or TLS as configured), for enrollment
    /// (the API port, server-authenticated TLS) and renewal (the mesh port, mutual TLS).
    /// Request and response bodies are limited to `MeshServer.unaryBodyLimit`; connecting to
    /// `connectTimeout`, the exchange to `requestTimeout`. The connection is closed afterwards.
    public static func request(
        configuration: MeshClientConfiguration,
        method: String = "POST",
        path: String,
        headers extra: [(String, String)] = [],
        body: [UInt8],
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UnaryResponse {
        guard body.count <= MeshServer.unaryBodyLimit else { throw TransportError.bodyTooLarge(limit: MeshServer.unaryBodyLimit) }
        let connection = try await connect(configuration: configuration, group: group)
        defer { connection.channel.close(promise: nil) }
        return try await exchange(
            on: connection, configuration: configuration, method: method, path: path, headers: extra, body: body,
            timeout: configuration.requestTimeout, closeConnectionOnTimeout: true)
    }

    /// One request on a new stream of an open connection. On timeout the stream is reset, and
    /// with `closeConnectionOnTimeout` the whole connection closed.
    static func exchange(
        on connection: Connection, configuration: MeshClientConfiguration, method: String, path: String,
        headers extra: [(String, String)], body: [UInt8], timeout: TimeAmount, closeConnectionOnTimeout: Bool
    ) async throws -> UnaryResponse {
        let limit = MeshServer.unaryBodyLimit
        guard body.count <= limit else { throw TransportError.bodyTooLarge(limit: limit) }
        let channel = connection.channel
        let timedOut = NIOLockedValueBox(false)
        let streamBox = NIOLockedValueBox<(any Channel)?>(nil)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.withLockedValue { $0 = true }
            if closeConnectionOnTimeout {
                channel.close(promise: nil)
            } else {
                streamBox.withLockedValue { $0 }?.close(promise: nil)
            }
        }
        defer { deadline.cancel() }

        do {
            let stream = try await connection.mux.openStream { stream in
                streamBox.withLockedValue { $0 = stream }
                return stream.eventLoop.makeCompletedFuture { try StreamChannel(wrappingChannelSynchronously: stream) }
            }
            return try await stream.executeThenClose { inbound, outbound in
                var request: HPACKHeaders = [
                    ":method": method, ":scheme": configuration.tls == nil ? "http" : "https", ":path": path,
                    ":authority": authority(configuration),
                ]
                for (name, value) in extra { request.add(name: name.lowercased(), value: value) }
                if body.isEmpty {
                    try await outbound.write(.headers(.init(headers: request, endStream: true)))
                } else {
                    request.add(name: "content-length", value: "\(body.count)")
                    try await outbound.write(contentsOf: [
                        .headers(.init(headers: request)), .data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: true)),
                    ])
                }
                return try await readResponse(inbound, limit: limit)
            }
        } catch {
            if timedOut.withLockedValue({ $0 }) { throw TransportError.timedOut(timeout) }
            throw connection.explain(error)
        }
    }

    private static func readResponse(
        _ inbound: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>, limit: Int
    ) async throws -> UnaryResponse {
        var response: UnaryResponse?
        for try await frame in inbound {
            switch frame {
            case .headers(let headers):
                if var current = response {
                    // Trailers: kept with the headers.
                    for (name, value, _) in headers.headers { current.headers[name.lowercased()] = value }
                    response = current
                } else {
                    var fields: [String: String] = [:]
                    for (name, value, _) in headers.headers { fields[name.lowercased()] = value }
                    guard let status = fields[":status"].flatMap({ Int($0) }) else {
                        throw TransportError.unexpectedFrame("response without a valid :status")
                    }
                    // 1xx answers are interim; the real one follows.
                    if (100..<200).contains(status) && !headers.endStream { continue }
                    fields[":status"] = nil
                    response = UnaryResponse(status: status, headers: fields)
                }
                if headers.endStream, let response { return response }
            case .data(let data):
                guard var current = response else {
                    throw TransportError.unexpectedFrame("DATA before the response HEADERS")
                }
                if case .byteBuffer(let buffer) = data.data {
                    guard current.body.count + buffer.readableBytes <= limit else {
                        throw TransportError.bodyTooLarge(limit: limit)
                    }
                    current.body.append(contentsOf: buffer.readableBytesView)
                }
                response = current
                if data.endStream { return current }
            case .rstStream(let code):
                throw TransportError.streamReset(code)
            default:
                continue
            }
        }
        throw TransportError.connectionClosed
    }
}
