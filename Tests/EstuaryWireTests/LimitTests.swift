import EstuaryWire
import Foundation
import NIOCore
import Testing

@Suite("frame limits")
struct LimitTests {
    /// A log chunk whose serialized envelope is exactly `size` bytes.
    static func envelope(payloadSize size: Int) throws -> Estuary_V1_Envelope {
        var envelope = Estuary_V1_Envelope(body: .logChunk(.with { $0.jobID = "j-limit" }))
        var dataCount = max(0, size - 16)
        for _ in 0..<8 {
            envelope.logChunk.data = Data(repeating: 0x61, count: dataCount)
            let actual: [UInt8] = try envelope.serializedBytes()
            if actual.count == size { return envelope }
            dataCount += size - actual.count
        }
        Issue.record("could not build an envelope of \(size) bytes")
        return envelope
    }

    @Test("a frame of exactly the default limit passes and one byte more fails")
    func exactlyAtTheLimit() throws {
        let limit = FrameLimits.defaultMaxFrameBytes
        let atLimit = try Self.envelope(payloadSize: limit)
        let frame = try FrameEncoder().encode(atLimit)
        #expect(frame.readableBytes == 5 + limit)
        var decoder = FrameDecoder()
        decoder.append(frame)
        #expect(try decoder.next() == atLimit)

        let overLimit = try Self.envelope(payloadSize: limit + 1)
        #expect(throws: FrameError.oversized(length: limit + 1, limit: limit)) { try FrameEncoder().encode(overLimit) }
        let bigger = try FrameEncoder(limits: FrameLimits(maxFrameBytes: limit + 1)).encode(overLimit)
        var strict = FrameDecoder()
        strict.append(bigger)
        #expect(throws: FrameError.oversized(length: limit + 1, limit: limit)) { try strict.next() }
    }

    @Test("an oversized length is refused from the header alone, before the payload arrives")
    func oversizedHeaderRefusedEarly() throws {
        var decoder = FrameDecoder()
        for byte: UInt8 in [0x00, 0xFF, 0xFF, 0xFF] {
            decoder.append(ByteBuffer(bytes: [byte]))
            #expect(try decoder.next() == nil)
        }
        decoder.append(ByteBuffer(bytes: [0xFF]))
        #expect(throws: FrameError.oversized(length: Int(UInt32.max), limit: FrameLimits.defaultMaxFrameBytes)) {
            try decoder.next()
        }
        #expect(decoder.bufferedBytes == 0, "nothing of the hostile frame is kept")
    }

    @Test("a 1 MB frame arriving in 16 KiB chunks decodes once complete")
    func largeFrameAcrossChunks() throws {
        let envelope = try Self.envelope(payloadSize: 1_000_000)
        let frame = try FrameEncoder().encode(envelope).bytes
        let result = Drive.decodeAll(frame, chunkSize: { 16_384 })
        #expect(result.error == nil)
        #expect(result.envelopes == [envelope])
    }

    @Test("a negotiated smaller limit applies to both sides")
    func negotiatedLimit() throws {
        let limits = FrameLimits(maxFrameBytes: 100)
        let fits = try Self.envelope(payloadSize: 100)
        let frame = try FrameEncoder(limits: limits).encode(fits).bytes
        #expect(Drive.decodeAll(frame, limits: limits).envelopes == [fits])
        #expect(throws: FrameError.oversized(length: 101, limit: 100)) {
            try FrameEncoder(limits: limits).encode(try Self.envelope(payloadSize: 101))
        }
    }

    @Test("a decompression bomb is refused without decompressing it")
    func decompressionBomb() throws {
        let bomb = try Zstd.compress([UInt8](repeating: 0, count: 16 << 20))
        #expect(bomb.count < 4096)
        let frame: [UInt8] = [0x01] + withUnsafeBytes(of: UInt32(bomb.count).bigEndian, Array.init) + bomb
        let result = Drive.decodeAll(frame)
        #expect(result.error == .decompressedTooLarge(limit: FrameLimits.defaultMaxFrameBytes))
    }

    @Test("the decompressed length counts against the limit, not only the wire length")
    func decompressedLengthLimited() throws {
        let envelope = try Self.envelope(payloadSize: 2000)  // compresses to far less than 1000
        let frame = try FrameEncoder(limits: FrameLimits(maxFrameBytes: 4000), compression: .zstd).encode(envelope).bytes
        #expect(frame[0] == 1)
        #expect(frame.count - 5 < 1000)
        let result = Drive.decodeAll(frame, limits: FrameLimits(maxFrameBytes: 1000))
        #expect(result.error == .decompressedTooLarge(limit: 1000))
        #expect(Drive.decodeAll(frame, limits: FrameLimits(maxFrameBytes: 2000)).envelopes == [envelope])
    }

    @Test("limits are clamped to what a 32-bit length can express")
    func limitsClamped() {
        #expect(FrameLimits(maxFrameBytes: 0).maxFrameBytes == 1)
        #expect(FrameLimits(maxFrameBytes: Int.max).maxFrameBytes == Int(UInt32.max))
        var limits = FrameLimits()
        limits.maxFrameBytes = -5
        #expect(limits.maxFrameBytes == 1)
    }
}
