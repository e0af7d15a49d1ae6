@testable import EstuaryLedger
import EstuaryModel
import Testing

// Times are written in the site's local time (China Standard Time, UTC+8) as days since
// 1970-01-01 plus a time of day. Day 20098 is Friday 2025-01-10.
private enum Day {
    static let friday = 20_098
    static let saturday = 20_099
    static let sunday = 20_100
    static let monday = 20_101
}

/// Unix ms of a local (UTC+8) date and time.
private func at(_ day: Int, _ hour: Int, _ minute: Int = 0, _ ms: Int = 0) -> Int64 {
    (Int64(day) * 86_400_000 + Int64(hour) * 3_600_000 + Int64(minute) * 60_000 + Int64(ms)) - 8 * 3_600_000
}

private enum Fixture {
    static let site: SiteID = "gz-nansha"
    static let h100: AcceleratorClass = "nvidia-h100"

    /// Workdays: valley 23:00–07:00, peak 10:00–12:00 and 14:00–19:00. Weekends: valley
    /// 12:00–14:00. Everything else flat.
    static let periods = [
        TariffPeriod(kind: .valley, days: .workday, startMinute: 23 * 60, endMinute: 7 * 60),
        TariffPeriod(kind: .peak, days: .workday, startMinute: 10 * 60, endMinute: 12 * 60),
        TariffPeriod(kind: .peak, days: .workday, startMinute: 14 * 60, endMinute: 19 * 60),
        TariffPeriod(kind: .valley, days: .weekend, startMinute: 12 * 60, endMinute: 14 * 60),
    ]

    static func book(flat: Int64 = 1200, peak: Int64 = 1800, valley: Int64 = 600, periods: [TariffPeriod] = periods)
        -> PriceBook
    {
        PriceBook(prices: [h100: ClassPrice(flat: flat, peak: peak, valley: valley)], periods: periods)
    }

    static func history(_ versions: [PriceVersion]) -> PriceHistory {
        // The fixtures are valid; a failure here is a broken test, reported as such.
        do { return try PriceHistory(site: site, versions: versions) } catch {
            Issue.record("fixture history invalid: \(error)")
            return try! PriceHistory(site: site, versions: [PriceVersion(version: 1, effectiveFromMs: 0, book: book())])
        }
    }

    static let touHistory = history([PriceVersion(version: 1, effectiveFromMs: 0, book: book())])

    static func usage(
        _ start: Int64, _ end: Int64, units: Int = 1, cls: AcceleratorClass = h100, measuredWh: Int64? = nil
    ) -> UsageToRate {
        UsageToRate(
            recordID: "u-job1-0", job: "job1", tenant: "lab", site: site, cls: cls, units: units, startMs: start,
            endMs: end, measuredEnergyWh: measuredWh)
    }

    static func spec(watts: Int) -> AcceleratorSpec {
        AcceleratorSpec(
            name: h100, vendor: "NVIDIA", model: "H100 SXM", kind: .gpu, domestic: false, fp16TFLOPS: 989,
            fp32TFLOPS: 67, fp64TFLOPS: 34, memoryGiB: 80, powerWatts: watts)
    }

    static let plainEnergy = SiteEnergy(greenShareBP: 0, pueMilli: 1000, gridGramsPerKWh: 500)
}

/// The message of a `LedgerError.invalid` thrown by `body`, or nil.
private func invalidMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as LedgerError { if case .invalid(let message) = error { return message } } catch {}
    return nil
}

@Suite("Rating compute usage")
struct RatingTests {
    struct Span: Sendable, Hashable, CustomStringConvertible {
        let start: Int64
        let end: Int64
        let tariff: TariffKind
        var description: String { "[\(start), \(end)) \(tariff)" }
    }

    struct TOUCase: Sendable, CustomTestStringConvertible {
        let name: String
        let start: Int64
        let end: Int64
        let spans: [Span]
        var testDescription: String { name }
    }

