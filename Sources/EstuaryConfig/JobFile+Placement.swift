import EstuaryModel
import TOMLKit

/// The placement keys of a job file: `preference`, alternative classes and capabilities in
/// `[resources]`, `[constraints]` and `[schedule]`.
///
/// ```toml
/// preference = "cheapest"                  # cheapest | fastest | greenest | balanced
/// [resources]
/// class = "nvidia-v100-16g|nvidia-v100-32g"  # any of these (or an array of names)
/// min_fp16_tflops = 300                    # or, instead of class: any class this fast …
/// min_memory_gib = 64                      # … with this much device memory per unit
/// [constraints]
/// data_zone = "gba"
/// residency = "mainland"
/// domestic_only = true
/// max_latency_ms = 5                       # needs from_region
/// from_region = "shenzhen"
/// min_green_share = 0.5                    # 0…1, read exactly, to basis points
/// max_price_per_hour = "2000.00"           # CNY for the whole job, as a decimal string or an
/// max_price_per_hour_fen = 200000          #   integer of CNY; or in fen (one of the two)
/// allow_sites = ["a", "b"]
/// deny_sites = ["c"]
/// data_region = "shaoguan"
/// [schedule]
/// not_before = 2026-11-24T01:00:00+08:00   # TOML offset date-times
/// deadline = 2026-11-24T09:00:00+08:00
/// deferrable = true                        # wait for valley-price or low-carbon hours
/// ```
extension JobFileReader {
    mutating func readPreference(_ root: TOMLTable) -> PlacementPreference? {
        guard let text = string(root, "preference", path: "preference", example: nil) else { return nil }
        guard let preference = PlacementPreference(rawValue: text) else {
            broken("preference", "must be one of \(PlacementPreference.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return preference
    }

    /// `class = "a|b"` or `class = ["a", "b"]`; empty when absent.
    mutating func classList(_ table: TOMLTable) -> [AcceleratorClass] {
        guard let value = table["class"] else { return [] }
        if let text = value.string { return ResourceRequest.classes(fromExpression: text) }
        guard value.array != nil else {
            wrongType("resources.class", expected: #"a class name ("ascend-910b"), "a|b" or an array of names"#, found: value, hint: nil)
            return []
        }
        guard let names = optionalStrings(table, "class", path: "resources.class") else { return [] }
        if names.isEmpty { broken("resources.class", "must name at least one class") }
        return names.map { AcceleratorClass(rawValue: $0) }
    }

    mutating func readConstraints(_ root: TOMLTable) -> PlacementConstraints {
        var constraints = PlacementConstraints()
        guard let value = root["constraints"] else { return constraints }
        guard let table = value.table else {
            wrongType("constraints", expected: "a table", found: value, hint: "write a [constraints] section")
            return constraints
        }
        rejectUnknownKeys(in: table, allowed: JobFileKeys.constraints, prefix: "constraints.")
        func path(_ key: String) -> String { "constraints." + key }
        constraints.dataZone = string(table, "data_zone", path: path("data_zone"), example: nil)
        constraints.residency = string(table, "residency", path: path("residency"), example: nil)
        constraints.domesticOnly = bool(table, "domestic_only", path: path("domestic_only")) ?? false
        constraints.maxLatencyMs = integer(table, "max_latency_ms", path: path("max_latency_ms"))
        constraints.fromRegion = string(table, "from_region", path: path("from_region"), example: nil)
        constraints.dataRegion = string(table, "data_region", path: path("data_region"), example: nil)
        constraints.allowSites = optionalStrings(table, "allow_sites", path: path("allow_sites"))?.map { SiteID(rawValue: $0) } ?? []
        constraints.denySites = optionalStrings(table, "deny_sites", path: path("deny_sites"))?.map { SiteID(rawValue: $0) } ?? []
        if let value = table["min_green_share"] {
            constraints.minGreenShareBP = decimal(value, path: path("min_green_share"), places: 4, roundHalfUp: true, example: "0.5")
                .map { Int(clamping: $0) }
        }
        constraints.maxPricePerHourFen = maxPrice(table)
        return constraints
    }

    /// `max_price_per_hour` in CNY (a decimal string, exact to the fen, or an integer) or
    /// `max_price_per_hour_fen`, never both, never a float: money is not rounded.
    private mutating func maxPrice(_ table: TOMLTable) -> Int64? {
        let cnyPath = "constraints.max_price_per_hour", fenPath = "constraints.max_price_per_hour_fen"
        if table["max_price_per_hour"] != nil, table["max_price_per_hour_fen"] != nil {
            broken(cnyPath, "give max_price_per_hour (CNY) or max_price_per_hour_fen (fen), not both")
            return nil
        }
        if table["max_price_per_hour_fen"] != nil {
            priceGivenInFen = true
            return integer(table, "max_price_per_hour_fen", path: fenPath).map(Int64.init)
        }
        guard let value = table["max_price_per_hour"] else { return nil }
        if value.double != nil {
            let written = value.double.map { "\($0)" } ?? ""
            wrongType(
                cnyPath, expected: "a decimal string or an integer of CNY", found: value,
                hint: "quote it: max_price_per_hour = \"\(written)\" (money is read exactly, never as a float)")
            return nil
        }
        guard value.int != nil || value.string != nil else {
            wrongType(cnyPath, expected: "a decimal string or an integer of CNY", found: value, hint: nil)
            return nil
        }
        return decimal(value, path: cnyPath, places: 2, roundHalfUp: false, example: "\"2000.00\"")
    }

    mutating func readSchedule(_ root: TOMLTable) -> Deferral? {
        guard let value = root["schedule"] else { return nil }
        guard let table = value.table else {
            wrongType("schedule", expected: "a table", found: value, hint: "write a [schedule] section")
            return nil
        }
        rejectUnknownKeys(in: table, allowed: JobFileKeys.schedule, prefix: "schedule.")
        return Deferral(
            notBeforeMs: instant(table, "not_before", path: "schedule.not_before"),
            deadlineMs: instant(table, "deadline", path: "schedule.deadline"),
            deferrable: bool(table, "deferrable", path: "schedule.deferrable") ?? false)
    }

    // MARK: typed values

    mutating func number(_ table: TOMLTable, _ key: String, path: String) -> Double? {
        guard let value = table[key] else { return nil }
        if let integer = value.int { return Double(integer) }
        guard let double = value.double, double.isFinite else {
            wrongType(path, expected: "a number", found: value, hint: nil)
            return nil
        }
        return double
    }

    mutating func bool(_ table: TOMLTable, _ key: String, path: String) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let flag = value.bool else {
            wrongType(path, expected: "true or false", found: value, hint: nil)
            return nil
        }
        return flag
    }

    mutating func optionalStrings(_ table: TOMLTable, _ key: String, path: String) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            let hint = value.string.map { "write [\"\($0)\"]" }
            wrongType(path, expected: "an array of strings", found: value, hint: hint)
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else {
                wrongType("\(path)[\(index)]", expected: "a string", found: element, hint: nil)
                continue
            }
            result.append(text)
        }
        return result
    }

