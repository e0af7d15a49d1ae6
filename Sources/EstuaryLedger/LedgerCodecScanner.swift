import EstuaryModel

// Byte-level reading for LedgerCodec: numbers, identifiers, account names and escaped text, from
// a UTF-8 buffer, without building intermediate strings. Every function takes a half-open byte
// range and reports errors with absolute offsets; field names are autoclosures so that the hot
// path never formats one.

enum Byte {
    static let bar = UInt8(ascii: "|")
    static let semicolon = UInt8(ascii: ";")
    static let equals = UInt8(ascii: "=")
    static let colon = UInt8(ascii: ":")
    static let backslash = UInt8(ascii: "\\")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let zero = UInt8(ascii: "0")
    static let dot = UInt8(ascii: ".")
}

struct LedgerTextScanner {
    let bytes: UnsafeBufferPointer<UInt8>

    // MARK: numbers

    /// The signed decimal integer filling `range` exactly: `-` for negatives, no `+`, no leading
    /// zeros, no `-0`, within Int64.
    func int64(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> Int64 {
        var index = range.lowerBound
        let end = range.upperBound
        guard index < end else { throw .emptyField(field: field(), offset: index) }
        let negative = bytes[index] == Byte.minus
        if bytes[index] == Byte.plus { throw .leadingPlus(field: field(), offset: index) }
        if negative { index += 1 }
        guard index < end else { throw .nonDigit(field: field(), offset: index) }
        if bytes[index] == Byte.zero {
            if index + 1 < end {
                if bytes[index + 1] &- Byte.zero < 10 { throw .leadingZero(field: field(), offset: range.lowerBound) }
                throw .nonDigit(field: field(), offset: index + 1)
            }
            if negative { throw .negativeZero(field: field(), offset: range.lowerBound) }
            return 0
        }
        // Eighteen digits never overflow a UInt64; only later ones need checked arithmetic.
        let safeEnd = min(end, index + 18)
        var magnitude: UInt64 = 0
        while index < safeEnd {
            let digit = bytes[index] &- Byte.zero
            guard digit < 10 else { throw .nonDigit(field: field(), offset: index) }
            magnitude = magnitude &* 10 &+ UInt64(digit)
            index += 1
        }
        while index < end {
            let digit = bytes[index] &- Byte.zero
            guard digit < 10 else { throw .nonDigit(field: field(), offset: index) }
            let (product, productOverflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, sumOverflow) = product.addingReportingOverflow(UInt64(digit))
            guard !productOverflow, !sumOverflow else { throw .overflow(field: field(), offset: range.lowerBound) }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= Int64.min.magnitude else { throw .overflow(field: field(), offset: range.lowerBound) }
            return Int64(bitPattern: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw .overflow(field: field(), offset: range.lowerBound) }
        return Int64(magnitude)
    }

    func int(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> Int {
        guard let value = Int(exactly: try int64(range, field())) else {
            throw .overflow(field: field(), offset: range.lowerBound)
        }
        return value
    }

    /// A number, or nil for an empty field.
    func optionalInt64(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> Int64? {
        range.isEmpty ? nil : try int64(range, field())
    }

    func optionalInt(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> Int? {
        range.isEmpty ? nil : try int(range, field())
    }

    // MARK: identifiers and enumerations

    /// The identifier filling `range`, checked as `Identifiers.isWellFormed` does.
    func identifier(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> String {
        guard let value = wellFormedIdentifier(range) else {
            throw .invalidIdentifier(field: field(), offset: range.lowerBound, value: string(range))
        }
        return value
    }

    func optionalIdentifier(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> String? {
        range.isEmpty ? nil : try identifier(range, field())
    }

    /// A line's identifier that defaults to the charge's: empty means `same`, which lies at
    /// `sameRange`; spelling it out is refused so that each charge has one text.
    func identifier(
        _ range: Range<Int>, defaultingTo same: String, at sameRange: Range<Int>, _ field: @autoclosure () -> String
    ) throws(LedgerCodecError) -> String {
        if range.isEmpty { return same }
        if equalBytes(range, sameRange) { throw .redundantValue(field: field(), offset: range.lowerBound) }
        return try identifier(range, field())
    }

    /// The case of `Value` whose raw value is the text in `range`.
    func value<Value: RawRepresentable>(
        _ range: Range<Int>, _ field: @autoclosure () -> String, as _: Value.Type = Value.self
    ) throws(LedgerCodecError) -> Value where Value.RawValue == String {
        // Raw values here are short: the string is stored inline, with no allocation.
        guard let value = Value(rawValue: string(range)) else {
            throw .unknownValue(field: field(), offset: range.lowerBound, value: string(range))
        }
        return value
    }

    func optionalValue<Value: RawRepresentable>(
        _ range: Range<Int>, _ field: @autoclosure () -> String, as _: Value.Type = Value.self
    ) throws(LedgerCodecError) -> Value? where Value.RawValue == String {
        range.isEmpty ? nil : try value(range, field(), as: Value.self)
    }

    /// The identifier in `range` if it is well formed: 1–128 bytes of `[A-Za-z0-9._-]`, not `.`
    /// or `..` (`Identifiers.isWellFormed`, byte for byte).
    func wellFormedIdentifier(_ range: Range<Int>) -> String? {
        let count = range.count
        guard count > 0, count <= Identifiers.maxLength else { return nil }
        var allDots = true
        for index in range {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                allDots = false
            case Byte.dot:
                break
            default:
                return nil
            }
        }
        if allDots && count <= 2 { return nil }
        return string(range)
    }

    // MARK: text

    /// Text escaped by `LedgerTextWriter.text`: `\\` for `\`, `\p` for `|`, `\0` for NUL.
    func text(_ range: Range<Int>, _ field: @autoclosure () -> String) throws(LedgerCodecError) -> String {
        var clean = true
        for index in range where bytes[index] == Byte.backslash || bytes[index] == 0 {
            clean = false
            break
        }
        if clean { return string(range) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == 0 { throw .unescapedNul(field: field(), offset: index) }
            guard byte == Byte.backslash else {
                unescaped.append(byte)
                index += 1
                continue
            }
            guard index + 1 < range.upperBound else { throw .invalidEscape(field: field(), offset: index) }
            switch bytes[index + 1] {
            case Byte.backslash: unescaped.append(Byte.backslash)
            case UInt8(ascii: "p"): unescaped.append(Byte.bar)
            case Byte.zero: unescaped.append(0)
            default: throw .invalidEscape(field: field(), offset: index)
            }
            index += 2
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func equalBytes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        var j = b.lowerBound
        for i in a {
            if bytes[i] != bytes[j] { return false }
            j += 1
        }
        return true
    }

    func matches(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let start = literal.utf8Start
        var offset = 0
        for index in range {
            if bytes[index] != start[offset] { return false }
            offset += 1
        }
        return true
    }

    /// The first index in `start..<end` holding `byte`, or `end`.
    func first(_ byte: UInt8, from start: Int, to end: Int) -> Int {
        var index = start
        while index < end, bytes[index] != byte { index += 1 }
        return index
    }
}