    @Test(
        "a record is cut exactly where the time-of-use period changes",
        arguments: [
            TOUCase(
                name: "crossing the 23:00 valley start", start: at(Day.friday, 22, 30), end: at(Day.friday, 23, 30),
                spans: [
                    Span(start: at(Day.friday, 22, 30), end: at(Day.friday, 23), tariff: .flat),
                    Span(start: at(Day.friday, 23), end: at(Day.friday, 23, 30), tariff: .valley),
                ]),
            TOUCase(
                name: "crossing midnight into the weekend", start: at(Day.friday, 22), end: at(Day.saturday, 1),
                spans: [
                    Span(start: at(Day.friday, 22), end: at(Day.friday, 23), tariff: .flat),
                    Span(start: at(Day.friday, 23), end: at(Day.saturday, 0), tariff: .valley),
                    Span(start: at(Day.saturday, 0), end: at(Day.saturday, 1), tariff: .flat),
                ]),
            TOUCase(
                name: "spanning a weekend into Monday", start: at(Day.saturday, 11), end: at(Day.monday, 11),
                spans: [
                    Span(start: at(Day.saturday, 11), end: at(Day.saturday, 12), tariff: .flat),
                    Span(start: at(Day.saturday, 12), end: at(Day.saturday, 14), tariff: .valley),
                    Span(start: at(Day.saturday, 14), end: at(Day.sunday, 12), tariff: .flat),
                    Span(start: at(Day.sunday, 12), end: at(Day.sunday, 14), tariff: .valley),
                    Span(start: at(Day.sunday, 14), end: at(Day.monday, 0), tariff: .flat),
                    Span(start: at(Day.monday, 0), end: at(Day.monday, 7), tariff: .valley),
                    Span(start: at(Day.monday, 7), end: at(Day.monday, 10), tariff: .flat),
                    Span(start: at(Day.monday, 10), end: at(Day.monday, 11), tariff: .peak),
                ]),
            TOUCase(
                name: "inside one period", start: at(Day.friday, 15), end: at(Day.friday, 16, 30),
                spans: [Span(start: at(Day.friday, 15), end: at(Day.friday, 16, 30), tariff: .peak)]),
            TOUCase(
                name: "ending exactly on a boundary", start: at(Day.friday, 22), end: at(Day.friday, 23),
                spans: [Span(start: at(Day.friday, 22), end: at(Day.friday, 23), tariff: .flat)]),
        ])
    func touSplits(_ testCase: TOUCase) throws {
        let lines = try Rater.rate(
            Fixture.usage(testCase.start, testCase.end, units: 2), history: Fixture.touHistory,
            energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        #expect(lines.map { Span(start: $0.startMs, end: $0.endMs, tariff: $0.tariff ?? .flat) } == testCase.spans)
        #expect(lines.map(\.index) == Array(0..<lines.count))
        for line in lines {
            let price: Int64 = switch line.tariff { case .peak: 1800; case .valley: 600; default: 1200 }
            #expect(line.fenPerUnitHour == price)
            #expect(line.unitMilliseconds == 2 * (line.endMs - line.startMs))
            #expect(line.priceVersion == 1 && line.kind == .compute && line.cls == Fixture.h100)
        }
    }

    @Test("several days at 8 units cost exactly the hand-computed whole hours")
    func severalDaysTotal() throws {
        // Saturday 11:00 → Monday 11:00: 36 h flat, 11 h valley, 1 h peak.
        // 8 × (36 × 1200 + 11 × 600 + 1 × 1800) = 8 × 51,600 = 412,800 fen.
        let lines = try Rater.rate(
            Fixture.usage(at(Day.saturday, 11), at(Day.monday, 11), units: 8), history: Fixture.touHistory,
            energy: Fixture.plainEnergy, spec: nil, rule: .truncate)
        #expect(lines.map(\.amountFen) == [9_600, 9_600, 211_200, 9_600, 96_000, 33_600, 28_800, 14_400])
        #expect(try LedgerArithmetic.sum(lines.map(\.amountFen), "total") == 412_800)
    }

    @Test("lines sum exactly to an independent hand computation under both rules")
    func linesSumExactly() throws {
        // 3 units, Fri 22:20:00.300 → Sat 00:40:01.900, flat 1001, valley 599 fen per unit-hour:
        //   flat   2,399,700 ms × 3 × 1001 / 3.6e6 = 2001.74975   → 2001 truncated, 2002 half-up
        //   valley 3,600,000 ms × 3 ×  599 / 3.6e6 = 1797         → 1797 either way
        //   flat   2,401,900 ms × 3 × 1001 / 3.6e6 = 2003.5849166 → 2003 truncated, 2004 half-up
        // Exact total 5802.3346…: truncation gives 5801, half-up 5803.
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book(flat: 1001, peak: 1501, valley: 599))
        ])
        let usage = Fixture.usage(at(Day.friday, 22, 20, 300), at(Day.saturday, 0, 40, 1_900), units: 3)
        let truncated = try Rater.rate(usage, history: history, energy: Fixture.plainEnergy, spec: nil, rule: .truncate)
        let halfUp = try Rater.rate(usage, history: history, energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        #expect(truncated.map(\.quantity) == [7_199_100, 10_800_000, 7_205_700])
        #expect(truncated.map(\.amountFen) == [2001, 1797, 2003])
        #expect(halfUp.map(\.amountFen) == [2002, 1797, 2004])
        #expect(truncated.reduce(0) { $0 + $1.amountFen } == 5801)
        #expect(halfUp.reduce(0) { $0 + $1.amountFen } == 5803)
        #expect(halfUp.allSatisfy { $0.rule == .halfUp } && truncated.allSatisfy { $0.rule == .truncate })
        for line in truncated + halfUp { #expect(try line.recomputedAmount() == line.amountFen) }
    }

    struct RoundingCase: Sendable, CustomTestStringConvertible {
        let price: Int64
        let units: Int
        let ms: Int64
        let truncated: Fen
        let halfUp: Fen
        var testDescription: String { "\(units) × \(ms) ms at \(price) fen/h" }
    }

    @Test(
        "each line is rounded once, by the stated rule",
        arguments: [
            // 1001 × 60,000 / 3.6e6 = 16.68…
            RoundingCase(price: 1001, units: 1, ms: 60_000, truncated: 16, halfUp: 17),
            // 1000 × 12,600 / 3.6e6 = 3.5 exactly: a half goes up, truncation drops it.
            RoundingCase(price: 1000, units: 1, ms: 12_600, truncated: 3, halfUp: 4),
            // 3.4997…: below the half, both round down.
            RoundingCase(price: 1000, units: 1, ms: 12_599, truncated: 3, halfUp: 3),
            // 1 × 1000 × 1800 / 3.6e6 = 0.5 exactly.
            RoundingCase(price: 1, units: 1000, ms: 1_800, truncated: 0, halfUp: 1),
            // 7 / 3.6e6: a sliver of a fen is nothing under either rule.
            RoundingCase(price: 7, units: 1, ms: 1, truncated: 0, halfUp: 0),
            // 1000 × 3.6e6 / 3.6e6 = 1000: exact amounts are untouched.
            RoundingCase(price: 1000, units: 1, ms: 3_600_000, truncated: 1000, halfUp: 1000),
        ])
    func rounding(_ testCase: RoundingCase) throws {
        let history = Fixture.history([
            PriceVersion(
                version: 1, effectiveFromMs: 0,
                book: PriceBook(prices: [Fixture.h100: ClassPrice(flat: testCase.price)]))
        ])
        let usage = Fixture.usage(at(Day.friday, 9), at(Day.friday, 9) + testCase.ms, units: testCase.units)
        for (rule, expected) in [(RoundingRule.truncate, testCase.truncated), (.halfUp, testCase.halfUp)] {
            let lines = try Rater.rate(usage, history: history, energy: Fixture.plainEnergy, spec: nil, rule: rule)
            #expect(lines.map(\.amountFen) == [expected], "\(rule)")
        }
    }

    @Test("a price version taking effect inside a record splits it there")
    func versionChange() throws {
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book()),
            PriceVersion(version: 4, effectiveFromMs: at(Day.friday, 15, 30), book: Fixture.book(peak: 2400)),
        ])
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 15), at(Day.friday, 16), units: 2), history: history,
            energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        // Half an hour each at 2 units: 1 unit-hour at 1800, then 1 unit-hour at 2400.
        #expect(lines.map(\.startMs) == [at(Day.friday, 15), at(Day.friday, 15, 30)])
        #expect(lines.map(\.priceVersion) == [1, 4])
        #expect(lines.map(\.fenPerUnitHour) == [1800, 2400])
        #expect(lines.map(\.amountFen) == [1800, 2400])
    }

    @Test("a version change on a period boundary makes one cut, and an unchanged price still splits")
    func versionChangeOnBoundary() throws {
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book()),
            PriceVersion(version: 2, effectiveFromMs: at(Day.friday, 19), book: Fixture.book(flat: 1300)),
            PriceVersion(version: 3, effectiveFromMs: at(Day.friday, 20), book: Fixture.book(flat: 1300)),
        ])
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 18, 30), at(Day.friday, 20, 30)), history: history,
            energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        #expect(lines.map(\.priceVersion) == [1, 2, 3])
        #expect(lines.map(\.tariff) == [.peak, .flat, .flat])
        #expect(lines.map(\.amountFen) == [900, 1300, 650])
    }

    @Test("a record before the site's first price version is refused")
    func beforeFirstVersion() {
        let history = Fixture.history([PriceVersion(version: 1, effectiveFromMs: at(Day.friday, 0), book: Fixture.book())])
        let message = invalidMessage {
            _ = try Rater.rate(
                Fixture.usage(at(Day.friday, 0) - 60_000, at(Day.friday, 1)), history: history,
                energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        }
        #expect(message?.contains("no prices") == true)
    }
}

