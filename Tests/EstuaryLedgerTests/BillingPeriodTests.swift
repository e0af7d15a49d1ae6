import EstuaryLedger
import EstuaryModel
import Testing

/// The message of a `LedgerError.invalid` thrown by `body`, or nil.
private func invalidMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
    } catch let error as LedgerError {
        if case .invalid(let message) = error { return message }
    } catch {}
    return nil
}

private let day: Int64 = 86_400_000
private let hour: Int64 = 3_600_000

@Suite("Billing periods")
struct BillingPeriodTests {
    struct Edge: Sendable, CustomTestStringConvertible {
        var text: String
        var offset: Int
        /// The period's first and exclusive last millisecond, worked out by hand.
        var start: Int64
        var end: Int64
        var testDescription: String { "\(text) at UTC\(offset >= 0 ? "+" : "")\(offset / 60)" }
    }

    // 2026-01-01T00:00Z = 1_767_225_600_000; 2028-02-01T00:00Z = 1_832_976_000_000.
    static let edges: [Edge] = [
        Edge(text: "1970-01", offset: 0, start: 0, end: 31 * day),
        Edge(text: "2026-01", offset: 0, start: 1_767_225_600_000, end: 1_767_225_600_000 + 31 * day),
        Edge(
            text: "2026-01", offset: 480, start: 1_767_225_600_000 - 8 * hour,
            end: 1_767_225_600_000 + 31 * day - 8 * hour),
        Edge(
            text: "2025-12", offset: 480, start: 1_767_225_600_000 - 31 * day - 8 * hour,
            end: 1_767_225_600_000 - 8 * hour),
        Edge(text: "2028-02", offset: 0, start: 1_832_976_000_000, end: 1_832_976_000_000 + 29 * day),
        Edge(text: "2027-02", offset: 0, start: 1_832_976_000_000 - 365 * day, end: 1_832_976_000_000 - 337 * day),
        Edge(
            text: "2028-02", offset: -300, start: 1_832_976_000_000 + 5 * hour,
            end: 1_832_976_000_000 + 29 * day + 5 * hour),
        Edge(text: "9999-12", offset: 0, start: 253_399_622_400_000, end: 253_402_300_800_000),
    ]

    @Test("a period runs from local midnight on the first to local midnight on the next first", arguments: edges)
    func monthEdges(_ edge: Edge) throws {
        let period = try BillingPeriod(parsing: edge.text)
        #expect(try period.startMs(utcOffsetMinutes: edge.offset) == edge.start)
        #expect(try period.endMs(utcOffsetMinutes: edge.offset) == edge.end)
        #expect(try BillingPeriod.containing(ms: edge.start, utcOffsetMinutes: edge.offset) == period)
        #expect(try BillingPeriod.containing(ms: edge.end - 1, utcOffsetMinutes: edge.offset) == period)
        if let next = period.next {
            #expect(try BillingPeriod.containing(ms: edge.end, utcOffsetMinutes: edge.offset) == next)
            #expect(try next.startMs(utcOffsetMinutes: edge.offset) == edge.end)
        }
    }

    @Test("midnight at UTC+8 is still the previous day in UTC")
    func offsetsDecideTheMonth() throws {
        let newYearInChina: Int64 = 1_767_225_600_000 - 8 * hour  // 2026-01-01T00:00+08:00
        #expect(try BillingPeriod.containing(ms: newYearInChina, utcOffsetMinutes: 480).description == "2026-01")
        #expect(try BillingPeriod.containing(ms: newYearInChina, utcOffsetMinutes: 0).description == "2025-12")
        #expect(try BillingPeriod.containing(ms: newYearInChina - 1, utcOffsetMinutes: 480).description == "2025-12")
    }

    @Test("the month after December is January of the next year, and 9999-12 has none")
    func nextAndPrevious() throws {
        #expect(try BillingPeriod(parsing: "2025-12").next == BillingPeriod(year: 2026, month: 1))
        #expect(try BillingPeriod(parsing: "2026-01").next == BillingPeriod(year: 2026, month: 2))
        #expect(try BillingPeriod(parsing: "2026-01").previous == BillingPeriod(year: 2025, month: 12))
        #expect(try BillingPeriod(parsing: "9999-12").next == nil)
        #expect(try BillingPeriod(parsing: "1970-01").previous == nil)
    }

    @Test("every month from 1970 to 9999 reads back, ends where the next starts, and sorts in time order")
    func roundTrips() throws {
        var period = try BillingPeriod(year: 1970, month: 1)
        var count = 0
        while true {
            count += 1
            #expect(try BillingPeriod(parsing: period.description) == period)
            let start = try period.startMs(utcOffsetMinutes: 480)
            let end = try period.endMs(utcOffsetMinutes: 480)
            #expect((28 * day...31 * day).contains(end - start), "\(period)")
            guard let next = period.next else { break }
            #expect(period < next)
            #expect(try next.startMs(utcOffsetMinutes: 480) == end, "\(period)")
            #expect(try BillingPeriod.containing(ms: end - 1, utcOffsetMinutes: 480) == period, "\(period)")
            period = next
        }
        #expect(count == (9999 - 1970 + 1) * 12)
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        var text: String
        var says: String
        var testDescription: String { "'\(text)'" }
    }

    static let malformed: [Malformed] = [
        Malformed(text: "2026-13", says: "month must be 01…12"),
        Malformed(text: "2026-00", says: "month must be 01…12"),
        Malformed(text: "26-01", says: "is not of the form YYYY-MM"),
        Malformed(text: "2026-1", says: "is not of the form YYYY-MM"),
        Malformed(text: "", says: "is not of the form YYYY-MM"),
        Malformed(text: "2026-01x", says: "is not of the form YYYY-MM"),
        Malformed(text: " 2026-01", says: "is not of the form YYYY-MM"),
        Malformed(text: "2026/01", says: "is not of the form YYYY-MM"),
        Malformed(text: "+026-01", says: "is not of the form YYYY-MM"),
        Malformed(text: "２０２６-01", says: "is not of the form YYYY-MM"),
        Malformed(text: "1969-12", says: "year 1969 is outside 1970…9999"),
    ]

    @Test("malformed periods are refused with the text and the expected form", arguments: malformed)
    func malformedInput(_ c: Malformed) {
        let message = invalidMessage { _ = try BillingPeriod(parsing: c.text) }
        #expect(message?.contains("'\(c.text)'") == true, "\(message ?? "no error")")
        #expect(message?.contains(c.says) == true, "\(message ?? "no error")")
    }

    @Test("out-of-range fields, offsets and instants are refused")
    func outOfRange() {
        #expect(invalidMessage { _ = try BillingPeriod(year: 2026, month: 13) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod(year: 10_000, month: 1) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod(year: 1969, month: 12) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod(year: 2026, month: 1).startMs(utcOffsetMinutes: 1_441) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod.containing(ms: 0, utcOffsetMinutes: -1_441) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod.containing(ms: -1, utcOffsetMinutes: 0) } != nil)
        #expect(invalidMessage { _ = try BillingPeriod.containing(ms: .max, utcOffsetMinutes: 0) } != nil)
    }

    @Test("the text form is the description and sorts like the period")
    func textForm() throws {
        #expect(try BillingPeriod(year: 2026, month: 3).description == "2026-03")
        #expect(try BillingPeriod(year: 2026, month: 11).description == "2026-11")
        #expect(try BillingPeriod(year: 2025, month: 12) < BillingPeriod(year: 2026, month: 1))
        #expect(try BillingPeriod(year: 2026, month: 2) < BillingPeriod(year: 2026, month: 10))
    }
}
