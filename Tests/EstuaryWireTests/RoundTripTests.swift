import EstuaryWire
import NIOCore
import Testing

@Suite("frame round trips")
struct RoundTripTests {
    @Test("seeded random envelopes round-trip in random chunk sizes, with and without zstd", arguments: [Compression.none, .zstd])
    func randomEnvelopesRoundTrip(_ compression: Compression) throws {
        var compressedFrames = 0
        for seed in FuzzSeeds.seeds(count: 40) {
            var random = RandomEnvelopes(seed: seed)
            let envelopes = (0..<random.int(1...12)).map { _ in random.envelope() }
            let encoder = FrameEncoder(compression: compression)
            var stream = ByteBuffer()
            for envelope in envelopes {
                let start = stream.writerIndex
                try encoder.encode(envelope, into: &stream)
                if stream.getInteger(at: start, as: UInt8.self) == 1 { compressedFrames += 1 }
            }
            let maxChunk = random.int(1...4096)
            let result = Drive.decodeAll(stream.bytes, acceptCompressed: compression == .zstd) {
                random.int(1...maxChunk)
            }
            #expect(result.error == nil, "seed \(seed)")
            #expect(result.envelopes == envelopes, "seed \(seed)")
        }
        if compression == .zstd, FuzzSeeds.seeds(count: 40).count > 1 {
            #expect(compressedFrames > 0, "some random envelopes were large enough to compress")
        }
    }

    @Test("many frames in one chunk all come out, in order")
    func manyFramesInOneChunk() throws {
        let envelopes = (1...500).map { Estuary_V1_Envelope(seq: UInt64($0), ack: 0, body: nil) }
        var stream = ByteBuffer()
        for envelope in envelopes { try FrameEncoder().encode(envelope, into: &stream) }
        var decoder = FrameDecoder()
        decoder.append(stream)
        var decoded: [Estuary_V1_Envelope] = []
        while let envelope = try decoder.next() { decoded.append(envelope) }
        try decoder.finish()
        #expect(decoded == envelopes)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("an empty envelope is a 5-byte frame that decodes as a pure ack")
    func emptyEnvelope() throws {
        let frame = try FrameEncoder().encode(Estuary_V1_Envelope()).bytes
        #expect(frame == [0, 0, 0, 0, 0])
        let result = Drive.decodeAll(frame)
        #expect(result.envelopes.count == 1)
        #expect(result.envelopes.first?.isPureAck == true)
    }

    @Test("unknown fields from a newer peer are ignored, not rejected")
    func unknownFieldsIgnored() throws {
        // Fields 1 (seq = 7) and 99 (varint 1), which version 1 does not define.
        let payload: [UInt8] = [0x08, 0x07, 0x98, 0x06, 0x01]
        let frame: [UInt8] = [0, 0, 0, 0, UInt8(payload.count)] + payload
        let result = Drive.decodeAll(frame)
        #expect(result.error == nil)
        #expect(result.envelopes.first?.seq == 7)
        #expect(result.envelopes.first?.body == nil)
    }
}
