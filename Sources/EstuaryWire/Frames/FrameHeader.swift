import NIOCore

/// The fixed 5-byte prefix of every frame: one flag byte, then the payload length as a
/// big-endian `UInt32`.
struct FrameHeader: Hashable, Sendable {
    static let size = 5
    /// Bit 0: the payload is a zstd frame.
    static let compressedFlag: UInt8 = 0x01
    /// Bits 1–7 are reserved and must be zero in version 1.
    static let reservedMask: UInt8 = 0xFE

    var flags: UInt8
    var length: Int

    var isCompressed: Bool { flags & Self.compressedFlag != 0 }

    /// Reads a header at the buffer's reader index without moving it; nil if fewer than five
    /// bytes are buffered.
    static func peek(in buffer: ByteBuffer) -> FrameHeader? {
        guard buffer.readableBytes >= size,
            let flags = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, endianness: .big, as: UInt32.self)
        else { return nil }
        return FrameHeader(flags: flags, length: Int(length))
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(flags)
        buffer.writeInteger(UInt32(truncatingIfNeeded: length), endianness: .big)
    }
}
