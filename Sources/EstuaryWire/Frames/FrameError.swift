/// Why a frame could not be encoded or decoded. Every case is fatal for the session: the
/// receiver answers with `Error{code: protocolErrorCode, fatal: true}` and ends its side of the
/// stream (PROTOCOL.md §3.6).
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload length (from a header, or of a payload to send) exceeds the limit.
    case oversized(length: Int, limit: Int)
    /// Flag bits 1–7 are reserved and were not zero; the peer speaks a newer or broken format.
    case reservedFlags(UInt8)
    /// A compressed frame arrived before zstd was negotiated in Hello/Welcome.
    case compressedButNotNegotiated
    /// The zstd payload could not be decompressed.
    case decompressionFailed(String)
    /// The zstd payload would decompress to more than the limit.
    case decompressedTooLarge(limit: Int)
    /// The payload is not a valid `Envelope`.
    case malformedEnvelope(String)
    /// The stream ended in the middle of a frame: `have` bytes of a frame needing `need`
    /// (including the 5-byte header; `need` is 5 while the header itself is incomplete).
    case truncated(have: Int, need: Int)
    /// The envelope could not be serialized (a bug on the sending side, not a peer's fault).
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .oversized(let length, let limit):
            "frame payload of \(length) bytes exceeds the limit of \(limit) bytes; split the data "
                + "(e.g. smaller log chunks or usage batches) or raise max_frame_bytes on both sides"
        case .reservedFlags(let flags):
            "frame flags 0x\(String(flags, radix: 16)) set reserved bits (only bit 0, zstd, is defined); "
                + "the peer speaks an incompatible frame format"
        case .compressedButNotNegotiated:
            "received a zstd-compressed frame but compression was not negotiated in Hello/Welcome; "
                + "the peer must not compress before Welcome or when Welcome.compression is empty"
        case .decompressionFailed(let reason):
            "could not decompress a zstd frame payload: \(reason)"
        case .decompressedTooLarge(let limit):
            "zstd frame payload would decompress to more than the limit of \(limit) bytes"
                + "; the peer must send smaller envelopes"
        case .malformedEnvelope(let reason):
            "frame payload is not a valid estuary.v1.Envelope: \(reason)"
        case .truncated(let have, let need):
            "stream ended in the middle of a frame: got \(have) of \(need) bytes; the peer closed "
                + "the stream early or the connection was cut"
        case .encodingFailed(let reason):
            "could not serialize an envelope: \(reason)"
        }
    }

    /// The `ErrorCode` to send to the peer in the fatal `Error` envelope.
    public var protocolErrorCode: Estuary_V1_ErrorCode {
        switch self {
        case .oversized, .decompressedTooLarge: .frameTooLarge
        case .reservedFlags, .malformedEnvelope, .truncated: .malformedFrame
        case .compressedButNotNegotiated, .decompressionFailed: .compression
        case .encodingFailed: .internal
        }
    }
}
