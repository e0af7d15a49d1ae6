import EstuaryLedger
import EstuaryModel
import TOMLKit

public enum PriceFileKind: ConfigFileKind { public static let noun = "price file" }
/// Why a price file (`estuaryctl price set --file`, `Agents/prices.example.toml`) could not be used.
public typealias PriceFileError = ConfigFileError<PriceFileKind>

/// A site's prices as an operator writes them for a new price version: compute prices per class
/// with their time-of-use periods, and non-compute services. `Agents/prices.example.toml`
/// shows every key, with comments.
///
/// The `[prices.CLASS]` and `[[tariff]]` tables are the site profile's, read by the same code,
/// except that amounts are CNY decimals read exactly into fen (`"9.00"`, `9`, `12.5`; a third
/// decimal is refused, not rounded) where a profile writes integer fen.
public struct PriceFile: Sendable, Hashable {
    public var book: PriceBook
    public var services: [ServiceID: ServicePrice]

    public init(book: PriceBook, services: [ServiceID: ServicePrice] = [:]) {
        self.book = book
        self.services = services
    }

    /// Parses and validates a price file.
    /// - Throws: ``PriceFileError`` with every problem found.
    public static func parse(_ text: String) throws(PriceFileError) -> PriceFile {
        try PriceFileReader.parse(text)
    }

    /// Reads and parses the price file at `path`.
    public static func load(path: String) throws(PriceFileError) -> PriceFile {
        try PriceFileReader.load(path: path)
    }
}

/// Values typed on a command line, read by the rules the configuration files use, so that an
/// amount or an instant means the same in a flag as in a file.
public enum ExactText {
    /// A CNY amount (`"1234.56"`, `"30"`, `"-5.5"`) as fen, exactly; nil when it is not a
    /// decimal number, has more than two decimals, or does not fit.
    public static func fen(cny text: String) -> Fen? {
        try? DecimalText.scaled(text, places: 2, roundHalfUp: false)
    }

    /// An RFC 3339 date-time with an offset (`2026-07-01T00:00:00+08:00`, `…Z`, fractions of
    /// a second allowed) as Unix milliseconds; nil for anything else, a date-time without an
    /// offset included. It is read as a TOML offset date-time, which is RFC 3339.
    public static func epochMilliseconds(rfc3339 text: String) -> Int64? {
        // Only the characters of a date-time, so that the text cannot be any other TOML.
        guard !text.isEmpty, text.utf8.count <= 64,
            text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "-:.+TtZz ".utf8.contains($0) }),
            let root = try? TOMLText.parse("t = \(text)"), root.keys.count == 1,
            let dateTime = root["t"]?.dateTime, let offset = dateTime.offset
        else { return nil }
        return TOMLText.epochMilliseconds(dateTime, offsetMinutes: offset.offset)
    }
}

/// One pass over a price file that collects every problem.
struct PriceFileReader: TOMLDocumentReader {
    typealias Kind = PriceFileKind
    var problems: [FieldError] = []

    private static let topLevelKeys: Set<String> = ["utc_offset", "prices", "tariff", "services"]
    private static let serviceKeys: Set<String> = ["kind", "unit", "price", "per_units"]

    mutating func read(_ root: TOMLTable) -> PriceFile {
        rejectUnknown(root, allowed: Self.topLevelKeys, prefix: "")
        var book = PriceBook()
        if let minutes = readUTCOffset(root, "utc_offset", path: "utc_offset") { book.utcOffsetMinutes = minutes }
        book.prices = readClassPrices(root, unit: .cny) { _ in nil }
        book.periods = readTariffPeriods(root)
        for message in book.validate() where message.hasPrefix("prices.") {
            report(modelProblem: message, under: "")
        }
        let services = readServices(root)
        if book.prices.isEmpty, services.isEmpty {
            problem("prices", "a price file prices something: add a [prices.CLASS] table (or a [services.ID] table)")
        }
        return PriceFile(book: book, services: services)
    }

