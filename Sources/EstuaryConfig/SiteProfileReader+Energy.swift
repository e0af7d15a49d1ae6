import EstuaryModel
import TOMLKit

/// The energy and price keys of a site profile: `green_share`, `pue`, `grid_g_per_kwh`,
/// `hourly_g_per_kwh` and `utc_offset` in `[site]`, `[prices.CLASS]` tables and `[[tariff]]`
/// periods (documented in `Agents/README.md`). The price and tariff tables are read by the code
/// price files share (PriceFileReader.swift).
extension SiteProfileReader {
    static let energyKeys: Set<String> = ["green_share", "pue", "grid_g_per_kwh", "hourly_g_per_kwh", "utc_offset"]

    /// `SiteEnergy.unstated` with whatever the profile states put over it.
    mutating func readEnergy(_ site: TOMLTable) -> SiteEnergy {
        var energy = SiteEnergy.unstated
        if let share = scaledDecimal(site, "green_share", path: "site.green_share", places: 4, example: "0.45") {
            energy.greenShareBP = Int(clamping: share)
        }
        if let pue = scaledDecimal(site, "pue", path: "site.pue", places: 3, example: "1.25") {
            energy.pueMilli = Int(clamping: pue)
        }
        if let grid = integer(site, "grid_g_per_kwh", path: "site.grid_g_per_kwh", required: false) {
            energy.gridGramsPerKWh = grid
        }
        if let value = site["hourly_g_per_kwh"] {
            if let array = value.array {
                var hourly: [Int] = []
                for index in 0..<array.count {
                    if let grams = array[index].int {
                        hourly.append(grams)
                    } else {
                        problem("site.hourly_g_per_kwh[\(index)]", "expected an integer, found \(array[index].type.phrase)")
                    }
                }
                if hourly.count == array.count { energy.hourlyGramsPerKWh = hourly }
            } else {
                problem("site.hourly_g_per_kwh", "expected an array of 24 integers, found \(value.type.phrase)")
            }
        }
        for message in energy.validate() { report(modelProblem: message, under: "site.") }
        return energy
    }

    /// Prices of the classes the site has pools of, and the time-of-use periods. Prices are
    /// integer fen here; price files (`PriceFile`) read the same tables in CNY.
    mutating func readPriceBook(_ root: TOMLTable, site: TOMLTable, pools: [PoolDefinition]) -> PriceBook {
        var book = PriceBook()
        if let minutes = readUTCOffset(site, "utc_offset", path: "site.utc_offset") { book.utcOffsetMinutes = minutes }
        let pooled = Set(pools.map(\.acceleratorClass))
        book.prices = readClassPrices(root, unit: .fen) { cls in
            pooled.contains(cls) ? nil : "the site has no [[pools]] entry of class \"\(cls)\" to price"
        }
        book.periods = readTariffPeriods(root)
        // The reader has named every problem of the periods and the offset; the model's own
        // check still covers prices (negative values).
        for message in book.validate() where message.hasPrefix("prices.") {
            report(modelProblem: message, under: "")
        }
        return book
    }

    // MARK: values

    static func minuteOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), minute < 60, hour < 24 || (hour == 24 && minute == 0)
        else { return nil }
        return hour * 60 + minute
    }

    /// `"+08:00"` → 480, `"-05:30"` → -330; from -12:00 to +14:00.
    static func utcOffsetMinutes(_ text: String) -> Int? {
        guard let sign = text.first, sign == "+" || sign == "-", let minutes = minuteOfDay(String(text.dropFirst())),
            minutes <= (sign == "-" ? 12 * 60 : 14 * 60)
        else { return nil }
        return sign == "-" ? -minutes : minutes
    }
}
