import EstuaryModel
import TOMLKit

/// Typed access to the fields of a parsed TOML document for readers that collect every problem
/// with its path instead of stopping at the first (site profiles, the catalog, the scheduler
/// policy). A missing optional field is nil and no problem; a field of the wrong type is a
/// problem and nil.
protocol TOMLFieldReading {
    var problems: [FieldError] { get set }
}

extension TOMLFieldReading {
    mutating func problem(_ field: String, _ message: String) {
        problems.append(FieldError(field: field, message: message))
    }

    /// A CNY amount (a string, an integer or a float as written) read exactly into fen. More than
    /// two decimals is a problem, never a rounding. `expected` completes "must be …" when the
    /// value is not a number at all ("a CNY amount per unit-hour such as \"12.00\"").
    mutating func cnyAmount(_ value: any TOMLValueConvertible, path: String, expected: String) -> Int64? {
        guard let text = DecimalText.text(of: value) else {
            problem(path, "must be \(expected), found \(value.type.phrase)")
            return nil
        }
        do {
            return try DecimalText.scaled(text, places: 2, roundHalfUp: false)
        } catch {
            problem(path, "cannot read \"\(text)\" as a CNY amount with at most two decimals")
            return nil
        }
    }

    mutating func rejectUnknown(_ table: TOMLTable, allowed: Set<String>, prefix: String) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            problem(prefix + key, "unknown key; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }

    mutating func section(_ table: TOMLTable, _ key: String, path: String? = nil, required: Bool) -> TOMLTable? {
        let path = path ?? key
        guard let value = table[key] else {
            if required { problem(path, "missing section [\(path)]") }
            return nil
        }
        guard let section = value.table else {
            problem(path, "expected a table, found \(value.type.phrase)")
            return nil
        }
        return section
    }

    /// The tables of an array of tables (`[[class]]`), with their paths (`class[2]`).
    mutating func tableArray(_ table: TOMLTable, _ key: String, path: String? = nil) -> [(path: String, table: TOMLTable)] {
        let path = path ?? key
        guard let value = table[key] else { return [] }
        guard let array = value.array else {
            problem(path, "expected an array of tables ([[\(path)]]), found \(value.type.phrase)")
            return []
        }
        var tables: [(String, TOMLTable)] = []
        for index in 0..<array.count {
            if let element = array[index].table {
                tables.append(("\(path)[\(index)]", element))
            } else {
                problem("\(path)[\(index)]", "expected a table, found \(array[index].type.phrase)")
            }
        }
        return tables
    }

    mutating func string(_ table: TOMLTable, _ key: String, path: String, required: Bool) -> String? {
        guard let value = table[key] else {
            if required { problem(path, "missing; it is required") }
            return nil
        }
        guard let string = value.string else {
            problem(path, "expected a string, found \(value.type.phrase)")
            return nil
        }
        return string
    }

    mutating func integer(_ table: TOMLTable, _ key: String, path: String, required: Bool) -> Int? {
        guard let value = table[key] else {
            if required { problem(path, "missing; it is required") }
            return nil
        }
        guard let integer = value.int else {
            problem(path, "expected an integer, found \(value.type.phrase)")
            return nil
        }
        return integer
    }

    /// An integer or a float, as a `Double`.
    mutating func number(_ table: TOMLTable, _ key: String, path: String, required: Bool) -> Double? {
        guard let value = table[key] else {
            if required { problem(path, "missing; it is required") }
            return nil
        }
        if let integer = value.int { return Double(integer) }
        guard let double = value.double, double.isFinite else {
            problem(path, "expected a number, found \(value.type.phrase)")
            return nil
        }
        return double
    }

    mutating func bool(_ table: TOMLTable, _ key: String, path: String, required: Bool = false) -> Bool? {
        guard let value = table[key] else {
            if required { problem(path, "missing; it is required") }
            return nil
        }
        guard let flag = value.bool else {
            problem(path, "expected true or false, found \(value.type.phrase)")
            return nil
        }
        return flag
    }

    mutating func stringArray(_ table: TOMLTable, _ key: String, path: String) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            problem(path, "expected an array of strings, found \(value.type.phrase)")
            return nil
        }
        var strings: [String] = []
        for index in 0..<array.count {
            if let string = array[index].string {
                strings.append(string)
            } else {
                problem("\(path)[\(index)]", "expected a string, found \(array[index].type.phrase)")
            }
        }
        return strings
    }

    /// A decimal (integer, float or string) scaled to an integer number of `1/10^places`,
    /// rounded half-up: `0.45` with 4 places is 4500.
    mutating func scaledDecimal(_ table: TOMLTable, _ key: String, path: String, places: Int, example: String) -> Int64? {
        guard let value = table[key] else { return nil }
        guard let text = DecimalText.text(of: value) else {
            problem(path, "expected a number such as \(example), found \(value.type.phrase)")
            return nil
        }
        do {
            return try DecimalText.scaled(text, places: places, roundHalfUp: true)
        } catch {
            problem(path, "cannot read \"\(text)\" as a decimal number such as \(example)")
            return nil
        }
    }
}

/// Durations as configuration files write them.
enum DurationText {
    /// `5` (seconds), `"5s"`, `"500ms"`, `"1m"`, `"1h30m"`.
    static func duration(_ value: any TOMLValueConvertible) -> Duration? {
        if let seconds = value.int { return seconds >= 0 ? .seconds(seconds) : nil }
        guard let text = value.string else { return nil }
        if text.hasSuffix("ms"), let millis = Int(text.dropLast(2)), millis >= 0 { return .milliseconds(millis) }
        return WalltimeParser.seconds(from: text).map { .seconds($0) }
    }

    /// Whole milliseconds of a duration.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
