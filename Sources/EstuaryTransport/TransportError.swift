import NIOCore
import NIOHTTP2

/// What can go wrong below the session protocol.
public enum TransportError: Error, Sendable, CustomStringConvertible {
    /// The peer answered the session request with a non-200 status.
    case refused(status: Int, message: String, retryAfterSeconds: Int?)
    /// The peer reset the stream.
    case streamReset(HTTP2ErrorCode)
    /// The connection closed before the session ended cleanly.
    case connectionClosed
    /// No PING acknowledgement within the keepalive timeout.
    case keepaliveTimeout
    /// The peer sent something that is not the expected HTTP shape.
    case unexpectedFrame(String)
    case connectFailed(host: String, port: Int, underlying: String)
    /// The TLS handshake failed or the peer refused us; the reason says which certificate
    /// check, or which TLS alert.
    case tlsFailed(String)
    /// Certificates or keys given for TLS are unusable.
    case tlsConfiguration(String)
    /// A unary request did not complete in time.
    case timedOut(TimeAmount)
    /// A unary request or response body exceeds the limit.
    case bodyTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .refused(let status, let message, let retry):
            "session refused with HTTP \(status): \(message)" + (retry.map { " (retry after \($0) s)" } ?? "")
        case .streamReset(let code): "stream reset by peer (\(code))"
        case .connectionClosed: "connection closed"
        case .keepaliveTimeout: "no HTTP/2 PING acknowledgement within the keepalive timeout"
        case .unexpectedFrame(let what): "unexpected HTTP/2 frame: \(what)"
        case .connectFailed(let host, let port, let underlying): "cannot connect to \(host):\(port): \(underlying)"
        case .tlsFailed(let reason): "TLS failed: \(reason)"
        case .tlsConfiguration(let reason): "TLS configuration: \(reason)"
        case .timedOut(let limit): "no answer within \(limit.nanoseconds / 1_000_000) ms"
        case .bodyTooLarge(let limit): "body larger than \(limit) bytes"
        }
    }
}
