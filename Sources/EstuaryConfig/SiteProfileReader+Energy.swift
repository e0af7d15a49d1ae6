import EstuaryModel
import TOMLKit

/// The energy and price keys of a site profile: `green_share`, `pue`, `grid_g_per_kwh`,
/// `hourly_g_per_kwh` and `utc_offset` in `[site]`, `[prices.CLASS]` tables and `[[tariff]]`
/// periods (documented in `Agents/README.md`).
extension SiteProfileReader {
    static let energyKeys: Set<String> = ["green_share", "pue", "grid_g_per_kwh", "hourly_g_per_kwh", "utc_offset"]
    private static let priceKeys: Set<String> = ["flat", "peak", "valley"]
    private static let tariffKeys: Set<String> = ["kind", "start", "end", "days"]

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

    /// Prices of the classes the site has pools of, and the time-of-use periods.
    mutating func readPriceBook(_ root: TOMLTable, site: TOMLTable, pools: [PoolDefinition]) -> PriceBook {
        var book = PriceBook()
        if let text = string(site, "utc_offset", path: "site.utc_offset", required: false) {
            if let minutes = Self.utcOffsetMinutes(text) {
                book.utcOffsetMinutes = minutes
            } else {
                problem("site.utc_offset", "must be an offset from \"-12:00\" to \"+14:00\", such as \"+08:00\"")
            }
        }
        if let prices = section(root, "prices", required: false) {
            let pooled = Set(pools.map(\.acceleratorClass))
            for key in prices.keys.sorted() {
                let path = "prices.\(key)"
                let cls = AcceleratorClass(rawValue: key)
                if !cls.isWellFormedClassName {
                    problem(path, "must be a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
                } else if !pooled.contains(cls) {
                    problem(path, "the site has no [[pools]] entry of class \"\(key)\" to price")
                }
                guard let table = section(prices, key, path: path, required: false) else { continue }
                rejectUnknown(table, allowed: Self.priceKeys, prefix: path + ".")
                let flat = fen(table, "flat", path: path + ".flat", required: true)
                let price = ClassPrice(
                    flat: flat ?? 0, peak: fen(table, "peak", path: path + ".peak", required: false),
                    valley: fen(table, "valley", path: path + ".valley", required: false))
                book.prices[cls] = price
            }
        }
        for (path, table) in tableArray(root, "tariff") {
            rejectUnknown(table, allowed: Self.tariffKeys, prefix: path + ".")
            var period = TariffPeriod(kind: .flat, startMinute: 0, endMinute: 0)
            var complete = true
            if let kind = string(table, "kind", path: path + ".kind", required: true) {
                if let parsed = TariffKind(rawValue: kind) {
                    period.kind = parsed
                } else {
                    problem(path + ".kind", "must be one of peak, flat, valley")
                }
            }
            if let days = string(table, "days", path: path + ".days", required: false) {
                if let parsed = DayType(rawValue: days) {
                    period.days = parsed
                } else {
                    problem(path + ".days", "must be one of all, workday, weekend")
                }
            }
            if let start = timeOfDay(table, "start", path: path + ".start") { period.startMinute = start } else { complete = false }
            if let end = timeOfDay(table, "end", path: path + ".end") { period.endMinute = end } else { complete = false }
            if complete {
                if period.startMinute == 1440 { problem(path + ".start", "must be before 24:00") }
                if period.startMinute == period.endMinute { problem(path + ".end", "must differ from start") }
            }
            book.periods.append(period)
        }
        // The reader has named every problem of the periods and the offset; the model's own
        // check still covers prices (negative values).
        for message in book.validate() where message.hasPrefix("prices.") {
            report(modelProblem: message, under: "")
        }
        return book
    }

    // MARK: values

    /// A price in fen per unit-hour: an integer, never a float.
    private mutating func fen(_ table: TOMLTable, _ key: String, path: String, required: Bool) -> Int64? {
        guard let value = table[key] else {
            if required { problem(path, "missing; it is required (fen per unit-hour, e.g. 1200 for 12.00 CNY)") }
            return nil
        }
        guard let fen = value.int else {
            problem(
                path,
                "must be an integer number of fen per unit-hour (1200 = 12.00 CNY), found \(value.type.phrase)")
            return nil
        }
        return Int64(fen)
    }

    /// `"08:00"`, `"24:00"` (an end of day) or a TOML local time `08:00:00`, in minutes after midnight.
    private mutating func timeOfDay(_ table: TOMLTable, _ key: String, path: String) -> Int? {
        guard let value = table[key] else {
            problem(path, "missing; it is required, e.g. \"08:00\"")
            return nil
        }
        if let time = value.time, time.second == 0, time.nanoSecond == 0 {
            return time.hour * 60 + time.minute
        }
        if let text = value.string, let minutes = Self.minuteOfDay(text) { return minutes }
        problem(path, "must be a time of day \"HH:MM\" from \"00:00\" to \"24:00\"")
        return nil
    }

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

    /// A model check's `"field: message"` as a field error under `prefix`.
    private mutating func report(modelProblem message: String, under prefix: String) {
        guard let colon = message.firstIndex(of: ":") else {
            problem(prefix.isEmpty ? "profile" : String(prefix.dropLast()), message)
            return
        }
        let field = message[..<colon]
        let text = message[message.index(after: colon)...].drop { $0 == " " }
        problem(prefix + field, String(text))
    }
}
