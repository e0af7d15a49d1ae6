import Hummingbird
import Logging
import NIOCore
import NIOSSL

/// Builds the admin/user API server (routes in `Protocol/admin-api.yaml`) over `backend`.
///
/// The result is a swift-service-lifecycle `Service`: run it in the coordinator's
/// `ServiceGroup`, which stops it gracefully on SIGTERM. One port serves HTTP/1.1 and HTTP/2
/// (h2c with prior knowledge, or h2 by ALPN under TLS).
///
/// - Parameters:
///   - backend: the coordinator behind the routes.
///   - configuration: bind address, body limit, rate limit, TLS. Check it first with
///     ``APIConfiguration/validate()``: a TLS configuration that cannot be loaded is reported
///     here only in the log, and every connection is then refused.
///   - logger: used for server lifecycle (info) and each request (debug).
///   - onBound: called once the socket is listening, with the bound port; the way to learn
///     the port when `configuration.port` is 0.
public func makeAPIApplication(
    backend: some CoordinatorBackend,
    configuration: APIConfiguration,
    logger: Logger,
    onBound: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let responder = APIResponder(backend: backend, configuration: configuration, logger: logger)
    let security: HTTP1AndHTTP2Channel.Security
    if let tls = configuration.effectiveTLS {
        do {
            security = .tls(try NIOSSLContext(configuration: tls))
        } catch {
            logger.critical("the API's TLS configuration cannot be used; refusing every connection", metadata: ["error": "\(error)"])
            security = .unusableTLS(reason: "\(error)")
        }
    } else {
        security = .cleartext
    }
    return Application(
        responder: responder,
        server: .http1AndHTTP2(security: security),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "estuary-coordinator"
        ),
        onServerRunning: { channel in
            await onBound(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger
    )
}
