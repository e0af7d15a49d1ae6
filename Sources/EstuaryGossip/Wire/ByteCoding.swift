/// Appends the codec's primitive fields to a byte buffer.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 128) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    /// LEB128, at most 10 bytes.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag signed varint.
    mutating func svarint(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func float32(_ d: Double) {
        let bits = Float(d).bitPattern
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    mutating func u64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }
}

/// Reads the codec's primitive fields, failing with a typed error on anything malformed.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - index }

    mutating func u8(_ field: String) throws(GossipError) -> UInt8 {
        guard index < bytes.count else { throw .truncated(field: field) }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func varint(_ field: String) throws(GossipError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.count else { throw .truncated(field: field) }
            let byte = bytes[index]
            index += 1
            if shift == 63, byte > 1 { throw .malformedVarint(field: field) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint(field: field) }
        }
    }

    mutating func svarint(_ field: String) throws(GossipError) -> Int64 {
        let raw = try varint(field)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A count, checked against `limit` and against the bytes left (each item takes at least
    /// `minItemBytes`), so that no hostile count can make the decoder allocate much.
    mutating func count(_ field: String, limit: Int, minItemBytes: Int = 1) throws(GossipError) -> Int {
        let raw = try varint(field)
        guard raw <= UInt64(limit) else { throw .tooLarge(field: field, value: Int(clamping: raw), limit: limit) }
        let n = Int(raw)
        guard n * minItemBytes <= remaining else { throw .truncated(field: field) }
        return n
    }

    mutating func int(_ field: String, limit: Int) throws(GossipError) -> Int {
        let raw = try svarint(field)
        guard raw.magnitude <= UInt64(limit) else { throw .tooLarge(field: field, value: Int(clamping: raw), limit: limit) }
        return Int(raw)
    }

    mutating func string(_ field: String, limit: Int = GossipCodec.maxStringBytes) throws(GossipError) -> String {
        let length = try count(field, limit: limit)
        let slice = bytes[index..<(index + length)]
        index += length
        guard let s = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return s
    }

    mutating func float32(_ field: String) throws(GossipError) -> Double {
        guard remaining >= 4 else { throw .truncated(field: field) }
        var bits: UInt32 = 0
        for i in 0..<4 { bits |= UInt32(bytes[index + i]) << UInt32(8 * i) }
        index += 4
        let value = Double(Float(bitPattern: bits))
        guard value.isFinite else { throw .invalidNumber(field: field) }
        return value
    }

    mutating func u64(_ field: String) throws(GossipError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(field: field) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[index + i]) << UInt64(8 * i) }
        index += 8
        return v
    }
}
