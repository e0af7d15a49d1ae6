import Hummingbird
import NIOCore

/// The request context of the API: Hummingbird's basics plus the client's address, which the
/// audit log records and the rate limiter keys unauthenticated clients by.
struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// A client's address as the audit log (`ip:port`) and the rate limiter (`ip`) use it.
struct ClientAddress: Sendable, Hashable {
    /// `203.0.113.7:52114`, `[2001:db8::1]:52114`, or `unknown` (in-process tests).
    var text: String
    /// The address without the port: one rate-limit bucket per host, not per connection.
    var host: String

    init(_ address: SocketAddress?) {
        guard let address, let ip = address.ipAddress else {
            text = "unknown"
            host = "unknown"
            return
        }
        host = ip
        let port = address.port.map(String.init) ?? "?"
        text = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
