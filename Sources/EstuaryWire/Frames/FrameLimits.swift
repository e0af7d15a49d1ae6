/// Size limits and compression tuning for one direction of a session.
///
/// `maxFrameBytes` bounds the payload length written in the frame header *and* the length of a
/// compressed payload once decompressed, so neither a large frame nor a small compressed one
/// can make a receiver hold more than this many payload bytes.
public struct FrameLimits: Sendable, Hashable {
    /// The default payload limit: 4 MiB.
    public static let defaultMaxFrameBytes = 4_194_304

    /// Largest payload (wire and decompressed) accepted or produced, in bytes. Always within
    /// `1...UInt32.max`.
    public var maxFrameBytes: Int {
        didSet { maxFrameBytes = Self.clampFrameBytes(maxFrameBytes) }
    }
    /// Payloads shorter than this are never compressed.
    public var compressionThreshold: Int
    /// zstd compression level used by the encoder (1 fast … 19 small; 3 is zstd's default).
    public var zstdLevel: Int32

    /// - Parameters:
    ///   - maxFrameBytes: clamped to `1...UInt32.max` (the header's length field is 32 bits).
    ///   - compressionThreshold: payloads below it are sent as they are.
    ///   - zstdLevel: passed to `ZSTD_compress`.
    public init(
        maxFrameBytes: Int = FrameLimits.defaultMaxFrameBytes,
        compressionThreshold: Int = 1024,
        zstdLevel: Int32 = 3
    ) {
        self.maxFrameBytes = Self.clampFrameBytes(maxFrameBytes)
        self.compressionThreshold = max(0, compressionThreshold)
        self.zstdLevel = zstdLevel
    }

    private static func clampFrameBytes(_ value: Int) -> Int {
        min(max(value, 1), Int(UInt32.max))
    }
}