@Suite("Rating energy and carbon")
struct CarbonTests {
    @Test("estimated energy and carbon match a hand computation")
    func estimated() throws {
        // 8 × 700 W × 1 h = 5600 Wh; × PUE 1.25 × 600 g/kWh × (1 − 25 % green) = 3150 g.
        let energy = SiteEnergy(greenShareBP: 2500, pueMilli: 1250, gridGramsPerKWh: 600)
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 20), at(Day.friday, 21), units: 8), history: Fixture.touHistory,
            energy: energy, spec: Fixture.spec(watts: 700), rule: .halfUp)
        #expect(lines.map(\.energyWh) == [5600])
        #expect(lines.map(\.gramsCO2) == [3150])
    }

    @Test("carbon is rounded half-up from an exact half gram")
    func halfGram() throws {
        // 1 × 300 W × 1 h = 300 Wh; × 1.5 × 570 g/kWh = 256.5 g → 257.
        let energy = SiteEnergy(greenShareBP: 0, pueMilli: 1500, gridGramsPerKWh: 570)
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 20), at(Day.friday, 21)), history: Fixture.touHistory, energy: energy,
            spec: Fixture.spec(watts: 300), rule: .halfUp)
        #expect(lines.map(\.gramsCO2) == [257])
    }

    @Test("hourly grid intensity cuts lines at local hour edges, and only then")
    func hourlyIntensity() throws {
        // 2 × 500 W for 20:30–21:30 local: 500 Wh in each hour. PUE 1.0, 50 % green:
        // hour 20 at 800 g/kWh → 500 × 0.8 × 0.5 = 200 g; hour 21 at 400 g/kWh → 100 g.
        var hourly = Array(repeating: 500, count: 24)
        hourly[20] = 800
        hourly[21] = 400
        let varying = SiteEnergy(greenShareBP: 5000, pueMilli: 1000, gridGramsPerKWh: 500, hourlyGramsPerKWh: hourly)
        let usage = Fixture.usage(at(Day.friday, 20, 30), at(Day.friday, 21, 30), units: 2)
        let lines = try Rater.rate(
            usage, history: Fixture.touHistory, energy: varying, spec: Fixture.spec(watts: 500), rule: .halfUp)
        #expect(lines.map(\.startMs) == [at(Day.friday, 20, 30), at(Day.friday, 21)])
        #expect(lines.map(\.energyWh) == [500, 500])
        #expect(lines.map(\.gramsCO2) == [200, 100])
        #expect(lines.map(\.amountFen) == [1200, 1200])

        // Same intensity every hour: one line, as without hourly figures.
        let flat = SiteEnergy(
            greenShareBP: 5000, pueMilli: 1000, gridGramsPerKWh: 500, hourlyGramsPerKWh: Array(repeating: 500, count: 24))
        let merged = try Rater.rate(
            usage, history: Fixture.touHistory, energy: flat, spec: Fixture.spec(watts: 500), rule: .halfUp)
        #expect(merged.count == 1)
        #expect(merged.first?.gramsCO2 == 250)
    }

    @Test("measured energy is shared over lines by duration and sums exactly")
    func measured() throws {
        // 22:40–23:40: 20 min flat, 40 min valley. 1000 Wh → 333⅓ and 666⅔ → 333 and 667.
        // 600 g/kWh, PUE 1.0, no green: exact shares give 200 g and 400 g.
        let energy = SiteEnergy(greenShareBP: 0, pueMilli: 1000, gridGramsPerKWh: 600)
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 22, 40), at(Day.friday, 23, 40), measuredWh: 1000),
            history: Fixture.touHistory, energy: energy, spec: Fixture.spec(watts: 9999), rule: .halfUp)
        #expect(lines.map(\.energyWh) == [333, 667])
        #expect(lines.map(\.gramsCO2) == [200, 400])
    }

    @Test("without a meter reading or a catalog entry, lines carry no energy rather than zero")
    func unknownEnergy() throws {
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 20), at(Day.friday, 21)), history: Fixture.touHistory,
            energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        #expect(lines.map(\.energyWh) == [nil])
        #expect(lines.map(\.gramsCO2) == [nil])
    }

    @Test("apportioning gives leftovers to the largest remainders, earliest first on ties")
    func apportion() throws {
        #expect(try Rater.apportion(10, over: [1, 1, 1]) == [4, 3, 3])
        #expect(try Rater.apportion(1000, over: [1, 2]) == [333, 667])
        #expect(try Rater.apportion(0, over: [5, 0]) == [0, 0])
        #expect(try Rater.apportion(Int64.max, over: [Int64.max, 1]).reduce(Int128(0)) { $0 + Int128($1) } == Int128(Int64.max))
    }
}

