import EstuaryModel
import Testing

@testable import EstuaryGossip

@Suite("Gossip codec")
struct CodecTests {
    static let coordinate = VivaldiCoordinate(vector: [1, -2, 3.5, 0, 0, 0.25, 7, -8], height: 0.5, error: 1.25, adjustment: -0.125)
    static let summary = CapacitySummary(
        site: "gz-tianhe", origin: "coord-gz", version: 1_733_000_000_123, region: "gz", freeUnits: ["ascend-910b": 64, "cpu": 1024],
        totalUnits: ["ascend-910b": 128, "cpu": 4096], priceIndexMinor: 1850, greenShareBP: 4200, reachable: true)

    static let updates: [GossipMessage.Update] = [
        .alive(id: "coord-sz", address: "10.0.0.2:7946", region: "sz", incarnation: 7),
        .suspect(id: "coord-gz", incarnation: 3, from: "coord-sz"),
        .dead(id: "coord-sg", incarnation: UInt64.max, from: "coord-sz"),
        .left(id: "coord-hk", incarnation: 0),
        .capacity(CapacityRecord(summary: summary, removed: false)),
        .capacity(
            CapacityRecord(
                summary: CapacitySummary(
                    site: "old", origin: "coord-gz", version: 9, region: "", freeUnits: [:], totalUnits: [:], priceIndexMinor: 0,
                    greenShareBP: 0, reachable: false), removed: true)),
    ]

    static let bodies: [GossipMessage.Body] = [
        .ping(seq: 1, target: "coord-gz", coordinate: coordinate),
        .pingReq(seq: 300, target: "coord-gz", targetAddress: "10.0.0.3:7946"),
        .ack(seq: 1 << 40, coordinate: coordinate),
        .ack(seq: 2, coordinate: nil),
        .nack(seq: 3),
        .gossip,
        .pushPullRequest(join: true, digest: StateDigest(members: (0..<32).map { UInt64($0) * 0x0123_4567_89AB }, sites: Array(repeating: .max, count: 32))),
        .pushPullResponse(digest: .empty),
        .pushPullPush,
    ]

    static func message(_ body: GossipMessage.Body, updates: [GossipMessage.Update] = updates) -> GossipMessage {
        GossipMessage(senderId: "coord-sz", senderAddress: "10.0.0.2:7946", body: body, updates: updates)
    }

    @Test("every message kind survives a round trip", arguments: 0..<bodies.count)
    func roundTrip(_ index: Int) throws {
        let original = Self.message(Self.bodies[index])
        let decoded = try GossipCodec.decode(GossipCodec.encode(original), maxBytes: 1 << 20)
        #expect(decoded == original)
    }

    @Test("every truncation of a valid message is a typed error, not a crash")
    func truncations() {
        for body in Self.bodies {
            let bytes = GossipCodec.encode(Self.message(body))
            for length in 0..<bytes.count {
                #expect(throws: GossipError.self) { try GossipCodec.decode(Array(bytes.prefix(length)), maxBytes: 1 << 20) }
            }
        }
    }

    @Test("a version this node does not speak is refused by name")
    func badVersion() {
        var bytes = GossipCodec.encode(Self.message(.gossip))
        bytes[0] = 99
        #expect(throws: GossipError.unsupportedVersion(99)) { try GossipCodec.decode(bytes, maxBytes: 1 << 20) }
        #expect(GossipError.unsupportedVersion(99).description.contains("version 99"))
    }

    @Test("unknown message and update kinds are refused")
    func unknownKinds() {
        var bytes = GossipCodec.encode(Self.message(.gossip, updates: []))
        bytes[1] = 200
        #expect(throws: GossipError.unknownMessageKind(200)) { try GossipCodec.decode(bytes, maxBytes: 1 << 20) }
        var w = ByteWriter()
        GossipCodec.encodeHeader(Self.message(.gossip), into: &w)
        w.varint(1)
        w.u8(77)
        w.u8(0)
        w.u8(0)
        #expect(throws: GossipError.unknownUpdateKind(77)) { try GossipCodec.decode(w.bytes, maxBytes: 1 << 20) }
    }

