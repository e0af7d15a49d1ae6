import Hummingbird
import Logging
import NIOCore

/// Builds the admin/user API server (routes in `Protocol/admin-api.yaml`) over `backend`.
///
/// The result is a swift-service-lifecycle `Service`: run it in the coordinator's
/// `ServiceGroup`, which stops it gracefully on SIGTERM. One port serves HTTP/1.1 and
/// cleartext HTTP/2 with prior knowledge.
///
/// - Parameters:
///   - backend: the coordinator behind the routes.
///   - configuration: bind address and body limit.
///   - logger: used for server lifecycle (info) and each request (debug).
///   - onBound: called once the socket is listening, with the bound port; the way to learn
///     the port when `configuration.port` is 0.
public func makeAPIApplication(
    backend: some CoordinatorBackend,
    configuration: APIConfiguration,
    logger: Logger,
    onBound: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let responder = APIResponder(backend: backend, maxBodyBytes: configuration.maxBodyBytes, logger: logger)
    return Application(
        responder: responder,
        server: .http1AndPlaintextHTTP2(),
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