@Suite("Rating refuses bad input")
struct RatingRefusalTests {
    @Test("a class the price book does not price is an error, not a free line")
    func unpricedClass() {
        #expect(throws: LedgerError.unpriced(site: Fixture.site, cls: "ascend-910b", version: 1)) {
            _ = try Rater.rate(
                Fixture.usage(at(Day.friday, 9), at(Day.friday, 10), cls: "ascend-910b"), history: Fixture.touHistory,
                energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        }
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let name: String
        let usage: UsageToRate
        let expected: String
        var testDescription: String { name }
    }

    @Test(
        "malformed records are refused with the reason",
        arguments: [
            BadCase(
                name: "ends before it starts", usage: Fixture.usage(at(Day.friday, 10), at(Day.friday, 9)),
                expected: "before it starts"),
            BadCase(name: "no units", usage: Fixture.usage(at(Day.friday, 9), at(Day.friday, 10), units: 0), expected: "units"),
            BadCase(
                name: "more units than any job can hold",
                usage: Fixture.usage(at(Day.friday, 9), at(Day.friday, 10), units: Int.max), expected: "units"),
            BadCase(name: "times at the ends of Int64", usage: Fixture.usage(Int64.min, Int64.max), expected: "times"),
            BadCase(
                name: "longer than any record can last",
                usage: Fixture.usage(0, UsageRecord.maxDurationMs + 1), expected: "longer"),
            BadCase(
                name: "negative metered energy",
                usage: Fixture.usage(at(Day.friday, 9), at(Day.friday, 10), measuredWh: -1), expected: "energy"),
        ])
    func malformed(_ testCase: BadCase) {
        let message = invalidMessage {
            _ = try Rater.rate(
                testCase.usage, history: Fixture.touHistory, energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        }
        #expect(message?.contains(testCase.expected) == true, "\(message ?? "no error")")
    }

    @Test("a zero-length record gives no lines")
    func zeroLength() throws {
        let lines = try Rater.rate(
            Fixture.usage(at(Day.friday, 9), at(Day.friday, 9)), history: Fixture.touHistory,
            energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        #expect(lines.isEmpty)
    }

    @Test("huge prices and figures report overflow instead of trapping")
    func overflow() {
        let dearest = Fixture.history([
            PriceVersion(
                version: 1, effectiveFromMs: 0, book: PriceBook(prices: [Fixture.h100: ClassPrice(flat: Int64.max)]))
        ])
        let longest = Fixture.usage(0, UsageRecord.maxDurationMs, units: UsageRecord.maxUnits)
        #expect(throws: LedgerError.self) {
            _ = try Rater.rate(longest, history: dearest, energy: Fixture.plainEnergy, spec: nil, rule: .halfUp)
        }
        let metered = Fixture.usage(at(Day.friday, 9), at(Day.friday, 10), measuredWh: Int64.max)
        let dirty = SiteEnergy(greenShareBP: 0, pueMilli: 5000, gridGramsPerKWh: 2000)
        #expect(throws: LedgerError.self) {
            _ = try Rater.rate(metered, history: Fixture.touHistory, energy: dirty, spec: nil, rule: .halfUp)
        }
        #expect(throws: LedgerError.self) {
            _ = try Rater.rate(
                Fixture.usage(0, UsageRecord.maxDurationMs, units: UsageRecord.maxUnits), history: Fixture.touHistory,
                energy: dirty, spec: Fixture.spec(watts: Int.max), rule: .halfUp)
        }
    }
}

