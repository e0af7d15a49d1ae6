/// The binary layout of gossip messages (docs/GOSSIP.md, "Codec"):
///
///     message  = version:u8  kind:u8  sender-id:str  sender-address:str  body  updates
///     updates  = count:varint  update*
///     str      = length:varint  utf8
///
/// Integers are LEB128 varints (zig-zag for signed ones), coordinates float32 little-endian.
/// Every count and length is checked against a limit and against the bytes that remain, so a
/// hostile message costs no more memory than its own size.
enum GossipCodec {
    static let version: UInt8 = 1
    static let maxStringBytes = 255
    static let maxUpdates = 200_000
    static let maxUnitClasses = 64
    static let maxUnits = 1 << 40

    enum Kind: UInt8 {
        case ping = 1, pingReq, ack, nack, gossip, pushPullRequest, pushPullResponse, pushPullPush
    }

    enum UpdateKind: UInt8 {
        case alive = 1, suspect, dead, left, capacity
    }

    // MARK: encoding

    static func encode(_ m: GossipMessage) -> [UInt8] {
        var w = ByteWriter(capacity: 96 + 48 * m.updates.count)
        encodeHeader(m, into: &w)
        w.varint(UInt64(m.updates.count))
        for u in m.updates { encode(u, into: &w) }
        return w.bytes
    }

    /// Header and body only, for sizing piggyback budgets: the update count follows.
    static func encodeHeader(_ m: GossipMessage, into w: inout ByteWriter) {
        w.u8(version)
        switch m.body {
        case .ping: w.u8(Kind.ping.rawValue)
        case .pingReq: w.u8(Kind.pingReq.rawValue)
        case .ack: w.u8(Kind.ack.rawValue)
        case .nack: w.u8(Kind.nack.rawValue)
        case .gossip: w.u8(Kind.gossip.rawValue)
        case .pushPullRequest: w.u8(Kind.pushPullRequest.rawValue)
        case .pushPullResponse: w.u8(Kind.pushPullResponse.rawValue)
        case .pushPullPush: w.u8(Kind.pushPullPush.rawValue)
        }
        w.string(m.senderId)
        w.string(m.senderAddress)
        switch m.body {
        case .ping(let seq, let target, let coordinate):
            w.varint(seq)
            w.string(target)
            encode(coordinate, into: &w)
        case .pingReq(let seq, let target, let address):
            w.varint(seq)
            w.string(target)
            w.string(address)
        case .ack(let seq, let coordinate):
            w.varint(seq)
            if let coordinate {
                w.u8(1)
                encode(coordinate, into: &w)
            } else {
                w.u8(0)
            }
        case .nack(let seq):
            w.varint(seq)
        case .gossip, .pushPullPush:
            break
        case .pushPullRequest(let join, let digest):
            w.u8(join ? 1 : 0)
            encode(digest, into: &w)
        case .pushPullResponse(let digest):
            encode(digest, into: &w)
        }
    }

    static func encode(_ u: GossipMessage.Update, into w: inout ByteWriter) {
        switch u {
        case .alive(let id, let address, let region, let incarnation):
            w.u8(UpdateKind.alive.rawValue)
            w.string(id)
            w.string(address)
            w.string(region)
            w.varint(incarnation)
        case .suspect(let id, let incarnation, let from):
            w.u8(UpdateKind.suspect.rawValue)
            w.string(id)
            w.varint(incarnation)
            w.string(from)
        case .dead(let id, let incarnation, let from):
            w.u8(UpdateKind.dead.rawValue)
            w.string(id)
            w.varint(incarnation)
            w.string(from)
        case .left(let id, let incarnation):
            w.u8(UpdateKind.left.rawValue)
            w.string(id)
            w.varint(incarnation)
        case .capacity(let record):
            w.u8(UpdateKind.capacity.rawValue)
            let s = record.summary
            w.string(s.site)
            w.string(s.origin)
            w.varint(s.version)
            w.u8(record.removed ? 1 : 0)
            if !record.removed {
                w.string(s.region)
                encode(s.freeUnits, into: &w)
                encode(s.totalUnits, into: &w)
                w.svarint(s.priceIndexMinor)
                w.svarint(Int64(s.greenShareBP))
                w.u8(s.reachable ? 1 : 0)
            }
        }
    }

    static func encodedSize(_ u: GossipMessage.Update) -> Int {
        var w = ByteWriter(capacity: 64)
        encode(u, into: &w)
        return w.bytes.count
    }

    private static func encode(_ units: [String: Int], into w: inout ByteWriter) {
        w.varint(UInt64(units.count))
        for (name, count) in units.sorted(by: { $0.key < $1.key }) {
            w.string(name)
            w.svarint(Int64(count))
        }
    }

    private static func encode(_ c: VivaldiCoordinate, into w: inout ByteWriter) {
        for i in 0..<VivaldiCoordinate.dimensions { w.float32(i < c.vector.count ? c.vector[i] : 0) }
        w.float32(c.height)
        w.float32(c.error)
        w.float32(c.adjustment)
    }

