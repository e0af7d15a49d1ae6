import EstuaryWire
import NIOCore
import Testing

@Suite("decoder robustness")
struct RobustnessTests {
    static func stream(seed: UInt64, compression: Compression) throws -> (bytes: [UInt8], random: RandomEnvelopes) {
        var random = RandomEnvelopes(seed: seed)
        var buffer = ByteBuffer()
        let encoder = FrameEncoder(compression: compression)
        for _ in 0..<random.int(1...6) { try encoder.encode(random.envelope(), into: &buffer) }
        if random.bool() { try encoder.encode(Fixtures.capacityLargeSite, into: &buffer) }
        return (buffer.bytes, random)
    }

    @Test("random truncations decode a prefix of frames, then report truncation")
    func randomTruncations() throws {
        for seed in FuzzSeeds.seeds(count: 150) {
            var (bytes, random) = try Self.stream(seed: seed, compression: Self.useZstd(seed) ? .zstd : .none)
            let cut = random.int(0...bytes.count - 1)
            bytes.removeSubrange(cut...)
            let result = Drive.decodeAll(bytes) { random.int(1...512) }
            if case .truncated(let have, let need)? = result.error {
                #expect(have < need, "seed \(seed)")
            } else {
                #expect(result.error == nil, "seed \(seed): a cut on a frame boundary is clean, got \(String(describing: result.error))")
            }
        }
    }

    @Test("random byte corruptions never crash or hang: frames decode or a typed error comes back")
    func randomCorruptions() throws {
        var outcomes: [String: Int] = [:]
        for seed in FuzzSeeds.seeds(count: 300) {
            var (bytes, random) = try Self.stream(seed: seed, compression: Self.useZstd(seed) ? .zstd : .none)
            for _ in 0..<random.int(1...4) {
                let index = random.int(0...bytes.count - 1)
                bytes[index] = random.bool() ? UInt8.random(in: 0...255, using: &random.rng) : bytes[index] ^ (1 << random.int(0...7))
            }
            var decoder = FrameDecoder(acceptCompressed: random.bool())
            let result = Drive.decodeAll(bytes, decoder: &decoder) { random.int(1...1024) }
            outcomes[result.error.map { $0.expectation.kind } ?? "decoded", default: 0] += 1
            if let error = result.error {
                #expect(!error.description.isEmpty, "seed \(seed)")
                #expect(throws: error, "seed \(seed): errors are sticky") { try decoder.finish() }
            }
        }
        #expect(outcomes.count > 2, "corruptions exercise several paths: \(outcomes)")
    }

    @Test("random garbage never crashes the decoder")
    func randomGarbage() {
        for seed in FuzzSeeds.seeds(count: 300) {
            var random = RandomEnvelopes(seed: seed)
            // Small lengths so that garbage often forms complete frames and reaches protobuf/zstd.
            var bytes: [UInt8] = []
            for _ in 0..<random.int(1...8) {
                let length = random.int(0...40)
                bytes += [random.int(0...1), 0, 0, 0, UInt8(length)]
                bytes += (0..<length).map { _ in UInt8.random(in: 0...255, using: &random.rng) }
                if random.int(0...3) == 0 { bytes.append(0x28) }  // desynchronise now and then
            }
            let result = Drive.decodeAll(bytes, acceptCompressed: true) { random.int(1...64) }
            #expect(result.envelopes.count <= 8, "seed \(seed)")
        }
    }

    @Test("errors are sticky and later bytes are ignored")
    func errorsAreSticky() {
        var decoder = FrameDecoder()
        decoder.append(ByteBuffer(bytes: [0x04, 0, 0, 0, 0]))
        #expect(throws: FrameError.reservedFlags(0x04)) { try decoder.next() }
        decoder.append(ByteBuffer(bytes: [0, 0, 0, 0, 0]))
        #expect(throws: FrameError.reservedFlags(0x04)) { try decoder.next() }
        #expect(throws: FrameError.reservedFlags(0x04)) { try decoder.finish() }
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("finish is clean on a frame boundary and reports the missing bytes otherwise")
    func finishReportsTruncation() throws {
        var decoder = FrameDecoder()
        try decoder.finish()
        let frame = try FrameEncoder().encode(Fixtures.jobCancel)
        decoder.append(frame.getSlice(at: 0, length: 7)!)
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedBytes == 7)
        #expect(throws: FrameError.truncated(have: 7, need: frame.readableBytes)) { try decoder.finish() }
        decoder.append(frame.getSlice(at: 7, length: frame.readableBytes - 7)!)
        #expect(try decoder.next() == Fixtures.jobCancel)
        try decoder.finish()
    }

    @Test("compression can be switched on after Welcome")
    func acceptCompressedLater() throws {
        let frame = try FrameEncoder(compression: .zstd).encode(Fixtures.capacityLargeSite)
        var decoder = FrameDecoder()
        decoder.acceptCompressed = true
        decoder.append(frame)
        #expect(try decoder.next() == Fixtures.capacityLargeSite)
    }

    private static func useZstd(_ seed: UInt64) -> Bool { seed % 2 == 0 }
}
