import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOSSL

/// A Hummingbird child channel that serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on
/// the same port: ``HTTPPrefaceSniffer`` reads the first bytes of each connection and hands it
/// to Hummingbird's own `HTTP1Channel` or `HTTP2Channel`.
///
/// Hummingbird's `.http1()` speaks only HTTP/1.1 and `.plaintextHTTP2()` only h2c; the API is
/// used by curl, browsers and estuaryctl (HTTP/1.1) and by HTTP/2 clients such as nghttp and
/// gRPC-style tooling, so it takes both.
///
/// With TLS, the TLS handler goes first and the sniffer reads the decrypted bytes: a client
/// that negotiated `h2` by ALPN starts with the preface like an h2c client does, so one rule
/// serves both. (The bytes decide, not ALPN: a client that negotiated nothing still works.)
struct HTTP1AndHTTP2Channel: ServerChildChannel {
    /// What runs under HTTP on each connection.
    enum Security: Sendable {
        case cleartext
        case tls(NIOSSLContext)
        /// TLS was asked for but its configuration could not be loaded: refuse every
        /// connection rather than fall back to cleartext.
        case unusableTLS(reason: String)
    }

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
    let security: Security

    init(
        responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP2ChannelConfiguration = .init(),
        security: Security = .cleartext
    ) {
        self.http1 = HTTP1Channel(responder: responder, configuration: configuration.streamConfiguration)
        self.http2 = HTTP2Channel(responder: responder, configuration: configuration)
        self.security = security
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            switch security {
            case .cleartext: break
            case .tls(let context): try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
            case .unusableTLS(let reason): throw UnusableTLS(reason: reason)
            }
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

    /// HTTP/1.1 and HTTP/2 on one port, under TLS when `security` says so.
    static func http1AndHTTP2(
        security: HTTP1AndHTTP2Channel.Security, configuration: HTTP2ChannelConfiguration = .init()
    ) -> HTTPServerBuilder {
        .init { responder in HTTP1AndHTTP2Channel(responder: responder, configuration: configuration, security: security) }
    }
}

/// A connection refused because the API's TLS configuration could not be loaded.
struct UnusableTLS: Error, CustomStringConvertible {
    var reason: String
    var description: String { "the API's TLS configuration cannot be used: \(reason)" }
}
