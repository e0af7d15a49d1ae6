import EstuaryConfig
import EstuaryModel
import Testing

private let baseProfile = """
    [site]
    id = "shaoguan-dev"
    display_name = "Shaoguan (simulated)"
    region = "shaoguan"
    zones = ["gba", "mainland"]
    ENERGY
    [coordinator]
    address = "127.0.0.1:7401"
    [[pools]]
    class = "nvidia-a100"
    count = 32
    [[pools]]
    class = "cpu-x86-64"
    count = 64

    """

private func profile(energy: String = "", _ rest: String = "") -> String {
    baseProfile.replacing("ENERGY", with: energy) + rest
}

private func problemsOf(_ text: String) -> [FieldError] {
    do {
        _ = try SiteProfile.parse(text)
        return []
    } catch {
        return error.problems
    }
}

@Suite("site profiles: energy and prices")
struct SiteProfileEnergyTests {
    @Test("a profile without energy or prices states nothing")
    func defaults() throws {
        let parsed = try SiteProfile.parse(profile())
        #expect(parsed.site.energy == .unstated)
        #expect(parsed.site.priceBook == PriceBook())
    }

    @Test("energy keys are read exactly into basis points and thousandths")
    func energy() throws {
        let hourly = (0..<24).map { String(400 + $0) }.joined(separator: ", ")
        let parsed = try SiteProfile.parse(
            profile(energy: "green_share = 0.45\npue = 1.25\ngrid_g_per_kwh = 450\nhourly_g_per_kwh = [\(hourly)]\nutc_offset = \"+07:00\""))
        #expect(parsed.site.energy == SiteEnergy(greenShareBP: 4500, pueMilli: 1250, gridGramsPerKWh: 450, hourlyGramsPerKWh: (0..<24).map { 400 + $0 }))
        #expect(parsed.site.priceBook.utcOffsetMinutes == 420)
    }

