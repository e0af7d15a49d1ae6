import EstuaryModel

/// Job ids that sort by creation time: `j` + 10 base32 digits of milliseconds + 6 digits of a
/// per-millisecond counter mixed with randomness, e.g. `j01jdq4m2zk8a3c1f`. Sorting by id is
/// sorting by submission, which the API's `after` paging relies on.
struct JobIDGenerator {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
    private var lastMs: Int64 = -1
    private var counter: UInt64 = 0

    mutating func next(nowMs: Int64, random: UInt64) -> JobID {
        if nowMs > lastMs {
            lastMs = nowMs
            // Start each millisecond at a random point in the lower half so ids are not guessable
            // in sequence, and leave room to count up.
            counter = random & 0x1FFF_FFFF
        } else {
            counter += 1
        }
        var bytes: [UInt8] = [UInt8(ascii: "j")]
        bytes += Self.digits(UInt64(lastMs), count: 10)
        bytes += Self.digits(counter, count: 6)
        return JobID(rawValue: String(decoding: bytes, as: UTF8.self))
    }

    private static func digits(_ value: UInt64, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: alphabet[0], count: count)
        var rest = value
        for index in stride(from: count - 1, through: 0, by: -1) {
            out[index] = alphabet[Int(rest & 31)]
            rest >>= 5
        }
        return out
    }
}
