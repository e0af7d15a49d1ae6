import EstuaryWire
import NIOCore

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

enum Hex {
    /// Lower-case hex; spaces are allowed in the input and ignored on decoding.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let digits = text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Drives a decoder the way a session does: feed everything, drain, then finish.
enum Drive {
    /// Feeds `bytes` in chunks whose sizes come from `chunkSize`, draining after every chunk.
    static func decodeAll(
        _ bytes: [UInt8], limits: FrameLimits = FrameLimits(), acceptCompressed: Bool = true,
        chunkSize: () -> Int = { .max }
    ) -> (envelopes: [Estuary_V1_Envelope], error: FrameError?) {
        var decoder = FrameDecoder(limits: limits, acceptCompressed: acceptCompressed)
        return decodeAll(bytes, decoder: &decoder, chunkSize: chunkSize)
    }

    static func decodeAll(
        _ bytes: [UInt8], decoder: inout FrameDecoder, chunkSize: () -> Int = { .max }
    ) -> (envelopes: [Estuary_V1_Envelope], error: FrameError?) {
        var envelopes: [Estuary_V1_Envelope] = []
        var offset = 0
        do {
            while offset < bytes.count {
                let size = min(max(1, chunkSize()), bytes.count - offset)
                decoder.append(ByteBuffer(bytes: bytes[offset..<offset + size]))
                offset += size
                while let envelope = try decoder.next() { envelopes.append(envelope) }
            }
            try decoder.finish()
            return (envelopes, nil)
        } catch {
            return (envelopes, error)
        }
    }
}