    @Test(
        "green_share is exact and rounds half up to basis points",
        arguments: [("0.45", 4500), ("0.29", 2900), ("0.57", 5700), ("0.12345", 1235), ("0.12344", 1234), ("1", 10_000), ("0", 0), (#""0.6""#, 6000)]
            as [(String, Int)]
    )
    func greenShare(text: String, basisPoints: Int) throws {
        let parsed = try SiteProfile.parse(profile(energy: "green_share = \(text)"))
        #expect(parsed.site.energy.greenShareBP == basisPoints)
        #expect(parsed.site.energy.pueMilli == SiteEnergy.unstated.pueMilli, "unstated fields keep their defaults")
        #expect(parsed.site.energy.gridGramsPerKWh == SiteEnergy.unstated.gridGramsPerKWh)
    }

    @Test("prices and tariff periods fill the price book")
    func priceBook() throws {
        let text = profile(
            """
            [prices.nvidia-a100]
            flat = 1200
            peak = 1800
            valley = 600
            [prices.cpu-x86-64]
            flat = 8
            [[tariff]]
            kind = "peak"
            start = "10:00"
            end = "12:00"
            days = "workday"
            [[tariff]]
            kind = "valley"
            start = 23:00:00
            end = "07:00"
            [[tariff]]
            kind = "flat"
            start = "19:00"
            end = "24:00"
            """)
        let book = try SiteProfile.parse(text).site.priceBook
        #expect(book.prices == ["nvidia-a100": ClassPrice(flat: 1200, peak: 1800, valley: 600), "cpu-x86-64": ClassPrice(flat: 8)])
        #expect(
            book.periods == [
                TariffPeriod(kind: .peak, days: .workday, startMinute: 600, endMinute: 720),
                TariffPeriod(kind: .valley, startMinute: 1380, endMinute: 420),
                TariffPeriod(kind: .flat, startMinute: 1140, endMinute: 1440),
            ])
        #expect(book.utcOffsetMinutes == 480)
    }

    @Test(
        "a bad energy or price field is reported by its path",
        arguments: [
            ("green_share = 1.5", "", "site.green_share", "between 0 and 1"),
            ("green_share = \"lots\"", "", "site.green_share", "cannot read \"lots\""),
            ("green_share = true", "", "site.green_share", "expected a number"),
            ("pue = 0.9", "", "site.pue", "between 1.0 and 5.0"),
            ("grid_g_per_kwh = 570.5", "", "site.grid_g_per_kwh", "expected an integer"),
            ("hourly_g_per_kwh = [1, 2, 3]", "", "site.hourly_g_per_kwh", "24 values"),
            ("hourly_g_per_kwh = [1, \"x\"]", "", "site.hourly_g_per_kwh[1]", "expected an integer"),
            ("utc_offset = \"CST\"", "", "site.utc_offset", "offset"),
            ("utc_offset = \"-13:00\"", "", "site.utc_offset", "offset"),
            ("", "[prices.nvidia-a100]\nflat = 12.5", "prices.nvidia-a100.flat", "integer number of fen"),
            ("", "[prices.nvidia-a100]\npeak = 1800", "prices.nvidia-a100.flat", "missing"),
            ("", "[prices.nvidia-a100]\nflat = -1", "prices.nvidia-a100.flat", "must not be negative"),
            ("", "[prices.nvidia-a100]\nflat = 1\nsurge = 2", "prices.nvidia-a100.surge", "unknown key"),
            ("", "[prices.ascend-910b]\nflat = 900", "prices.ascend-910b", "no [[pools]] entry"),
            ("", "[prices.\"A100\"]\nflat = 900", "prices.A100", "catalog class name"),
            ("", "[[tariff]]\nkind = \"super-peak\"\nstart = \"10:00\"\nend = \"12:00\"", "tariff[0].kind", "peak, flat, valley"),
            ("", "[[tariff]]\nkind = \"peak\"\nstart = \"25:00\"\nend = \"12:00\"", "tariff[0].start", "time of day"),
            ("", "[[tariff]]\nkind = \"peak\"\nstart = \"10:00\"", "tariff[0].end", "missing"),
            ("", "[[tariff]]\nkind = \"peak\"\nstart = \"10:00\"\nend = \"10:00\"", "tariff[0].end", "differ from start"),
            ("", "[[tariff]]\nkind = \"peak\"\nstart = \"24:00\"\nend = \"10:00\"", "tariff[0].start", "before 24:00"),
            ("", "[[tariff]]\nkind = \"peak\"\nstart = \"10:00\"\nend = \"12:00\"\ndays = \"holiday\"", "tariff[0].days", "all, workday, weekend"),
            ("", "[tariff]\nkind = \"peak\"", "tariff", "array of tables"),
        ] as [(String, String, String, String)]
    )
    func reportsProblem(energy: String, rest: String, field: String, message: String) {
        let problems = problemsOf(profile(energy: energy, rest))
        #expect(problems.contains { $0.field == field && $0.message.contains(message) }, "got \(problems)")
    }

    @Test("the dev profiles describe their energy and Guangdong-style tariffs", arguments: ["pengcheng-ascend", "guangzhou-cpu", "shaoguan-gpu"])
    func devProfiles(name: String) throws {
        let parsed = try SiteProfile.load(path: repositoryRoot() + "/Agents/dev/\(name).toml")
        #expect(parsed.site.energy != .unstated)
        #expect(parsed.site.energy.validate().isEmpty)
        let pooled = Set(parsed.pools.map(\.acceleratorClass))
        #expect(Set(parsed.site.priceBook.prices.keys) == pooled, "every pool is priced")
        // 2026-11-24 (a Tuesday) at 11:00, 03:00 and 09:00 China Standard Time.
        let tuesdayMidnight: Int64 = 1_795_478_400_000 - 8 * 3_600_000
        #expect(parsed.site.priceBook.kind(atMs: tuesdayMidnight + 11 * 3_600_000) == .peak)
        #expect(parsed.site.priceBook.kind(atMs: tuesdayMidnight + 3 * 3_600_000) == .valley)
        #expect(parsed.site.priceBook.kind(atMs: tuesdayMidnight + 9 * 3_600_000) == .flat)
    }
}
