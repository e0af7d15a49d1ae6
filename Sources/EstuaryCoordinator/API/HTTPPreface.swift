/// Telling HTTP/2 with prior knowledge from HTTP/1.1 by a connection's first bytes.
///
/// An h2c client with prior knowledge starts with the fixed 24-byte connection preface
/// (RFC 9113 §3.4); an HTTP/1.1 request line never does (no method is `PRI`). So the first
/// byte that differs from the preface, or the whole preface, decides.
enum HTTPPreface {
    /// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
    static let bytes: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Verdict: Sendable, Hashable {
        case http1
        case http2
        /// Everything so far is a prefix of the preface: read more.
        case undecided
    }

    static func classify(_ received: some Collection<UInt8>) -> Verdict {
        var count = 0
        for (byte, expected) in zip(received, bytes) {
            guard byte == expected else { return .http1 }
            count += 1
        }
        return count == bytes.count ? .http2 : .undecided
    }
}