    @Test("a huge update count allocates nothing and is refused")
    func hugeCount() {
        var w = ByteWriter()
        GossipCodec.encodeHeader(Self.message(.gossip), into: &w)
        w.varint(UInt64.max >> 1)
        #expect(throws: GossipError.self) { try GossipCodec.decode(w.bytes, maxBytes: 1 << 20) }
        var w2 = ByteWriter()
        GossipCodec.encodeHeader(Self.message(.gossip), into: &w2)
        w2.varint(150_000)  // below the limit, but the bytes are not there
        #expect(throws: GossipError.truncated(field: "update count")) { try GossipCodec.decode(w2.bytes, maxBytes: 1 << 20) }
    }

    @Test("a string length beyond the limit is refused")
    func longString() {
        var w = ByteWriter()
        w.u8(GossipCodec.version)
        w.u8(GossipCodec.Kind.gossip.rawValue)
        w.varint(1 << 30)
        #expect(throws: GossipError.tooLarge(field: "sender id", value: 1 << 30, limit: GossipCodec.maxStringBytes)) {
            try GossipCodec.decode(w.bytes, maxBytes: 1 << 20)
        }
    }

    @Test("an oversized message is refused before decoding")
    func oversized() {
        let bytes = GossipCodec.encode(Self.message(.gossip))
        #expect(throws: GossipError.tooLarge(field: "message", value: bytes.count, limit: 10)) { try GossipCodec.decode(bytes, maxBytes: 10) }
    }

    @Test("invalid UTF-8, overlong varints, NaN coordinates and trailing bytes are refused")
    func malformedFields() {
        var w = ByteWriter()
        w.u8(GossipCodec.version)
        w.u8(GossipCodec.Kind.gossip.rawValue)
        w.varint(2)
        w.u8(0xC3)
        w.u8(0x28)
        #expect(throws: GossipError.invalidUTF8(field: "sender id")) { try GossipCodec.decode(w.bytes, maxBytes: 1 << 20) }

        var v = ByteWriter()
        v.u8(GossipCodec.version)
        v.u8(GossipCodec.Kind.gossip.rawValue)
        for _ in 0..<11 { v.u8(0xFF) }
        #expect(throws: GossipError.malformedVarint(field: "sender id")) { try GossipCodec.decode(v.bytes, maxBytes: 1 << 20) }

        var nan = Self.coordinate
        nan.height = .nan
        let bytes = GossipCodec.encode(Self.message(.ping(seq: 1, target: "x", coordinate: nan), updates: []))
        #expect(throws: GossipError.invalidNumber(field: "coordinate height")) { try GossipCodec.decode(bytes, maxBytes: 1 << 20) }

        let trailing = GossipCodec.encode(Self.message(.gossip, updates: [])) + [0]
        #expect(throws: GossipError.trailingBytes(count: 1)) { try GossipCodec.decode(trailing, maxBytes: 1 << 20) }
    }

    @Test("random bytes and random mutations never crash the decoder (seeded)")
    func fuzz() {
        var rng = SplitMix64(seed: 0x60551)
        let valid = Self.bodies.map { GossipCodec.encode(Self.message($0)) }
        for _ in 0..<3000 {
            var bytes = rng.pick(valid)
            for _ in 0..<rng.int(in: 1...4) { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? GossipCodec.decode(bytes, maxBytes: 1 << 20)
            let noise = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? GossipCodec.decode([GossipCodec.version] + noise, maxBytes: 1 << 20)
        }
    }

    @Test("a ping with a full piggyback stays within the message budget")
    func piggybackBudget() throws {
        var node = GossipNode(id: "a", address: "a:1", region: "r", configuration: GossipConfiguration(), seed: 1, now: 0)
        node.assumeMembers([(id: "b", address: "b:1", region: "r")], now: 0)
        let sites = (0..<200).map { i in
            CapacitySummary(
                site: "site-\(i)", origin: "a", region: "r", freeUnits: ["nvidia-a100": i], totalUnits: ["nvidia-a100": 256],
                priceIndexMinor: 100, greenShareBP: 5000)
        }
        _ = node.publish(sites, now: 10)
        var sizes: [Int] = []
        var t: Int64 = 10
        for _ in 0..<20 {
            t += 200
            for effect in node.tick(now: t) { if case .send(_, let bytes) = effect { sizes.append(bytes.count) } }
        }
        #expect(!sizes.isEmpty)
        #expect(sizes.allSatisfy { $0 <= GossipConfiguration().maxMessageBytes })
    }
}
