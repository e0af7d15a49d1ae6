import EstuaryWire
import Testing

@Suite("frame errors")
struct FrameErrorTests {
    static let all: [FrameError] = [
        .oversized(length: 5_000_000, limit: 4_194_304), .reservedFlags(0x80), .compressedButNotNegotiated,
        .decompressionFailed("Corrupted block detected"), .decompressedTooLarge(limit: 4_194_304),
        .malformedEnvelope("truncated varint"), .truncated(have: 3, need: 5), .encodingFailed("boom"),
    ]

    @Test("every frame error maps to the protocol error code its peer is told", arguments: zip(all, [
        Estuary_V1_ErrorCode.frameTooLarge, .malformedFrame, .compression, .compression, .frameTooLarge,
        .malformedFrame, .malformedFrame, .internal,
    ]))
    func codes(error: FrameError, code: Estuary_V1_ErrorCode) {
        #expect(error.protocolErrorCode == code)
    }

    @Test("every frame error explains itself with its numbers", arguments: all)
    func descriptions(error: FrameError) {
        #expect(error.description.count > 30)
        if case .oversized = error { #expect(error.description.contains("5000000") && error.description.contains("4194304")) }
        if case .reservedFlags = error { #expect(error.description.contains("0x80")) }
        if case .truncated = error { #expect(error.description.contains("3 of 5")) }
    }

    @Test("a frame error becomes a fatal Error envelope")
    func errorEnvelope() {
        let envelope = Estuary_V1_Envelope(frameError: .compressedButNotNegotiated, ack: 9)
        #expect(envelope.ack == 9)
        #expect(envelope.seq == 0)
        #expect(envelope.error.code == .compression)
        #expect(envelope.error.fatal)
        #expect(envelope.error.message == FrameError.compressedButNotNegotiated.description)
    }

    @Test("reliable bodies are the four sequenced ones")
    func reliableBodies() {
        #expect(Fixtures.jobAssign.isReliable)
        #expect(Fixtures.jobCancel.isReliable)
        #expect(Fixtures.jobUpdateFailed.isReliable)
        #expect(Fixtures.usageBatch.isReliable)
        for envelope in [Fixtures.hello, Fixtures.welcome, Fixtures.capacityFull, Fixtures.logChunk, Fixtures.drain, Fixtures.error, Fixtures.pureAck] {
            #expect(!envelope.isReliable)
        }
        #expect(Fixtures.pureAck.isPureAck)
    }
}
