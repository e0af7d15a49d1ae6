import EstuaryModel

/// One calendar month of billing, `2026-01`: the unit in which the ledger is settled and closed.
///
/// A period is a month of local civil time at a fixed UTC offset (480 = UTC+8, the offset the
/// mesh bills in), so `2026-01` at UTC+8 runs from 2025-12-31T16:00Z up to, not including,
/// 2026-01-31T16:00Z. The offset is an argument, not part of the value: one period names the
/// same month whatever zone a caller computes its instants in. Computed with integers only, on
/// the same proleptic Gregorian calendar as `LocalYear`; no clock, no time-zone database.
///
/// The text form, and the Codable form, is the single string `YYYY-MM` (year 1970…9999,
/// month 01…12).
public struct BillingPeriod: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    /// 1 = January … 12 = December.
    public let month: Int

    /// Years a period may fall in: from the Unix epoch to the end of what `LocalYear` computes.
    public static let years = 1970...9999

    public init(year: Int, month: Int) throws(LedgerError) {
        guard Self.years.contains(year) else {
            throw .invalid("billing period year \(year) is outside \(Self.years.lowerBound)…\(Self.years.upperBound)")
        }
        guard (1...12).contains(month) else { throw .invalid("billing period month \(month) is outside 1…12") }
        self.init(unchecked: year, month)
    }

    /// Reads `YYYY-MM`: exactly four digits, a dash and two digits, nothing around them.
    public init(parsing text: String) throws(LedgerError) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-"), let year = number(0..<4), let month = number(5..<7)
        else {
            throw .invalid(
                "billing period '\(text)' is not of the form YYYY-MM (a four-digit year, a dash, a two-digit month: 2026-01)"
            )
        }
        guard Self.years.contains(year) else {
            throw .invalid(
                "billing period '\(text)': year \(year) is outside \(Self.years.lowerBound)…\(Self.years.upperBound)")
        }
        guard (1...12).contains(month) else { throw .invalid("billing period '\(text)': month must be 01…12") }
        self.init(unchecked: year, month)
    }

    private init(unchecked year: Int, _ month: Int) {
        self.year = year
        self.month = month
    }

    /// The period `ms` falls in, at `utcOffsetMinutes` from UTC. Refuses an offset outside
    /// `LocalYear.offsets` and an instant outside years 1970…9999 local time.
    public static func containing(ms: Int64, utcOffsetMinutes: Int) throws(LedgerError) -> BillingPeriod {
        let year = try LocalYear.year(containing: ms, utcOffsetMinutes: utcOffsetMinutes)
        guard years.contains(year) else {
            throw .invalid("instant \(ms) falls in year \(year), before the first billing period (1970-01)")
        }
        let local = Int128(ms) + Int128(utcOffsetMinutes) * 60_000
        let dayOfYear = LocalYear.floorDivide(local, LocalYear.msPerDay) - LocalYear.firstDay(of: year)
        var month = 12
        while month > 1, daysBefore(month: month, in: year) > dayOfYear { month -= 1 }
        return BillingPeriod(unchecked: year, month)
    }

    /// The first millisecond of the period at `utcOffsetMinutes` from UTC.
    public func startMs(utcOffsetMinutes: Int) throws(LedgerError) -> Int64 {
        try Self.firstMs(year: year, month: month, utcOffsetMinutes: utcOffsetMinutes)
    }

    /// The first millisecond after the period (exclusive end): the next month's start. Defined for
    /// 9999-12 as well, which has no next period.
    public func endMs(utcOffsetMinutes: Int) throws(LedgerError) -> Int64 {
        month == 12
            ? try Self.firstMs(year: year + 1, month: 1, utcOffsetMinutes: utcOffsetMinutes)
            : try Self.firstMs(year: year, month: month + 1, utcOffsetMinutes: utcOffsetMinutes)
    }

    /// The following month; nil after 9999-12.
    public var next: BillingPeriod? {
        if month < 12 { return BillingPeriod(unchecked: year, month + 1) }
        return year < Self.years.upperBound ? BillingPeriod(unchecked: year + 1, 1) : nil
    }

    /// The month before; nil before 1970-01.
    public var previous: BillingPeriod? {
        if month > 1 { return BillingPeriod(unchecked: year, month - 1) }
        return year > Self.years.lowerBound ? BillingPeriod(unchecked: year - 1, 12) : nil
    }

    /// `YYYY-MM`.
    public var description: String { "\(year)-\(month < 10 ? "0" : "")\(month)" }

    public static func < (lhs: BillingPeriod, rhs: BillingPeriod) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try BillingPeriod(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: Civil days

    /// Days in a common year before the first of each month.
    private static let cumulativeDays: [Int128] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]

    static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    /// Days from 1 January of `year` to the first of `month`.
    static func daysBefore(month: Int, in year: Int) -> Int128 {
        cumulativeDays[month - 1] + (month > 2 && isLeap(year) ? 1 : 0)
    }

    /// The first millisecond of `month` of `year` (1970…10000, 10000 only for January) local time.
    private static func firstMs(year: Int, month: Int, utcOffsetMinutes: Int) throws(LedgerError) -> Int64 {
        guard LocalYear.offsets.contains(utcOffsetMinutes) else {
            throw .invalid("utc offset \(utcOffsetMinutes) minutes is outside ±24 h")
        }
        let day = LocalYear.firstDay(of: year) + daysBefore(month: month, in: year)
        let ms = day * LocalYear.msPerDay - Int128(utcOffsetMinutes) * 60_000
        // Years up to 10000 are about 2.5e14 ms from the epoch: always an Int64.
        guard let exact = Int64(exactly: ms) else { throw .invalid("the start of \(year)-\(month) is out of range") }
        return exact
    }
}
