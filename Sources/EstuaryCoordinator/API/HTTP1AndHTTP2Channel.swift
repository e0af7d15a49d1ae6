import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore

/// A Hummingbird child channel that serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on
/// the same port: ``HTTPPrefaceSniffer`` reads the first bytes of each connection and hands it
/// to Hummingbird's own `HTTP1Channel` or `HTTP2Channel`.
///
/// Hummingbird's `.http1()` speaks only HTTP/1.1 and `.plaintextHTTP2()` only h2c; the API is
/// used by curl, browsers and estuaryctl (HTTP/1.1) and by HTTP/2 clients such as nghttp and
/// gRPC-style tooling, so it takes both.
struct HTTP1AndHTTP2Channel: ServerChildChannel {
    enum Negotiated: Sendable {
        case http1(HTTP1Channel.Value)
        case http2(HTTP2Channel.Value)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let http1: HTTP1Channel
    let http2: HTTP2Channel

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP2ChannelConfiguration = .init()) {
        self.http1 = HTTP1Channel(responder: responder, configuration: configuration.streamConfiguration)
        self.http2 = HTTP2Channel(responder: responder, configuration: configuration)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let promise = channel.eventLoop.makePromise(of: Negotiated.self)
            let sniffer = HTTPPrefaceSniffer<Negotiated>(promise: promise) { verdict in
                switch verdict {
                case .http2: self.http2.setup(channel: channel, logger: logger).map { .http2($0) }
                case .http1, .undecided: self.http1.setup(channel: channel, logger: logger).map { .http1($0) }
                }
            }
            try channel.pipeline.syncOperations.addHandler(sniffer)
            return Value(negotiated: promise.futureResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.trace("connection closed before its protocol was known", metadata: ["error": "\(error)"])
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 and h2c with prior knowledge on one port (see ``HTTP1AndHTTP2Channel``).
    static func http1AndPlaintextHTTP2(configuration: HTTP2ChannelConfiguration = .init()) -> HTTPServerBuilder {
        .init { responder in HTTP1AndHTTP2Channel(responder: responder, configuration: configuration) }
    }
}