    /// `[services.ID]`: kind, unit, a CNY price and how many units it buys.
    private mutating func readServices(_ root: TOMLTable) -> [ServiceID: ServicePrice] {
        guard let table = section(root, "services", required: false) else { return [:] }
        var services: [ServiceID: ServicePrice] = [:]
        for key in table.keys.sorted() {
            let path = "services.\(key)"
            let id = ServiceID(rawValue: key)
            if !id.isWellFormed { problem(path, "service ids use letters, digits, '.', '_' and '-'") }
            guard let entry = section(table, key, path: path, required: false) else { continue }
            rejectUnknown(entry, allowed: Self.serviceKeys, prefix: path + ".")
            var service = ServicePrice(kind: .other, unit: "", priceFen: 0)
            if let kind = string(entry, "kind", path: path + ".kind", required: true) {
                if let parsed = ServiceKind(rawValue: kind) {
                    service.kind = parsed
                } else {
                    problem(path + ".kind", "must be one of \(ServiceKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            if let unit = string(entry, "unit", path: path + ".unit", required: true) {
                if unit.isEmpty || unit.count > 64 || unit.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    problem(path + ".unit", "must name the unit priced in 1–64 characters, e.g. \"GiB-hour\"")
                }
                service.unit = unit
            }
            if let amount = price(entry, "price", path: path + ".price", unit: .cny, per: "for per_units units", required: true) {
                if amount < 0 { problem(path + ".price", "must not be negative") }
                service.priceFen = amount
            }
            if let perUnits = integer(entry, "per_units", path: path + ".per_units", required: false) {
                if perUnits < 1 { problem(path + ".per_units", "must be at least 1") }
                service.perUnits = Int64(perUnits)
            }
            services[id] = service
        }
        return services
    }
}

// MARK: price and tariff tables, shared with site profiles

/// How a file states a price: site profiles in integer fen, price files in CNY.
enum PriceUnit {
    case fen, cny
}

extension TOMLFieldReading {
    private static var classPriceKeys: Set<String> { ["flat", "peak", "valley"] }
    private static var tariffKeys: Set<String> { ["kind", "start", "end", "days"] }

    /// `utc_offset = "+08:00"` as minutes east of UTC.
    mutating func readUTCOffset(_ table: TOMLTable, _ key: String, path: String) -> Int? {
        guard let text = string(table, key, path: path, required: false) else { return nil }
        guard let minutes = SiteProfileReader.utcOffsetMinutes(text) else {
            problem(path, "must be an offset from \"-12:00\" to \"+14:00\", such as \"+08:00\"")
            return nil
        }
        return minutes
    }

    /// `[prices.CLASS]` tables: flat (required), peak and valley per unit-hour. `check` may
    /// refuse a well-formed class (a site profile prices only the classes it has pools of).
    mutating func readClassPrices(
        _ root: TOMLTable, unit: PriceUnit, check: (AcceleratorClass) -> String?
    ) -> [AcceleratorClass: ClassPrice] {
        guard let prices = section(root, "prices", required: false) else { return [:] }
        var result: [AcceleratorClass: ClassPrice] = [:]
        for key in prices.keys.sorted() {
            let path = "prices.\(key)"
            let cls = AcceleratorClass(rawValue: key)
            if !cls.isWellFormedClassName {
                problem(path, "must be a catalog class name such as \"ascend-910b\" or \"cpu-x86-64\"")
            } else if let refusal = check(cls) {
                problem(path, refusal)
            }
            guard let table = section(prices, key, path: path, required: false) else { continue }
            rejectUnknown(table, allowed: Self.classPriceKeys, prefix: path + ".")
            let flat = price(table, "flat", path: path + ".flat", unit: unit, per: "per unit-hour", required: true)
            result[cls] = ClassPrice(
                flat: flat ?? 0,
                peak: price(table, "peak", path: path + ".peak", unit: unit, per: "per unit-hour", required: false),
                valley: price(table, "valley", path: path + ".valley", unit: unit, per: "per unit-hour", required: false))
        }
        return result
    }

    /// `[[tariff]]` periods: kind, start, end and days, in local time.
    mutating func readTariffPeriods(_ root: TOMLTable) -> [TariffPeriod] {
        var periods: [TariffPeriod] = []
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
            periods.append(period)
        }
        return periods
    }

    /// An amount in fen: an integer of fen (`unit: .fen`), never a float; or a CNY decimal
    /// (`unit: .cny`) read exactly, at most two decimals. `per` names what it buys.
    mutating func price(_ table: TOMLTable, _ key: String, path: String, unit: PriceUnit, per: String, required: Bool) -> Int64? {
        guard let value = table[key] else {
            if required {
                switch unit {
                case .fen: problem(path, "missing; it is required (fen \(per), e.g. 1200 for 12.00 CNY)")
                case .cny: problem(path, "missing; it is required (CNY \(per), e.g. \"12.00\")")
                }
            }
            return nil
        }
        switch unit {
        case .fen:
            guard let fen = value.int else {
                problem(path, "must be an integer number of fen \(per) (1200 = 12.00 CNY), found \(value.type.phrase)")
                return nil
            }
            return Int64(fen)
        case .cny:
            return cnyAmount(value, path: path, expected: "a CNY amount \(per) such as \"12.00\"")
        }
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
        if let text = value.string, let minutes = SiteProfileReader.minuteOfDay(text) { return minutes }
        problem(path, "must be a time of day \"HH:MM\" from \"00:00\" to \"24:00\"")
        return nil
    }

    /// A model check's `"field: message"` as a field error under `prefix`.
    mutating func report(modelProblem message: String, under prefix: String) {
        guard let colon = message.firstIndex(of: ":") else {
            problem(prefix.isEmpty ? "profile" : String(prefix.dropLast()), message)
            return
        }
        let field = message[..<colon]
        let text = message[message.index(after: colon)...].drop { $0 == " " }
        problem(prefix + field, String(text))
    }
}
