import EstuaryWire
import Testing

@Suite("negotiation")
struct NegotiationTests {
    static let versionCases: [([UInt32], [UInt32], UInt32?)] = [
        ([], [1], nil),
        ([1], [1], 1),
        ([1, 2], [1], 1),
        ([2, 3], [1], nil),
        ([3, 1, 2], [1, 2], 2),
    ]

    @Test("the highest common protocol version wins", arguments: versionCases)
    func versions(offered: [UInt32], supported: [UInt32], expected: UInt32?) {
        #expect(WireProtocol.negotiate(offered, supported: supported) == expected)
    }

    @Test("this build speaks version 1")
    func supportedVersions() {
        #expect(WireProtocol.negotiate([1]) == 1)
        #expect(WireProtocol.supportedVersions == [1])
    }

    @Test("zstd is chosen only when offered and supported")
    func compression() {
        #expect(Compression.negotiate(offered: ["gzip", "zstd"]) == .zstd)
        #expect(Compression.negotiate(offered: ["gzip"]) == .none)
        #expect(Compression.negotiate(offered: []) == .none)
        #expect(Compression.negotiate(offered: ["zstd"], supported: []) == .none)
        #expect(Compression.offer() == ["zstd"])
        #expect(Compression.offer([]) == [])
        #expect(Compression(rawValue: "") == Compression.none)
        #expect(Compression(rawValue: "zstd") == .zstd)
        #expect(Compression(rawValue: "brotli") == nil)
    }

    @Test("the frame limit is the smaller of the two sides, 0 meaning the default")
    func frameLimit() {
        #expect(WireProtocol.negotiateMaxFrameBytes(offered: 0, local: 4_194_304) == 4_194_304)
        #expect(WireProtocol.negotiateMaxFrameBytes(offered: 1_048_576, local: 4_194_304) == 1_048_576)
        #expect(WireProtocol.negotiateMaxFrameBytes(offered: 16_777_216, local: 4_194_304) == 4_194_304)
    }

    static let headerCases: [(String, [UInt32]?)] = [
        ("1", [1]),
        ("1,2", [1, 2]),
        (" 1 , 2 ", [1, 2]),
        ("", nil),
        ("1,,2", nil),
        ("0", nil),
        ("v1", nil),
        ("99999999999", nil),
    ]

    @Test("the estuary-protocol header parses comma-separated versions", arguments: headerCases)
    func versionsHeader(value: String, expected: [UInt32]?) {
        #expect(WireProtocol.parseVersionsHeader(value) == expected)
    }

    @Test("the header value lists the supported versions")
    func versionsHeaderValue() {
        #expect(WireProtocol.versionsHeaderValue() == "1")
        #expect(WireProtocol.versionsHeaderValue([1, 2]) == "1,2")
    }
}