@Suite("Price history")
struct PriceHistoryTests {
    @Test("a history reports every problem at once")
    func everyProblem() {
        let services: [ServiceID: ServicePrice] = [
            "obs": ServicePrice(kind: .storage, unit: "", priceFen: -1, perUnits: 0)
        ]
        let versions = [
            PriceVersion(version: 0, effectiveFromMs: 100, book: Fixture.book()),
            PriceVersion(version: 2, effectiveFromMs: 200, book: Fixture.book(flat: -5)),
            PriceVersion(version: 2, effectiveFromMs: 150, book: Fixture.book(), services: services),
        ]
        let fields = PriceHistory.problems(site: Fixture.site, versions: versions).map(\.field)
        #expect(
            fields == [
                "versions[0].version", "versions[1].book", "versions[2].version", "versions[2].effective_from_ms",
                "versions[2].services.obs.unit", "versions[2].services.obs.price_fen",
                "versions[2].services.obs.per_units",
            ])
        #expect(throws: ValidationError.self) { _ = try PriceHistory(site: Fixture.site, versions: versions) }
        #expect(PriceHistory.problems(site: Fixture.site, versions: []).map(\.field) == ["versions"])
    }

    @Test("the version in force and the next change are found by effective instant")
    func lookup() {
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book()),
            PriceVersion(version: 2, effectiveFromMs: 1000, book: Fixture.book()),
            PriceVersion(version: 7, effectiveFromMs: 2000, book: Fixture.book()),
        ])
        #expect(history.version(atMs: -1) == nil)
        #expect([0, 999, 1000, 1999, 2000, 9999].map { history.version(atMs: $0)?.version } == [1, 1, 2, 2, 7, 7])
        #expect([-5, 0, 999, 1000, 2000].map { history.nextChange(afterMs: $0) } == [0, 1000, 1000, 2000, nil])
        #expect(history.version(numbered: 7)?.effectiveFromMs == 2000)
        #expect(history.version(numbered: 3) == nil)
    }
}

