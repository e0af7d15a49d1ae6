import Foundation
import NIOCore

/// A tenant token may leave `tenant` out of a job spec: the job is then its tenant's. This
/// puts `"tenant": "<id>"` into the body's top-level object when, and only when, the key is
/// absent, so that every other byte (numbers included) reaches the decoder unchanged.
enum TenantDefault {
    static func fill(_ body: ByteBuffer, tenant: String) -> ByteBuffer {
        let data = Data(body.readableBytesView)
        guard let probe = try? JSONDecoder().decode(TenantProbe.self, from: data), !probe.hasTenant else { return body }
        let bytes = Array(body.readableBytesView)
        guard let open = bytes.firstIndex(where: { !isWhitespace($0) }), bytes[open] == UInt8(ascii: "{") else { return body }
        let next = bytes[(open + 1)...].firstIndex { !isWhitespace($0) }
        let empty = next.map { bytes[$0] == UInt8(ascii: "}") } ?? true
        // `tenant` is a well-formed identifier (letters, digits, `.`, `_`, `-`): nothing to escape.
        let member = Array("\"tenant\":\"\(tenant)\"\(empty ? "" : ",")".utf8)
        var filled = ByteBuffer()
        filled.writeBytes(bytes[...open])
        filled.writeBytes(member)
        filled.writeBytes(bytes[(open + 1)...])
        return filled
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Whether the top-level object has a `tenant` key at all (null included).
    private struct TenantProbe: Decodable {
        var hasTenant: Bool

        enum Keys: String, CodingKey { case tenant }

        init(from decoder: any Decoder) throws {
            hasTenant = try decoder.container(keyedBy: Keys.self).contains(.tenant)
        }
    }
}
