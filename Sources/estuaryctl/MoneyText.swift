import ArgumentParser
import EstuaryConfig
import EstuaryLedger
import EstuaryModel

/// Money and carbon as estuaryctl shows and reads them (`cny(fen:)` is in JobText.swift). Amounts
/// travel as integer fen and are shown as CNY with exactly two decimals (`1,234.56`), by integer
/// arithmetic only; amounts typed by people are read exactly, by the rules configuration files use.
extension MoneyText {
    /// 123456 fen → `1,234.56` (no unit); −5 → `-0.05`. Any width, so that totals need not fit Int64.
    static func amount(_ fen: some BinaryInteger) -> String {
        let magnitude = fen.magnitude
        let cents = String(magnitude % 100)
        return (fen < 0 ? "-" : "") + grouped(String(magnitude / 100)) + "." + (cents.count == 1 ? "0" : "") + cents
    }

    /// `amount` of an optional amount, `none` when there is none.
    static func amount(_ fen: Fen?, none: String) -> String {
        fen.map { amount($0) } ?? none
    }

    /// Grams as kilograms with three decimals: 1234 g → `1.234`, 5 g → `0.005`.
    static func kilograms(grams: some BinaryInteger) -> String { thousandths(grams) }

    /// Watt-hours as kilowatt-hours with three decimals: 12345 Wh → `12.345`.
    static func kilowattHours(wattHours: some BinaryInteger) -> String { thousandths(wattHours) }

    /// `value` ÷ 1000 with exactly three decimals, grouped: 1234567 → `1,234.567`.
    private static func thousandths(_ value: some BinaryInteger) -> String {
        let magnitude = value.magnitude
        let fraction = String(magnitude % 1000)
        return (value < 0 ? "-" : "") + grouped(String(magnitude / 1000)) + "."
            + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// Basis points as a percentage: 3000 → `30%`, 2550 → `25.5%`, 3333 → `33.33%`.
    static func percent(basisPoints: Int) -> String {
        guard basisPoints >= 0 else { return "-" + percent(basisPoints: 0 - basisPoints) }
        let whole = basisPoints / 100
        let hundredths = basisPoints % 100
        if hundredths == 0 { return "\(whole)%" }
        if hundredths % 10 == 0 { return "\(whole).\(hundredths / 10)%" }
        return "\(whole).\(hundredths < 10 ? "0" : "")\(hundredths)%"
    }

    /// A CNY amount typed by a person, exactly, as fen: `1234.56`, `30`; at most two decimals.
    static func fen(_ text: String, _ what: String) throws -> Fen {
        guard let fen = ExactText.fen(cny: text) else {
            throw ValidationError("\(what) must be a CNY amount with at most two decimals, such as 1000.00, got \"\(text)\"")
        }
        return fen
    }

    /// `1234,567` → `1,234,567`: digits in groups of three.
    private static func grouped(_ digits: String) -> String {
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }
}

/// Local times of a price book or a voucher programme, which state a fixed UTC offset.
enum LocalTimeText {
    /// 480 → `+08:00`, −330 → `-05:30`.
    static func offset(minutes: Int) -> String {
        let magnitude = abs(minutes)
        return (minutes < 0 ? "-" : "+") + twoDigits(magnitude / 60) + ":" + twoDigits(magnitude % 60)
    }

    /// Unix milliseconds at that offset: `2026-07-01 00:00:00+08:00`.
    static func local(ms: Int64, offsetMinutes: Int) -> String {
        let (shifted, overflow) = ms.addingReportingOverflow(Int64(offsetMinutes) * 60_000)
        guard !overflow else { return TimeText.utc(ms: ms) }
        return String(TimeText.utc(ms: shifted).dropLast()) + offset(minutes: offsetMinutes)
    }

    /// Local and UTC: `2026-07-01 00:00:00+08:00 (2026-06-30 16:00:00Z)`.
    static func both(ms: Int64, offsetMinutes: Int) -> String {
        offsetMinutes == 0 ? TimeText.utc(ms: ms) : "\(local(ms: ms, offsetMinutes: offsetMinutes)) (\(TimeText.utc(ms: ms)))"
    }

    /// Minutes after local midnight as `HH:MM` (1440 is `24:00`).
    static func timeOfDay(_ minute: Int) -> String {
        twoDigits(minute / 60) + ":" + twoDigits(minute % 60)
    }

    /// `--effective`: `now` (nil: the coordinator's now) or an RFC 3339 date-time with an offset.
    static func instant(_ text: String, _ what: String) throws -> Int64? {
        if text == "now" { return nil }
        guard let ms = ExactText.epochMilliseconds(rfc3339: text) else {
            throw ValidationError(
                "\(what) must be `now` or an RFC 3339 time with an offset, such as 2026-07-01T00:00:00+08:00, got \"\(text)\"")
        }
        return ms
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : String(value)
    }
}

/// Configuration files estuaryctl reads and sends (price files, voucher programmes).
enum ConfigInput {
    /// The file at `path` read by `load`; a file with problems is reported like a job file,
    /// every problem with its field, and exits 4.
    static func load<Value, Kind>(_ path: String, _ load: (String) throws(ConfigFileError<Kind>) -> Value) throws -> Value {
        do {
            return try load(path)
        } catch {
            if case .unreadable(_, let reason) = error { throw CLIError.other("cannot read \(path): \(reason)") }
            Output.error((["error: \(path) is not a valid \(Kind.noun):"] + error.problems.map { "  \($0)" }).joined(separator: "\n"))
            throw ExitCode(ExitStatus.invalidInput)
        }
    }
}

/// A billing period typed by a person: a calendar month, `2026-11` (years 1970…9999).
enum PeriodArgument {
    static func parse(_ text: String) throws -> BillingPeriod {
        do {
            return try BillingPeriod(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Identifiers in a command's arguments: checked before they become part of a URL path.
enum IdentifierArgument {
    static func check(_ value: String, _ what: String) throws {
        guard Identifiers.isWellFormed(value) else {
            throw ValidationError("\"\(value)\" is not a \(what) (1–128 letters, digits, '.', '_' or '-')")
        }
    }
}

extension String {
    /// Each line without the spaces a table pads its blank last cells with.
    var trimmingTrailingSpaces: String {
        split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var line = line
            while line.last == " " { line.removeLast() }
            return String(line)
        }.joined(separator: "\n")
    }
}
