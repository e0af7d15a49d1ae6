import EstuaryWire
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Reads the envelopes of one session stream: HTTP/2 DATA frames in, Estuary frames decoded,
/// envelopes out. Iterate it once. Compression is accepted once the owner switches it on in
/// the shared `SessionCodec` after the handshake.
public struct EnvelopeReader: AsyncSequence, AsyncIteratorProtocol {
    public typealias Element = Estuary_V1_Envelope
    var frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator
    let codec: SessionCodec
    var decoder: FrameDecoder
    var ended = false

    init(frames: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>.AsyncIterator, codec: SessionCodec) {
        self.frames = frames
        self.codec = codec
        self.decoder = FrameDecoder(limits: codec.limits, acceptCompressed: false)
    }

    public func makeAsyncIterator() -> EnvelopeReader { self }

    /// The next envelope; nil when the peer ended the stream cleanly. Throws `FrameError`
    /// for bad frames and `TransportError` for resets.
    public mutating func next() async throws -> Estuary_V1_Envelope? {
        while true {
            decoder.acceptCompressed = codec.compression != .none
            if let envelope = try decoder.next() { return envelope }
            if ended {
                try decoder.finish()
                return nil
            }
            guard let payload = try await frames.next() else {
                ended = true
                continue
            }
            switch payload {
            case .data(let data):
                if case .byteBuffer(let buffer) = data.data {
                    decoder.append(buffer)
                }
                if data.endStream { ended = true }
            case .headers(let headers):
                // Trailers end the stream; leading headers were consumed by the opener.
                if headers.endStream { ended = true }
            case .rstStream(let code):
                throw TransportError.streamReset(code)
            default:
                continue
            }
        }
    }
}

/// Writes envelopes to one session stream. Safe to use from several tasks: each envelope is
/// encoded whole and written as one DATA frame sequence, so frames never interleave.
public struct EnvelopeWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>
    let codec: SessionCodec

    public func send(_ envelope: Estuary_V1_Envelope) async throws {
        let buffer = try codec.encode(envelope)
        try await outbound.write(.data(.init(data: .byteBuffer(buffer))))
    }

    /// Sends several envelopes with one write (one flush).
    public func send(contentsOf envelopes: [Estuary_V1_Envelope]) async throws {
        guard !envelopes.isEmpty else { return }
        var combined = ByteBuffer()
        for envelope in envelopes {
            var one = try codec.encode(envelope)
            combined.writeBuffer(&one)
        }
        try await outbound.write(.data(.init(data: .byteBuffer(combined))))
    }

    /// Ends our side of the stream.
    public func finish() async {
        try? await outbound.write(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
        outbound.finish()
    }
}

/// Negotiated codec state shared by a session's reader and writer: compression starts off and
/// is switched on after Hello/Welcome (those two are never compressed).
public final class SessionCodec: Sendable {
    public let limits: FrameLimits
    private let state: NIOLockedValueBox<Compression>

    public init(limits: FrameLimits) {
        self.limits = limits
        self.state = NIOLockedValueBox(.none)
    }

    public var compression: Compression {
        get { state.withLockedValue { $0 } }
    }

    /// Switches compression on or off for both directions from now on.
    public func use(_ compression: Compression) {
        state.withLockedValue { $0 = compression }
    }

    func encode(_ envelope: Estuary_V1_Envelope) throws -> ByteBuffer {
        let encoder = FrameEncoder(limits: limits, compression: compression)
        return try encoder.encode(envelope)
    }
}

extension HPACKHeaders {
    /// The first value of a header, by lower-case name.
    func value(_ name: String) -> String? { self.first(name: name) }
}
