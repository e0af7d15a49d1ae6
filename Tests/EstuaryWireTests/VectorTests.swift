import EstuaryWire
import NIOCore
import Testing

@Suite("protocol vectors")
struct VectorTests {
    static let valid = (try? VectorFiles.loadValid()) ?? []
    static let invalid = (try? VectorFiles.loadInvalid()) ?? []

    @Test("the vector files load and cover every body kind")
    func vectorFilesLoad() throws {
        let valid = try VectorFiles.loadValid()
        let invalid = try VectorFiles.loadInvalid()
        #expect(valid.count >= 13)
        #expect(invalid.count >= 10)
        var kinds = Set(valid.compactMap { $0.envelope.body.map { String(describing: $0).prefix(while: { $0 != "(" }) } })
        kinds.insert("ack")
        #expect(kinds.count == 11, "body kinds covered: \(kinds.sorted())")
        #expect(valid.contains { $0.flags == 1 }, "a compressed vector is present")
    }

    @Test("every valid vector decodes to its stated envelope", arguments: valid)
    func validDecodes(_ vector: VectorFiles.Valid) {
        #expect(vector.frame.count == 5 + vector.payloadLength)
        #expect(vector.frame[0] == vector.flags)
        let result = Drive.decodeAll(vector.frame, acceptCompressed: true)
        #expect(result.error == nil)
        #expect(result.envelopes == [vector.envelope])
    }

    @Test("every valid vector re-encodes to its bytes", arguments: valid)
    func validReencodes(_ vector: VectorFiles.Valid) throws {
        let frame = try FrameEncoder(compression: .zstd).encode(vector.envelope).bytes
        #expect(frame[0] == vector.flags)
        if vector.flags == 0 {
            #expect(frame == vector.frame)
        } else {
            // zstd output may differ between library versions; the payload inside may not.
            let expected = try Zstd.decompress(Array(vector.frame.dropFirst(5)), limit: 1 << 22)
            let actual = try Zstd.decompress(Array(frame.dropFirst(5)), limit: 1 << 22)
            #expect(actual == expected)
            #expect(actual == (try FrameEncoder().encode(vector.envelope).bytes.dropFirst(5)).map { $0 })
        }
    }

    @Test("every valid vector decodes when fed one byte at a time", arguments: valid)
    func validDecodesByteByByte(_ vector: VectorFiles.Valid) {
        let result = Drive.decodeAll(vector.frame, acceptCompressed: true, chunkSize: { 1 })
        #expect(result.error == nil)
        #expect(result.envelopes == [vector.envelope])
    }

    @Test("every invalid vector gives its stated error", arguments: invalid)
    func invalidFails(_ vector: VectorFiles.Invalid) {
        let limits = FrameLimits(maxFrameBytes: vector.maxFrameBytes)
        let result = Drive.decodeAll(vector.frame, limits: limits, acceptCompressed: vector.acceptCompressed)
        #expect(result.envelopes.isEmpty)
        #expect(result.error?.expectation == vector.error, "\(vector.description): got \(String(describing: result.error))")
    }
}