    private static func encode(_ d: StateDigest, into w: inout ByteWriter) {
        for h in d.members { w.u64(h) }
        for h in d.sites { w.u64(h) }
    }

    // MARK: decoding

    static func decode(_ bytes: [UInt8], maxBytes: Int) throws(GossipError) -> GossipMessage {
        guard bytes.count <= maxBytes else { throw .tooLarge(field: "message", value: bytes.count, limit: maxBytes) }
        var r = ByteReader(bytes)
        let v = try r.u8("version")
        guard v == version else { throw .unsupportedVersion(v) }
        let rawKind = try r.u8("kind")
        guard let kind = Kind(rawValue: rawKind) else { throw .unknownMessageKind(rawKind) }
        let senderId = try r.string("sender id")
        let senderAddress = try r.string("sender address")
        let body: GossipMessage.Body
        switch kind {
        case .ping:
            body = .ping(seq: try r.varint("seq"), target: try r.string("target"), coordinate: try coordinate(&r))
        case .pingReq:
            body = .pingReq(seq: try r.varint("seq"), target: try r.string("target"), targetAddress: try r.string("target address"))
        case .ack:
            let seq = try r.varint("seq")
            let flag = try r.u8("coordinate flag")
            body = .ack(seq: seq, coordinate: flag == 0 ? nil : try coordinate(&r))
        case .nack:
            body = .nack(seq: try r.varint("seq"))
        case .gossip:
            body = .gossip
        case .pushPullRequest:
            let join = try r.u8("join flag") != 0
            body = .pushPullRequest(join: join, digest: try digest(&r))
        case .pushPullResponse:
            body = .pushPullResponse(digest: try digest(&r))
        case .pushPullPush:
            body = .pushPullPush
        }
        let count = try r.count("update count", limit: maxUpdates, minItemBytes: 3)
        var updates: [GossipMessage.Update] = []
        updates.reserveCapacity(count)
        for _ in 0..<count { updates.append(try update(&r)) }
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        return GossipMessage(senderId: senderId, senderAddress: senderAddress, body: body, updates: updates)
    }

    private static func update(_ r: inout ByteReader) throws(GossipError) -> GossipMessage.Update {
        let raw = try r.u8("update kind")
        guard let kind = UpdateKind(rawValue: raw) else { throw .unknownUpdateKind(raw) }
        switch kind {
        case .alive:
            return .alive(
                id: try r.string("member id"), address: try r.string("member address"), region: try r.string("member region"),
                incarnation: try r.varint("incarnation"))
        case .suspect:
            return .suspect(id: try r.string("member id"), incarnation: try r.varint("incarnation"), from: try r.string("suspect from"))
        case .dead:
            return .dead(id: try r.string("member id"), incarnation: try r.varint("incarnation"), from: try r.string("dead from"))
        case .left:
            return .left(id: try r.string("member id"), incarnation: try r.varint("incarnation"))
        case .capacity:
            let site = try r.string("site")
            let origin = try r.string("origin")
            let version = try r.varint("capacity version")
            let removed = try r.u8("removed flag") != 0
            var summary = CapacitySummary(
                site: site, origin: origin, version: version, region: "", freeUnits: [:], totalUnits: [:], priceIndexMinor: 0,
                greenShareBP: 0, reachable: false)
            if !removed {
                summary.region = try r.string("site region")
                summary.freeUnits = try units(&r, "free units")
                summary.totalUnits = try units(&r, "total units")
                summary.priceIndexMinor = try r.svarint("price index")
                summary.greenShareBP = try r.int("green share", limit: 10_000)
                summary.reachable = try r.u8("reachable flag") != 0
            }
            return .capacity(CapacityRecord(summary: summary, removed: removed))
        }
    }

    private static func units(_ r: inout ByteReader, _ field: String) throws(GossipError) -> [String: Int] {
        let n = try r.count(field, limit: maxUnitClasses, minItemBytes: 2)
        var result: [String: Int] = [:]
        for _ in 0..<n {
            let name = try r.string("\(field) class")
            result[name] = try r.int("\(field) count", limit: maxUnits)
        }
        return result
    }

    private static func coordinate(_ r: inout ByteReader) throws(GossipError) -> VivaldiCoordinate {
        var vector: [Double] = []
        vector.reserveCapacity(VivaldiCoordinate.dimensions)
        for _ in 0..<VivaldiCoordinate.dimensions { vector.append(try r.float32("coordinate")) }
        return VivaldiCoordinate(
            vector: vector, height: try r.float32("coordinate height"), error: try r.float32("coordinate error"),
            adjustment: try r.float32("coordinate adjustment"))
    }

    private static func digest(_ r: inout ByteReader) throws(GossipError) -> StateDigest {
        var d = StateDigest.empty
        for i in 0..<StateDigest.buckets { d.members[i] = try r.u64("member digest") }
        for i in 0..<StateDigest.buckets { d.sites[i] = try r.u64("site digest") }
        return d
    }
}
