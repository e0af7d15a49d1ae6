import EstuaryLedger
import EstuaryModel
import TOMLKit

public enum VoucherProgramFile: ConfigFileKind { public static let noun = "voucher program" }
/// Why a voucher program file (`Agents/programs/*.toml`) could not be used.
public typealias VoucherProgramError = ConfigFileError<VoucherProgramFile>

extension VoucherProgram {
    /// Parses and validates a voucher program file (`Agents/programs/guangzhou.toml` shows every
    /// key, with comments). Amounts are CNY decimals read exactly into fen; rates are shares
    /// (`0.30`) read exactly into basis points.
    /// - Throws: ``VoucherProgramError`` with every problem found.
    public static func parse(_ text: String) throws(VoucherProgramError) -> VoucherProgram {
        guard let program = try VoucherProgramReader.parse(text) else { throw .invalid([]) }
        return program
    }

    /// Reads and parses the program file at `path`.
    public static func load(path: String) throws(VoucherProgramError) -> VoucherProgram {
        guard let program = try VoucherProgramReader.load(path: path) else { throw .invalid([]) }
        return program
    }
}

/// One pass over a program file that collects every problem.
struct VoucherProgramReader: TOMLDocumentReader {
    typealias Kind = VoucherProgramFile
    var problems: [FieldError] = []

    private static let topLevelKeys: Set<String> = ["program", "category_caps"]
    private static let programKeys: Set<String> = [
        "id", "name", "valid_from", "valid_until", "utc_offset", "annual_budget", "coverage", "domestic_coverage",
        "tenant_annual_cap", "eligible_kinds", "approved_providers", "rounding",
    ]

    /// The program, or nil when a problem was recorded.
    mutating func read(_ root: TOMLTable) -> VoucherProgram? {
        rejectUnknown(root, allowed: Self.topLevelKeys, prefix: "")
        guard let table = section(root, "program", required: true) else { return nil }
        rejectUnknown(table, allowed: Self.programKeys, prefix: "program.")

        let id = string(table, "id", path: "program.id", required: true)
        let name = string(table, "name", path: "program.name", required: true)
        let validFrom = instant(table, "valid_from")
        let validUntil = instant(table, "valid_until")
        var offset = 480
        if let text = string(table, "utc_offset", path: "program.utc_offset", required: false) {
            if let minutes = SiteProfileReader.utcOffsetMinutes(text) {
                offset = minutes
            } else {
                problem("program.utc_offset", "must be an offset from \"-12:00\" to \"+14:00\", such as \"+08:00\"")
            }
        }
        let budget = fen(table, "annual_budget", path: "program.annual_budget", required: true)
        let cap = fen(table, "tenant_annual_cap", path: "program.tenant_annual_cap", required: true)
        let coverage = share(table, "coverage", required: true)
        let domestic = share(table, "domestic_coverage", required: false)
        var rounding = RoundingRule.halfUp
        if let text = string(table, "rounding", path: "program.rounding", required: true) {
            if let rule = RoundingRule(rawValue: text) {
                rounding = rule
            } else {
                problem("program.rounding", "must be \"half_up\" or \"truncate\"")
            }
        }
        var kinds = VoucherProgram.intelligentCompute
        if let names = stringArray(table, "eligible_kinds", path: "program.eligible_kinds") {
            kinds = []
            for name in names {
                if let kind = AcceleratorSpec.Kind(rawValue: name) {
                    kinds.insert(kind)
                } else {
                    problem("program.eligible_kinds", "\"\(name)\" is not an accelerator kind (gpu, npu, dcu)")
                }
            }
        }
        let approved = stringArray(table, "approved_providers", path: "program.approved_providers").map(Set.init)

        var categoryCaps: [String: Fen] = [:]
        if let caps = section(root, "category_caps", required: false) {
            for key in caps.keys.sorted() {
                if let amount = fen(caps, key, path: "category_caps.\(key)", required: true) { categoryCaps[key] = amount }
            }
        }

        guard problems.isEmpty, let id, let name, let validFrom, let validUntil, let budget, let cap, let coverage else {
            return nil
        }
        let program = VoucherProgram(
            id: VoucherProgramID(rawValue: id), name: name, validFromMs: validFrom, validUntilMs: validUntil,
            annualBudget: budget, coverageBasisPoints: coverage, domesticCoverageBasisPoints: domestic, tenantAnnualCap: cap,
            categoryCaps: categoryCaps, eligibleKinds: kinds, approvedProviders: approved, rounding: rounding,
            utcOffsetMinutes: offset)
        for message in program.problems { problem("program", message) }
        return problems.isEmpty ? program : nil
    }

    /// A CNY amount (`"100000000.00"` or `3000000`) as fen, exactly: more than two decimals is a
    /// problem, not a rounding.
    private mutating func fen(_ table: TOMLTable, _ key: String, path: String, required: Bool) -> Fen? {
        guard let value = table[key] else {
            if required { problem(path, "is required, e.g. \(key) = \"3000000.00\" (CNY)") }
            return nil
        }
        return cnyAmount(value, path: path, expected: "a CNY amount such as \"3000000.00\"")
    }

    /// A share (`0.30`) as basis points, exactly.
    private mutating func share(_ table: TOMLTable, _ key: String, required: Bool) -> Int? {
        let path = "program.\(key)"
        guard table[key] != nil else {
            if required { problem(path, "is required, e.g. \(key) = 0.30") }
            return nil
        }
        guard let value = table[key], let text = DecimalText.text(of: value),
            let bp = try? DecimalText.scaled(text, places: 4, roundHalfUp: false), (0...10_000).contains(bp)
        else {
            problem(path, "must be a share from 0 to 1 with at most four decimals, e.g. 0.30")
            return nil
        }
        return Int(bp)
    }

    /// A TOML offset date-time as Unix milliseconds.
    private mutating func instant(_ table: TOMLTable, _ key: String) -> Int64? {
        let path = "program.\(key)"
        guard let value = table[key] else {
            problem(path, "is required, e.g. \(key) = 2026-01-01T00:00:00+08:00")
            return nil
        }
        guard let dateTime = value.dateTime, let offset = dateTime.offset else {
            problem(path, "must be a date-time with a UTC offset, without quotes, e.g. \(key) = 2026-01-01T00:00:00+08:00")
            return nil
        }
        return TOMLText.epochMilliseconds(dateTime, offsetMinutes: offset.offset)
    }
}
