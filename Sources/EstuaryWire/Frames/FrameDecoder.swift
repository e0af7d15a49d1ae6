import NIOCore
import SwiftProtobuf

/// Splits a byte stream that arrives in arbitrary chunks (HTTP/2 DATA frames) into envelopes.
///
/// Feed bytes with `append(_:)`, then call `next()` until it returns nil; call `finish()` when
/// the stream ends. The decoder checks each 5-byte header as soon as it is complete, so an
/// oversized length, reserved flag bits or an unexpected compressed frame are refused before
/// any of the payload is buffered. Errors are sticky: after `next()` throws, the stream is
/// unusable and every later call throws the same error (PROTOCOL.md §3.6 makes every frame
/// error fatal for the session).
public struct FrameDecoder: Sendable {
    /// Payload limit, applied to the header's length and to the decompressed length.
    public var limits: FrameLimits
    /// Whether compressed frames are allowed; false until zstd is negotiated.
    public var acceptCompressed: Bool

    private var buffered: ByteBuffer?
    private var failure: FrameError?

    static let decodingOptions = BinaryDecodingOptions()

    public init(limits: FrameLimits = FrameLimits(), acceptCompressed: Bool = false) {
        self.limits = limits
        self.acceptCompressed = acceptCompressed
    }

    /// Bytes received and not yet returned as an envelope.
    public var bufferedBytes: Int { buffered?.readableBytes ?? 0 }

    /// Adds bytes from the stream. Takes `bytes` without copying when nothing is buffered.
    public mutating func append(_ bytes: ByteBuffer) {
        guard failure == nil, bytes.readableBytes > 0 else { return }
        guard buffered != nil else {
            buffered = bytes
            return
        }
        // Reclaim consumed bytes only when the buffer would otherwise grow and they are at least
        // half of it, so a burst of frames is never moved in memory frame by frame.
        if buffered!.writableBytes < bytes.readableBytes, buffered!.readerIndex >= buffered!.readableBytes {
            buffered!.discardReadBytes()
        }
        buffered!.writeImmutableBuffer(bytes)
    }

    /// The next complete envelope, or nil when more bytes are needed.
    public mutating func next() throws(FrameError) -> Estuary_V1_Envelope? {
        if let failure { throw failure }
        do {
            return try decodeNext()
        } catch {
            failure = error
            buffered = nil
            throw error
        }
    }

    /// Checks that the stream ended on a frame boundary.
    ///
    /// - Throws: `FrameError.truncated` when part of a frame is buffered, or the error that
    ///   `next()` already threw. Complete frames still buffered are not an error; drain them
    ///   with `next()` first.
    public func finish() throws(FrameError) {
        if let failure { throw failure }
        guard let buffered, buffered.readableBytes > 0 else { return }
        let need = FrameHeader.peek(in: buffered).map { FrameHeader.size + $0.length } ?? FrameHeader.size
        if buffered.readableBytes < need {
            throw .truncated(have: buffered.readableBytes, need: need)
        }
    }

    private mutating func decodeNext() throws(FrameError) -> Estuary_V1_Envelope? {
        guard let header = buffered.flatMap(FrameHeader.peek(in:)) else { return nil }
        if header.flags & FrameHeader.reservedMask != 0 { throw .reservedFlags(header.flags) }
        if header.length > limits.maxFrameBytes {
            throw .oversized(length: header.length, limit: limits.maxFrameBytes)
        }
        if header.isCompressed, !acceptCompressed { throw .compressedButNotNegotiated }

        // Wait for the rest. Memory grows with the bytes that actually arrive (the buffer
        // doubles), never with the length a peer merely claims: five bytes must not make us
        // allocate megabytes.
        guard buffered!.readableBytes >= FrameHeader.size + header.length else { return nil }
        var buffer = buffered!
        buffered = nil
        buffer.moveReaderIndex(forwardBy: FrameHeader.size)
        let payload = buffer.readSlice(length: header.length)!
        if buffer.readableBytes > 0 { buffered = buffer }
        return try decodePayload(payload, compressed: header.isCompressed)
    }

    private func decodePayload(_ payload: ByteBuffer, compressed: Bool) throws(FrameError) -> Estuary_V1_Envelope {
        if !compressed {
            return try Self.parse { () throws in
                try Estuary_V1_Envelope(serializedBytes: payload.readableBytesSpan, options: Self.decodingOptions)
            }
        }
        let limit = limits.maxFrameBytes
        let plain: Result<[UInt8], Zstd.Failure> = payload.withUnsafeReadableBytes { source in
            Result { () throws(Zstd.Failure) in try Zstd.decompress(source, limit: limit) }
        }
        switch plain {
        case .success(let bytes):
            return try Self.parse { () throws in
                try Estuary_V1_Envelope(serializedBytes: bytes, options: Self.decodingOptions)
            }
        case .failure(.contentTooLarge):
            throw .decompressedTooLarge(limit: limit)
        case .failure(let failure):
            throw .decompressionFailed(failure.description)
        }
    }

    private static func parse(_ body: () throws -> Estuary_V1_Envelope) throws(FrameError) -> Estuary_V1_Envelope {
        do {
            return try body()
        } catch {
            throw .malformedEnvelope("\(error)")
        }
    }
}