@Suite("Rating non-compute services")
struct ServiceRatingTests {
    static let storage = ServicePrice(kind: .storage, unit: "GiB-hour", priceFen: 10, perUnits: 730)
    static let egress = ServicePrice(kind: .network, unit: "GiB", priceFen: 3)

    static func usage(_ service: ServiceID, _ quantity: Int64, _ start: Int64, _ end: Int64) -> ServiceUsage {
        ServiceUsage(
            recordID: "s-job1-0", job: "job1", tenant: "lab", site: Fixture.site, service: service, quantity: quantity,
            startMs: start, endMs: end)
    }

    @Test("service use is priced per unit, split at price changes and marked non-compute")
    func storageAcrossVersions() throws {
        var dearer = Self.storage
        dearer.priceFen = 12
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book(), services: ["obs": Self.storage]),
            PriceVersion(version: 2, effectiveFromMs: at(Day.friday, 12), book: Fixture.book(), services: ["obs": dearer]),
        ])
        // 1000 GiB-hours over Friday, half before noon: 500 × 10 / 730 = 6.85 → 7; 500 × 12 / 730 = 8.22 → 8.
        let lines = try Rater.rate(
            Self.usage("obs", 1000, at(Day.friday, 0), at(Day.saturday, 0)), history: history, rule: .halfUp)
        #expect(lines.map(\.quantity) == [500, 500])
        #expect(lines.map(\.amountFen) == [7, 8])
        #expect(lines.allSatisfy { $0.kind == .service && $0.serviceKind == .storage && !$0.isCompute })
        #expect(lines.allSatisfy { $0.tariff == nil && $0.energyWh == nil && $0.cls == nil })
        #expect(lines.map(\.priceVersion) == [1, 2])
    }

    @Test("use at one instant is one line at the version then in force")
    func pointUse() throws {
        let history = Fixture.history([
            PriceVersion(version: 1, effectiveFromMs: 0, book: Fixture.book(), services: ["egress": Self.egress])
        ])
        let lines = try Rater.rate(
            Self.usage("egress", 5, at(Day.friday, 9), at(Day.friday, 9)), history: history, rule: .truncate)
        #expect(lines.map(\.amountFen) == [15])
        #expect(lines.map(\.serviceKind) == [.network])
        #expect(lines.map(\.unit) == ["GiB"])
    }

    @Test("a service the site does not price is an error")
    func unpricedService() {
        #expect(throws: LedgerError.unpricedService(site: Fixture.site, service: "waf", version: 1)) {
            _ = try Rater.rate(
                Self.usage("waf", 1, at(Day.friday, 9), at(Day.friday, 10)), history: Fixture.touHistory, rule: .halfUp)
        }
    }
}