    private mutating func decimal(
        _ value: any TOMLValueConvertible, path: String, places: Int, roundHalfUp: Bool, example: String
    ) -> Int64? {
        guard let text = DecimalText.text(of: value) else {
            wrongType(path, expected: "a number such as \(example)", found: value, hint: nil)
            return nil
        }
        do {
            return try DecimalText.scaled(text, places: places, roundHalfUp: roundHalfUp)
        } catch .tooPrecise {
            broken(path, "\"\(text)\" has fractions of a fen; give at most \(places) decimal places")
        } catch {
            broken(path, "cannot read \"\(text)\" as a decimal number such as \(example)")
        }
        return nil
    }

    /// A TOML offset date-time as milliseconds since 1970-01-01T00:00:00Z.
    private mutating func instant(_ table: TOMLTable, _ key: String, path: String) -> Int64? {
        guard let value = table[key] else { return nil }
        let example = "\(key) = 2026-11-24T09:00:00+08:00"
        guard let dateTime = value.dateTime else {
            let hint = value.string != nil ? "write it without quotes: \(example)" : "e.g. \(example)"
            wrongType(path, expected: "a date-time with a UTC offset", found: value, hint: hint)
            return nil
        }
        guard let offset = dateTime.offset else {
            broken(path, "needs a UTC offset so that it names one instant, e.g. \(example)")
            return nil
        }
        return TOMLText.epochMilliseconds(dateTime, offsetMinutes: offset.offset)
    }
}
