import NIOCore
import SwiftProtobuf

/// Turns envelopes into frames (PROTOCOL.md §3): a flag byte, a big-endian `UInt32` payload
/// length, and the deterministic protobuf encoding of the envelope, zstd-compressed when that
/// was negotiated, the payload is at least `limits.compressionThreshold` bytes and compression
/// actually makes it smaller. Hello and Welcome are never compressed.
public struct FrameEncoder: Sendable {
    /// Payload limit and compression tuning.
    public var limits: FrameLimits
    /// The compression negotiated for this session; `.none` until Welcome.
    public var compression: Compression

    /// Deterministic so that the same envelope always yields the same bytes (map entries are
    /// sorted by key), which the test vectors and any byte-level comparison rely on.
    static let encodingOptions: BinaryEncodingOptions = {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }()

    public init(limits: FrameLimits = FrameLimits(), compression: Compression = .none) {
        self.limits = limits
        self.compression = compression
    }

    /// Appends one frame holding `envelope` to `buffer`.
    ///
    /// - Throws: `FrameError.oversized` when the serialized envelope exceeds
    ///   `limits.maxFrameBytes` (nothing is written then), `.encodingFailed` if protobuf
    ///   serialization fails.
    public func encode(_ envelope: Estuary_V1_Envelope, into buffer: inout ByteBuffer) throws(FrameError) {
        let payload: [UInt8]
        do {
            payload = try envelope.serializedBytes(options: Self.encodingOptions)
        } catch {
            throw .encodingFailed("\(error)")
        }
        guard payload.count <= limits.maxFrameBytes else {
            throw .oversized(length: payload.count, limit: limits.maxFrameBytes)
        }
        if shouldCompress(envelope, payloadLength: payload.count),
            appendCompressed(payload, to: &buffer)
        {
            return
        }
        buffer.reserveCapacity(minimumWritableBytes: FrameHeader.size + payload.count)
        FrameHeader(flags: 0, length: payload.count).write(to: &buffer)
        buffer.writeBytes(payload)
    }

    /// Returns one frame holding `envelope` in a new buffer.
    public func encode(_ envelope: Estuary_V1_Envelope) throws(FrameError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try encode(envelope, into: &buffer)
        return buffer
    }

    private func shouldCompress(_ envelope: Estuary_V1_Envelope, payloadLength: Int) -> Bool {
        guard compression == .zstd, payloadLength >= limits.compressionThreshold else { return false }
        switch envelope.body {
        case .hello, .welcome: return false
        default: return true
        }
    }

    /// Writes a compressed frame straight into `buffer` and returns true, or leaves `buffer` as
    /// it was and returns false when compression fails or saves nothing.
    private func appendCompressed(_ payload: [UInt8], to buffer: inout ByteBuffer) -> Bool {
        let headerIndex = buffer.writerIndex
        FrameHeader(flags: 0, length: 0).write(to: &buffer)
        let level = limits.zstdLevel
        let written = payload.withUnsafeBytes { source in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Zstd.compressBound(source.count)) { destination in
                (try? Zstd.compress(source, into: destination, level: level)) ?? 0
            }
        }
        guard written > 0, written < payload.count else {
            buffer.moveWriterIndex(to: headerIndex)
            return false
        }
        buffer.setInteger(FrameHeader.compressedFlag, at: headerIndex)
        buffer.setInteger(UInt32(written), at: headerIndex + 1, endianness: .big)
        return true
    }
}
