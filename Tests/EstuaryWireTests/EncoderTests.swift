import EstuaryWire
import Foundation
import NIOCore
import Testing

@Suite("frame encoder")
struct EncoderTests {
    @Test("payloads below the threshold are sent uncompressed even with zstd")
    func smallPayloadsStayPlain() throws {
        let frame = try FrameEncoder(compression: .zstd).encode(Fixtures.capacityFull).bytes
        #expect(frame[0] == 0)
    }

    @Test("large compressible payloads are compressed and smaller")
    func largePayloadsCompress() throws {
        let plain = try FrameEncoder().encode(Fixtures.capacityLargeSite).bytes
        let compressed = try FrameEncoder(compression: .zstd).encode(Fixtures.capacityLargeSite).bytes
        #expect(plain.count - 5 >= 1024)
        #expect(compressed[0] == 1)
        #expect(compressed.count < plain.count)
    }

    @Test("incompressible payloads are sent uncompressed")
    func incompressibleStaysPlain() throws {
        var random = RandomEnvelopes(seed: 7)
        var chunk = Estuary_V1_LogChunk()
        chunk.data = Data((0..<4000).map { _ in UInt8.random(in: 0...255, using: &random.rng) })
        let frame = try FrameEncoder(compression: .zstd).encode(Estuary_V1_Envelope(body: .logChunk(chunk))).bytes
        #expect(frame[0] == 0)
    }

    @Test("Hello and Welcome are never compressed")
    func handshakeNeverCompressed() throws {
        let limits = FrameLimits(compressionThreshold: 0)
        let encoder = FrameEncoder(limits: limits, compression: .zstd)
        var hello = Fixtures.hello
        hello.hello.knownJobs = (0..<200).map { index in .with { $0.jobID = "j-\(index)"; $0.state = .running; $0.attempt = 1 } }
        #expect(try encoder.encode(hello).bytes[0] == 0)
        #expect(try encoder.encode(Fixtures.welcome).bytes[0] == 0)
        #expect(try encoder.encode(Fixtures.capacityLargeSite).bytes[0] == 1)
    }

    @Test("map entries are encoded in key order whatever the insertion order")
    func deterministicMaps() throws {
        let keys = (0..<64).map { "VAR_\($0)" }
        var forward = Fixtures.jobAssign
        var backward = Fixtures.jobAssign
        forward.jobAssign.spec.env = [:]
        backward.jobAssign.spec.env = [:]
        for key in keys { forward.jobAssign.spec.env[key] = key.lowercased() }
        for key in keys.reversed() { backward.jobAssign.spec.env[key] = key.lowercased() }
        #expect(try FrameEncoder().encode(forward).bytes == FrameEncoder().encode(backward).bytes)
    }

    @Test("encoding appends to what the buffer already holds")
    func appendsToBuffer() throws {
        var buffer = ByteBuffer(bytes: [0xAA])
        try FrameEncoder().encode(Fixtures.pureAck, into: &buffer)
        #expect(buffer.bytes == [0xAA, 0, 0, 0, 0, 2, 0x10, 43])
    }

    @Test("an oversized envelope leaves the buffer untouched")
    func oversizedLeavesBufferAlone() throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        let encoder = FrameEncoder(limits: FrameLimits(maxFrameBytes: 16))
        #expect(throws: FrameError.self) { try encoder.encode(Fixtures.hello, into: &buffer) }
        #expect(buffer.bytes == [1, 2, 3])
    }
}