@Suite("Rating properties")
struct RatingPropertyTests {
    /// Rounded independently of `LedgerArithmetic`, for non-negative amounts.
    static func expectedAmount(_ unitMs: Int64, _ price: Int64, _ rule: RoundingRule) -> Fen {
        let numerator = Int128(unitMs) * Int128(price)
        return switch rule {
        case .truncate: Fen(numerator / 3_600_000)
        case .halfUp: Fen((2 * numerator + 3_600_000) / 7_200_000)
        }
    }

    /// For random histories (three versions at random instants, odd prices), random records of
    /// up to three days at 1–64 units, and both rules, checks that:
    /// - the lines tile `[start, end)` exactly, each non-empty and in order;
    /// - their unit-ms sum to `units × (end − start)`;
    /// - each line's period and version hold at its first and last millisecond, its amount
    ///   equals `unitMs × price / 3.6e6` rounded by the rule, computed independently, and every
    ///   local hour it touches has the same grid intensity;
    /// - the lines' Wh sum to the record's estimate, `units × W × ms / 3.6e6` rounded half-up;
    /// - cutting the record in two at a random point (sometimes on an existing line edge) adds
    ///   `extra` ∈ {0, 1} lines and changes the total by at most `extra` fen: under half-up
    ///   `|parts − whole| ≤ extra`; under truncation `0 ≤ whole − parts ≤ extra`.
    @Test("lines tile the record, keep every unit-ms, and re-cutting moves the total by at most a fen per extra line")
    func properties() throws {
        for seed in UInt64(1)...300 {
            var random = SplitMix64(seed: seed)
            try check(seed: seed, random: &random)
        }
    }

