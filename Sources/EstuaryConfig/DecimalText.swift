import TOMLKit

/// Decimal numbers read exactly, with no binary floating point in between: money in fen,
/// shares in basis points, PUE in thousandths.
///
/// A TOML float is taken by its shortest round-trip decimal form, which is what the user wrote
/// (`0.45` is the double nearest 0.45, and prints as `0.45`), so `green_share = 0.45` gives
/// exactly 4500 basis points.
enum DecimalText {
    enum Problem: Error, Equatable {
        /// Not a decimal number.
        case malformed
        /// More fractional digits than the unit holds (only when rounding is not allowed).
        case tooPrecise
        /// Does not fit in 64 bits.
        case outOfRange
    }

    /// `text` × 10^`places` as an integer: `"2000.05"` with 2 places is 200005. With `roundHalfUp`
    /// digits beyond `places` are rounded half away from zero; without it they must be zeros.
    static func scaled(_ text: String, places: Int, roundHalfUp: Bool) throws(Problem) -> Int64 {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var exponent = 0
        var sawPoint = false
        var sawDigit = false
        while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if byte == UInt8(ascii: ".") {
                if sawPoint { throw .malformed }
                sawPoint = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                sawDigit = true
                if digits.isEmpty && byte == UInt8(ascii: "0") {
                    if sawPoint { exponent -= 1 }
                    continue
                }
                digits.append(byte - UInt8(ascii: "0"))
                if sawPoint { exponent -= 1 }
            } else {
                throw .malformed
            }
        }
        guard sawDigit else { throw .malformed }
        if !bytes.isEmpty {
            bytes = bytes.dropFirst()
            guard let written = Int(String(decoding: bytes, as: UTF8.self)), (-9_999...9_999).contains(written) else { throw .malformed }
            exponent += written
        }
        // value = digits × 10^exponent; wanted: value × 10^places.
        let shift = exponent + places
        var kept = digits
        var roundUp = false
        if shift < 0 {
            let drop = min(-shift, digits.count)
            let dropped = digits.suffix(drop)
            kept = Array(digits.dropLast(drop))
            if roundHalfUp {
                roundUp = -shift <= digits.count && (dropped.first ?? 0) >= 5
            } else if dropped.contains(where: { $0 != 0 }) {
                throw .tooPrecise
            }
        } else if !digits.isEmpty {
            guard shift <= 19 else { throw .outOfRange }
            kept += Array(repeating: 0, count: shift)
        }
        var magnitude: Int64 = 0
        for digit in kept {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { throw .outOfRange }
            magnitude = sum
        }
        if roundUp {
            let (sum, overflow) = magnitude.addingReportingOverflow(1)
            guard !overflow else { throw .outOfRange }
            magnitude = sum
        }
        return negative ? -magnitude : magnitude
    }

    /// The decimal text of a TOML integer, float or string; nil for anything else.
    static func text(of value: any TOMLValueConvertible) -> String? {
        if let integer = value.int { return String(integer) }
        if let double = value.double { return double.isFinite ? "\(double)" : nil }
        return value.string
    }
}
