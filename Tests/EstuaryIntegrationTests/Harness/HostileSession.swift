import EstuaryWire
import Foundation
import NIOCore
import NIOHTTP2
// `@testable` only to reach the session stream's raw outbound writer, so that a test can put
// bytes on the stream that `EnvelopeWriter` would never produce (a lying frame header).
@testable import EstuaryTransport

/// What a hostile peer saw of its session after misbehaving.
struct HostileOutcome: Sendable {
    /// Envelopes the coordinator sent, in order (pure acks included).
    var received: [Estuary_V1_Envelope] = []
    /// How the stream ended: "end of stream", "reset (…)", or an error.
    var ending = "still open"

    var firstError: Estuary_V1_Error? {
        received.lazy.compactMap { if case .error(let error) = $0.body { error } else { nil } }.first
    }
    var gotWelcome: Bool { received.contains { if case .welcome = $0.body { true } else { false } } }
    /// The stream was ended by the coordinator: END_STREAM, or a reset after it.
    var streamEnded: Bool { ending == "end of stream" || ending.hasPrefix("reset") }
}

enum HostileSession {
    static func hello(site: String) -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(body: .hello(.with {
            $0.protocolVersions = [1]
            $0.site = .with {
                $0.id = site
                $0.displayName = "hostile test peer"
                $0.region = "nowhere"
                $0.driver = "process"
            }
            $0.agentVersion = "hostile-0"
            $0.agentInstance = UUID().uuidString
            $0.outboxEpoch = UUID().uuidString
            $0.nextSeq = 1
        }))
    }

    /// Opens a real session as `site`, runs `misbehave` with it, then reads what the coordinator
    /// sends until the stream ends or `timeout` passes.
    static func run(
        meshPort: Int, site: String, tls: MeshClientTLS? = nil, timeout: Duration = .seconds(10),
        _ misbehave: @escaping @Sendable (inout EnvelopeReader, EnvelopeWriter, inout HostileOutcome) async throws -> Void
    ) async throws -> HostileOutcome {
        let configuration = {
            var configuration = MeshClientConfiguration(host: "127.0.0.1", port: meshPort)
            configuration.tls = tls
            return configuration
        }()
        return try await withDeadline("a hostile session as \(site) to end", timeout) {
            try await MeshClient.withSession(
                configuration: configuration, headers: [("estuary-protocol", "1"), ("estuary-site", site)]
            ) { session in
                var reader = session.reader
                var outcome = HostileOutcome()
                try await misbehave(&reader, session.writer, &outcome)
                do {
                    while let envelope = try await reader.next() { outcome.received.append(envelope) }
                    outcome.ending = "end of stream"
                } catch TransportError.streamReset(let code) {
                    outcome.ending = "reset (\(code))"
                } catch {
                    outcome.ending = "error: \(error)"
                }
                return outcome
            }
        }
    }

    /// Writes raw bytes on the session stream, bypassing the frame encoder.
    static func writeRaw(_ bytes: [UInt8], to writer: EnvelopeWriter) async throws {
        try await writer.outbound.write(.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)))))
    }
}
