import EstuaryWire
import Testing

@Suite("zstd")
struct ZstdTests {
    @Test("compress then decompress gives the input back")
    func roundTrip() throws {
        let input = Array(String(repeating: "ascend-910b count=1024 free=256\n", count: 100).utf8)
        let compressed = try Zstd.compress(input)
        #expect(compressed.count < input.count / 10)
        #expect(try Zstd.decompress(compressed, limit: input.count) == input)
    }

    @Test("an empty input round-trips")
    func empty() throws {
        #expect(try Zstd.decompress(try Zstd.compress([]), limit: 0) == [])
    }

    @Test("a frame larger than the limit is refused by its declared size")
    func overLimit() throws {
        let compressed = try Zstd.compress([UInt8](repeating: 7, count: 1001))
        #expect(throws: Zstd.Failure.contentTooLarge(declared: 1001, limit: 1000)) {
            try Zstd.decompress(compressed, limit: 1000)
        }
    }

    @Test("bytes that are not zstd are refused", arguments: [[UInt8](), [0x00], [0x28, 0xB5, 0x2F], Array("not zstd at all".utf8)])
    func notZstd(bytes: [UInt8]) {
        #expect(throws: Zstd.Failure.self) { try Zstd.decompress(bytes, limit: 1 << 20) }
    }
}
