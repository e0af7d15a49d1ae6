import EstuaryConfig
import EstuaryLedger
import EstuaryModel
import Testing

private func problemsOf(_ text: String) -> [FieldError] {
    do {
        _ = try PriceFile.parse(text)
        return []
    } catch {
        return error.problems
    }
}

@Suite("price files")
struct PriceFileTests {
    @Test("Agents/prices.example.toml is a valid price file, to the fen")
    func exampleFile() throws {
        let file = try PriceFile.load(path: repositoryRoot() + "/Agents/prices.example.toml")
        #expect(file.book.utcOffsetMinutes == 480)
        #expect(file.book.prices == ["ascend-910b": ClassPrice(flat: 900, peak: 1100, valley: 600), "cpu-x86-64": ClassPrice(flat: 8)])
        #expect(
            file.book.periods == [
                TariffPeriod(kind: .peak, startMinute: 600, endMinute: 720),
                TariffPeriod(kind: .peak, startMinute: 840, endMinute: 1140),
                TariffPeriod(kind: .valley, startMinute: 0, endMinute: 480),
            ])
        #expect(
            file.services == [
                "ssd-storage": ServicePrice(kind: .storage, unit: "GiB-hour", priceFen: 10, perUnits: 730),
                "egress": ServicePrice(kind: .network, unit: "GiB", priceFen: 50),
                "waf": ServicePrice(kind: .security, unit: "day", priceFen: 2000),
            ])
        // What `price set` sends is a valid price version.
        let version = PriceVersion(version: 1, effectiveFromMs: 0, book: file.book, services: file.services)
        #expect(PriceHistory.problems(site: "pengcheng-ascend", versions: [version]).isEmpty)
    }

    @Test(
        "CNY amounts are read exactly into fen, whether strings, integers or floats",
        arguments: [(#""9.00""#, 900), ("9", 900), ("9.5", 950), (#""0.01""#, 1), ("12.34", 1234), (#""1234567.89""#, 123_456_789), ("0", 0)]
            as [(String, Int64)]
    )
    func exactCNY(text: String, fen: Int64) throws {
        let file = try PriceFile.parse("[prices.nvidia-a100]\nflat = \(text)")
        #expect(file.book.prices["nvidia-a100"]?.flat == fen)
    }

    @Test("a price file is the site profile's tables: the dev profile's prices read the same in CNY")
    func sameTablesAsProfiles() throws {
        let profile = try SiteProfile.load(path: repositoryRoot() + "/Agents/dev/pengcheng-ascend.toml")
        let file = try PriceFile.parse(
            """
            [prices.ascend-910b]
            flat = "9.00"
            peak = "11.00"
            valley = "6.00"
            [[tariff]]
            kind = "peak"
            start = "10:00"
            end = "12:00"
            [[tariff]]
            kind = "peak"
            start = "14:00"
            end = "19:00"
            [[tariff]]
            kind = "valley"
            start = "00:00"
            end = "08:00"
            """)
        #expect(file.book == profile.site.priceBook)
    }

    @Test(
        "a bad field is reported by its path",
        arguments: [
            ("[prices.nvidia-a100]\nflat = \"12.345\"", "prices.nvidia-a100.flat", "at most two decimals"),
            ("[prices.nvidia-a100]\nflat = true", "prices.nvidia-a100.flat", "CNY amount per unit-hour"),
            ("[prices.nvidia-a100]\npeak = \"18.00\"", "prices.nvidia-a100.flat", "missing"),
            ("[prices.nvidia-a100]\nflat = \"-1.00\"", "prices.nvidia-a100.flat", "must not be negative"),
            ("[prices.nvidia-a100]\nflat = 1\nsurge = 2", "prices.nvidia-a100.surge", "unknown key"),
            ("[prices.\"A100\"]\nflat = 9", "prices.A100", "catalog class name"),
            ("utc_offset = \"CST\"\n[prices.x]\nflat = 1", "utc_offset", "offset"),
            ("site = \"gz\"\n[prices.x]\nflat = 1", "site", "unknown key"),
            ("[prices.x]\nflat = 1\n[[tariff]]\nkind = \"peak\"\nstart = \"25:00\"\nend = \"12:00\"", "tariff[0].start", "time of day"),
            ("[prices.x]\nflat = 1\n[[tariff]]\nkind = \"peak\"\nstart = \"10:00\"\nend = \"10:00\"", "tariff[0].end", "differ from start"),
            ("[services.ssd]\nkind = \"disk\"\nunit = \"GiB\"\nprice = 1", "services.ssd.kind", "storage, network, security, other"),
            ("[services.ssd]\nkind = \"storage\"\nprice = 1", "services.ssd.unit", "missing"),
            ("[services.ssd]\nkind = \"storage\"\nunit = \"\"\nprice = 1", "services.ssd.unit", "must name the unit"),
            ("[services.ssd]\nkind = \"storage\"\nunit = \"GiB\"\nprice = \"0.001\"", "services.ssd.price", "at most two decimals"),
            ("[services.ssd]\nkind = \"storage\"\nunit = \"GiB\"\nprice = \"-1\"", "services.ssd.price", "must not be negative"),
            ("[services.ssd]\nkind = \"storage\"\nunit = \"GiB\"\nprice = 1\nper_units = 0", "services.ssd.per_units", "at least 1"),
            ("[services.\"a b\"]\nkind = \"storage\"\nunit = \"GiB\"\nprice = 1", "services.a b", "service ids"),
            ("utc_offset = \"+08:00\"", "prices", "prices something"),
        ] as [(String, String, String)]
    )
    func reportsProblem(text: String, field: String, message: String) {
        let problems = problemsOf(text)
        #expect(problems.contains { $0.field == field && $0.message.contains(message) }, "got \(problems)")
    }

    @Test("every problem is reported together")
    func allProblems() {
        let problems = problemsOf(
            """
            utc_offset = "+15:00"
            [prices.nvidia-a100]
            flat = "1.001"
            [[tariff]]
            kind = "surge"
            start = "10:00"
            end = "11:00"
            [services.ssd]
            kind = "storage"
            unit = "GiB"
            """)
        #expect(
            Set(problems.map(\.field)) == ["utc_offset", "prices.nvidia-a100.flat", "tariff[0].kind", "services.ssd.price"],
            "got \(problems)")
    }

    @Test(
        "command-line CNY amounts are exact; a third decimal or a stray character is refused",
        arguments: [("1234.56", 123_456), ("30", 3000), ("0.5", 50), ("-5.5", -550), ("1234.567", nil), ("1,234.56", nil), ("", nil), ("12e2", 120_000)]
            as [(String, Int64?)]
    )
    func commandLineCNY(text: String, fen: Int64?) {
        #expect(ExactText.fen(cny: text) == fen)
    }

    @Test(
        "RFC 3339 instants need an offset",
        arguments: [
            ("2026-07-01T00:00:00+08:00", 1_782_835_200_000), ("2026-06-30T16:00:00Z", 1_782_835_200_000),
            ("2026-06-30 16:00:00.250z", 1_782_835_200_250), ("2026-07-01T00:00:00", nil), ("2026-07-01", nil),
            ("now", nil), ("2026-07-01T00:00:00+08:00\nx = 1", nil), ("2026-13-01T00:00:00Z", nil),
        ] as [(String, Int64?)]
    )
    func rfc3339(text: String, ms: Int64?) {
        #expect(ExactText.epochMilliseconds(rfc3339: text) == ms)
    }
}