    private func check(seed: UInt64, random: inout SplitMix64) throws {
        let origin = at(Day.friday, 0)
        var versions: [PriceVersion] = [
            PriceVersion(
                version: 1, effectiveFromMs: 0,
                book: Fixture.book(
                    flat: Int64.random(in: 1...5000, using: &random), peak: Int64.random(in: 1...5000, using: &random),
                    valley: Int64.random(in: 0...5000, using: &random)))
        ]
        var effective = origin
        for number in 2...3 {
            effective += Int64.random(in: 1...(2 * 86_400_000), using: &random)
            versions.append(
                PriceVersion(
                    version: number * 10, effectiveFromMs: effective,
                    book: Fixture.book(
                        flat: Int64.random(in: 1...5000, using: &random), peak: Int64.random(in: 1...5000, using: &random),
                        valley: Int64.random(in: 0...5000, using: &random))))
        }
        let history = Fixture.history(versions)
        var hourly: [Int] = []
        if Bool.random(using: &random) { hourly = (0..<24).map { _ in Int.random(in: 300...900, using: &random) } }
        let energy = SiteEnergy(
            greenShareBP: Int.random(in: 0...10_000, using: &random), pueMilli: Int.random(in: 1000...2000, using: &random),
            gridGramsPerKWh: 570, hourlyGramsPerKWh: hourly)
        let watts = Int.random(in: 1...1000, using: &random)
        let units = Int.random(in: 1...64, using: &random)
        let start = origin + Int64.random(in: 0...(5 * 86_400_000), using: &random)
        let end = start + Int64.random(in: 1...(3 * 86_400_000), using: &random)
        let usage = Fixture.usage(start, end, units: units)
        let spec = Fixture.spec(watts: watts)

        for rule in RoundingRule.allCases {
            let whole = try Rater.rate(usage, history: history, energy: energy, spec: spec, rule: rule)
            let context = Comment(rawValue: "seed \(seed), \(rule)")
            #expect(whole.first?.startMs == start && whole.last?.endMs == end, context)
            #expect(zip(whole, whole.dropFirst()).allSatisfy { $0.endMs == $1.startMs }, context)
            #expect(whole.allSatisfy { $0.startMs < $0.endMs }, context)
            #expect(whole.reduce(Int64(0)) { $0 + $1.quantity } == Int64(units) * (end - start), context)
            for line in whole {
                let version = history.version(atMs: line.startMs)
                #expect(version?.version == line.priceVersion, context)
                #expect(history.version(atMs: line.endMs - 1)?.version == line.priceVersion, context)
                #expect(version?.book.kind(atMs: line.startMs) == line.tariff, context)
                #expect(version?.book.kind(atMs: line.endMs - 1) == line.tariff, context)
                #expect(version?.book.fenPerUnitHour(Fixture.h100, atMs: line.startMs) == line.priceFen, context)
                #expect(line.amountFen == Self.expectedAmount(line.quantity, line.priceFen, rule), context)
                // One grid intensity per line: every local hour it touches has the same figure.
                var intensities: Set<Int> = []
                for instant in Array(stride(from: line.startMs, to: line.endMs, by: 3_600_000)) + [line.endMs - 1] {
                    let localHour = (instant + 8 * 3_600_000) / 3_600_000 % 24
                    intensities.insert(energy.gramsPerKWh(localHour: Int(localHour)))
                }
                #expect(intensities.count == 1, context)
            }
            let estimate = (Int128(units) * Int128(watts) * Int128(end - start) * 2 + 3_600_000) / 7_200_000
            #expect(Int128(whole.reduce(Int64(0)) { $0 + ($1.energyWh ?? 0) }) == estimate, context)

            let cut: Int64 =
                Int.random(in: 0..<4, using: &random) == 0 && whole.count > 1
                ? whole[Int.random(in: 1..<whole.count, using: &random)].startMs
                : Int64.random(in: (start + 1)...max(start + 1, end - 1), using: &random)
            guard cut < end else { continue }
            let first = try Rater.rate(
                Fixture.usage(start, cut, units: units), history: history, energy: energy, spec: spec, rule: rule)
            let second = try Rater.rate(
                Fixture.usage(cut, end, units: units), history: history, energy: energy, spec: spec, rule: rule)
            let extra = Int64(first.count + second.count - whole.count)
            let wholeTotal = whole.reduce(Int64(0)) { $0 + $1.amountFen }
            let partsTotal = (first + second).reduce(Int64(0)) { $0 + $1.amountFen }
            #expect((0...1).contains(extra), context)
            switch rule {
            case .halfUp: #expect(abs(partsTotal - wholeTotal) <= extra, context)
            case .truncate: #expect((0...extra).contains(wholeTotal - partsTotal), context)
            }
        }
    }
}
