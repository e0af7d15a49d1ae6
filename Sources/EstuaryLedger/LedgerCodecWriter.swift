import EstuaryModel

// Byte-level writing for LedgerCodec: the inverse of LedgerTextScanner. It writes straight into
// the new string's storage (one allocation, no growth checks per byte); callers size it with the
// `bound` functions, and every write still checks the bound, so a wrong estimate traps instead of
// writing past the buffer.

struct LedgerTextWriter {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    /// A string of at most `capacity` UTF-8 bytes, written by `body`.
    static func string(capacity: Int, _ body: (inout LedgerTextWriter) -> Void) -> String {
        String(unsafeUninitializedCapacity: capacity) { buffer in
            var writer = LedgerTextWriter(buffer: buffer)
            body(&writer)
            return writer.count
        }
    }

    private init(buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    /// The most bytes `text` or `identifier` writes for `value`: every byte escaped, or `\e`.
    static func bound(_ value: String) -> Int { 2 * value.utf8.count + 2 }
    /// The most bytes `integer` writes: a sign and 19 digits.
    static let integerBound = 20

    private mutating func reserve(_ extra: Int) {
        precondition(extra <= buffer.count - count, "LedgerTextWriter capacity underestimated")
    }

    mutating func byte(_ byte: UInt8) {
        reserve(1)
        buffer[count] = byte
        count += 1
    }

    mutating func literal(_ literal: StaticString) {
        let length = literal.utf8CodeUnitCount
        reserve(length)
        UnsafeMutableRawPointer(buffer.baseAddress! + count).copyMemory(from: literal.utf8Start, byteCount: length)
        count += length
    }

    /// Bytes already in the format (another writer's output), copied as they are.
    mutating func encoded(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            reserve(bytes.count)
            guard let base = bytes.baseAddress else { return }
            UnsafeMutableRawPointer(buffer.baseAddress! + count).copyMemory(from: base, byteCount: bytes.count)
            count += bytes.count
        }
    }

    /// Shortest decimal form: `-` for negatives, no `+`, no leading zeros.
    mutating func integer(_ value: Int64) {
        reserve(Self.integerBound)
        if value < 0 {
            buffer[count] = Byte.minus
            count += 1
        }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var index = count + digits - 1
        repeat {
            buffer[index] = Byte.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
        count += digits
    }

    mutating func integer(_ value: Int) {
        integer(Int64(value))
    }

    mutating func optionalInteger(_ value: Int64?) {
        if let value { integer(value) }
    }

    mutating func optionalInteger(_ value: Int?) {
        if let value { integer(Int64(value)) }
    }

    /// Any text, with `\` as `\\`, `|` as `\p` and NUL as `\0` (a NUL would cut the text short in
    /// C APIs such as SQLite's), so a field never contains the separator.
    mutating func text(_ value: String) {
        let contiguous: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            reserve(2 * utf8.count)
            for byte in utf8 { escaped(byte) }
        }
        if contiguous == nil {
            reserve(2 * value.utf8.count)
            for byte in value.utf8 { escaped(byte) }
        }
    }

    private mutating func escaped(_ byte: UInt8) {
        switch byte {
        case Byte.backslash:
            buffer[count] = Byte.backslash
            buffer[count + 1] = Byte.backslash
            count += 2
        case Byte.bar:
            buffer[count] = Byte.backslash
            buffer[count + 1] = UInt8(ascii: "p")
            count += 2
        case 0:
            buffer[count] = Byte.backslash
            buffer[count + 1] = Byte.zero
            count += 2
        default:
            buffer[count] = byte
            count += 1
        }
    }

    /// An identifier in a charge. Well-formed ones are written as they are. A malformed one is
    /// escaped like text, and an empty one is written `\e`, so that it can never be read back as a
    /// different value (an empty field means nil or "the charge's"): decoding refuses it instead.
    mutating func identifier(_ value: String) {
        if value.isEmpty {
            literal("\\e")
        } else {
            text(value)
        }
    }

    mutating func optionalIdentifier(_ value: String?) {
        if let value { identifier(value) }
    }

    /// An identifier inside an account name. Well-formed ones are written as they are; in a
    /// malformed one each `;`, `=` or NUL becomes `\`, which no identifier may contain, so that
    /// decoding refuses the posting rather than reading a different list.
    mutating func accountField(_ value: String) {
        let contiguous: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            reserve(utf8.count)
            for byte in utf8 { accountByte(byte) }
        }
        if contiguous == nil {
            reserve(value.utf8.count)
            for byte in value.utf8 { accountByte(byte) }
        }
    }

    private mutating func accountByte(_ byte: UInt8) {
        buffer[count] = byte == Byte.semicolon || byte == Byte.equals || byte == 0 ? Byte.backslash : byte
        count += 1
    }

    /// The most bytes `account` writes: the longest kind, two colons, the ids and a year.
    static func bound(_ account: AccountID) -> Int {
        let fixed = 18 + 2 + integerBound
        return switch account {
        case .wallet(let tenant): fixed + tenant.rawValue.utf8.count
        case .voucherBudget(let program, _), .voucherFunding(let program), .voucherQuota(let program):
            fixed + program.rawValue.utf8.count
        case .voucherAllowance(let program, let tenant, _): fixed + program.rawValue.utf8.count + tenant.rawValue.utf8.count
        case .siteReceivable(let site): fixed + site.rawValue.utf8.count
        case .peerCoordinator(let peer): fixed + peer.rawValue.utf8.count
        case .platformFee, .external: fixed
        }
    }

    /// An account's text form (`AccountID.text`), written without building the string.
    mutating func account(_ account: AccountID) {
        switch account {
        case .wallet(let tenant):
            literal("wallet:")
            accountField(tenant.rawValue)
        case .voucherBudget(let program, let year):
            literal("voucher-budget:")
            accountField(program.rawValue)
            byte(Byte.colon)
            integer(year)
        case .voucherAllowance(let program, let tenant, let year):
            literal("voucher-allowance:")
            accountField(program.rawValue)
            byte(Byte.colon)
            accountField(tenant.rawValue)
            byte(Byte.colon)
            integer(year)
        case .voucherFunding(let program):
            literal("voucher-funding:")
            accountField(program.rawValue)
        case .voucherQuota(let program):
            literal("voucher-quota:")
            accountField(program.rawValue)
        case .siteReceivable(let site):
            literal("site-receivable:")
            accountField(site.rawValue)
        case .peerCoordinator(let peer):
            literal("peer:")
            accountField(peer.rawValue)
        case .platformFee:
            literal("platform-fee")
        case .external:
            literal("external")
        }
    }
}
