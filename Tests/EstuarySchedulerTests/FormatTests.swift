import EstuaryModel
import Testing

@testable import EstuaryScheduler

@Suite struct FormatTests {
    @Test(
        "fen print as CNY with two decimals and thousands separators",
        arguments: [
            (Int64(0), "0.00"), (5, "0.05"), (240_000, "2,400.00"), (123_456_789, "1,234,567.89"), (-1_050, "-10.50"),
        ])
    func cny(_ fen: Int64, _ text: String) {
        #expect(Format.cny(fen) == text)
    }

    @Test("basis points, figures, waits and local clock times read as people write them")
    func figures() {
        #expect(Format.percent(basisPoints: 3000) == "30%")
        #expect(Format.percent(basisPoints: 3250) == "32.5%")
        #expect(Format.percent(basisPoints: 3333) == "33.33%")
        #expect(Format.percent(basisPoints: 5) == "0.05%")
        #expect(Format.number(300) == "300")
        #expect(Format.number(62.5) == "62.5")
        #expect(Format.fixed(12.06, decimals: 1) == "12.1")
        #expect(Format.fixed(0.04, decimals: 1) == "0.0")
        #expect(Format.fixed(-1.25, decimals: 2) == "-1.25")
        #expect(Format.duration(ms: 45_000) == "45 s")
        #expect(Format.duration(ms: 12 * 60_000) == "12 min")
        #expect(Format.duration(ms: 185 * 60_000) == "3 h 5 min")
        #expect(Format.duration(ms: 52 * 3_600_000) == "2 d 4 h")
        #expect(Format.localClock(atMs: Mesh.noon, utcOffsetMinutes: 480) == "12:00")
        #expect(Format.localClock(atMs: Mesh.noon + 11 * Mesh.hourMs + 5 * 60_000, utcOffsetMinutes: 480) == "23:05")
        #expect(Format.localClock(atMs: -60_000, utcOffsetMinutes: 0) == "23:59")
    }

    @Test("tariff boundaries match the price book's own")
    func tariffBoundaries() {
        let book = PriceBook(
            prices: [:],
            periods: [
                TariffPeriod(kind: .valley, startMinute: 23 * 60, endMinute: 7 * 60),
                TariffPeriod(kind: .peak, startMinute: 600, endMinute: 1140),
            ])
        let edges = Scheduler.tariffEdges(book)
        var t = Mesh.noon - 7 * 60_000 - 123
        for _ in 0..<40 {
            let ours = Scheduler.nextTariffBoundary(afterMs: t, edges: edges, utcOffsetMinutes: book.utcOffsetMinutes)
            #expect(ours == book.nextBoundary(afterMs: t))
            t = ours + 17_000
        }
    }
}
