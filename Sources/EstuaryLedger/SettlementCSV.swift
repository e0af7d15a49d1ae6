import EstuaryModel

/// CSV exports of a settled period: one row per charge (written while streaming, like the
/// accumulator), and the statement, invoice-line and disbursement tables of a report.
///
/// The format, the same in every table:
/// - fields as RFC 4180 has them: a field containing a comma, a double quote, CR or LF is put in
///   double quotes and its quotes doubled; every other field is written as it is;
/// - every line, the header included, ends with LF (`\n`), not the RFC's CRLF: Unix tools, the
///   store's exporters and spreadsheets all read it, and exports diff cleanly;
/// - every amount twice, exactly: integer fen in a `…_fen` column, then CNY with two decimals
///   (`12.34`, `-0.05`) in the matching `…_cny` column, both computed with integers;
/// - instants as ISO-8601 UTC with milliseconds (`2026-01-31T16:00:00.000Z`); an optional figure
///   that is absent is an empty field.
public enum SettlementCSV {
    // MARK: Format

    /// One CSV line: the fields quoted where they must be, joined by commas, ending in `\n`.
    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }

    /// One field, quoted if it contains a comma, a double quote, CR or LF.
    public static func field(_ text: String) -> String {
        let special: Set<Unicode.Scalar> = [",", "\"", "\r", "\n"]
        guard text.unicodeScalars.contains(where: special.contains) else { return text }
        var quoted = "\""
        for character in text.unicodeScalars {
            quoted.unicodeScalars.append(character)
            if character == "\"" { quoted.unicodeScalars.append("\"") }
        }
        return quoted + "\""
    }

    /// A header line and its rows.
    public static func document(header: [String], rows: [[String]]) -> String {
        rows.reduce(into: line(header)) { $0 += line($1) }
    }

    /// `fen` as CNY with exactly two decimals: 1234 → `12.34`, −5 → `-0.05`, 0 → `0.00`.
    public static func cny(_ fen: Fen) -> String { cny(Int128(fen)) }

    static func cny(_ fen: Int128) -> String {
        let magnitude = fen.magnitude
        let cents = magnitude % 100
        return (fen < 0 ? "-" : "") + "\(magnitude / 100)." + (cents < 10 ? "0" : "") + "\(cents)"
    }

    /// `ms` as ISO-8601 UTC with milliseconds (`2026-01-31T16:00:00.000Z`), computed with
    /// integers; an instant outside 1970…9999 is written as its plain millisecond count.
    public static func isoUTC(ms: Int64) -> String {
        guard let period = try? BillingPeriod.containing(ms: ms, utcOffsetMinutes: 0),
            let start = try? period.startMs(utcOffsetMinutes: 0)
        else { return String(ms) }
        let intoMonth = ms - start
        let day = intoMonth / 86_400_000 + 1
        let intoDay = intoMonth % 86_400_000
        return "\(pad(period.year, 4))-\(pad(period.month, 2))-\(pad(day, 2))T\(pad(intoDay / 3_600_000, 2)):"
            + "\(pad(intoDay / 60_000 % 60, 2)):\(pad(intoDay / 1_000 % 60, 2)).\(pad(intoDay % 1_000, 3))Z"
    }

    private static func pad(_ value: some BinaryInteger, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func money(_ fen: Fen) -> [String] { [String(fen), cny(fen)] }
    private static func money(_ fen: Int128) -> [String] { [String(fen), cny(fen)] }

    // MARK: Charges

    /// The columns of `chargeRow`.
    public static let chargeHeader = [
        "record_id", "job", "tenant", "site", "class", "service", "start", "end", "unit_ms", "gross_fen", "gross_cny",
        "voucher_fen", "voucher_cny", "fee_fen", "fee_cny", "owed_fen", "owed_cny", "payable_fen", "payable_cny",
        "voucher_program", "voucher_year", "energy_wh", "grams_co2", "price_versions", "tariffs",
    ]

    /// One rated usage record: who, where, when (its first line's start to its last line's end),
    /// how much, and the price versions (ascending) and tariff periods (peak, flat, valley) of its
    /// lines, each list joined by `;`. Owed is gross − fee, payable gross − voucher.
    public static func chargeRow(_ charge: PostedCharge) -> [String] {
        var unitMs: Int128 = 0
        var energy: Int128?
        var grams: Int128?
        var versions: Set<Int> = []
        var tariffs: Set<TariffKind> = []
        for line in charge.lines {
            if let ms = line.unitMilliseconds { unitMs += Int128(ms) }
            if let wh = line.energyWh { energy = (energy ?? 0) + Int128(wh) }
            if let g = line.gramsCO2 { grams = (grams ?? 0) + Int128(g) }
            versions.insert(line.priceVersion)
            if let tariff = line.tariff { tariffs.insert(tariff) }
        }
        let gross = Int128(charge.grossFen)
        return [
            charge.recordID.rawValue, charge.job.rawValue, charge.tenant.rawValue, charge.site.rawValue,
            charge.cls?.rawValue ?? "", charge.cls == nil ? charge.lines.first?.service?.rawValue ?? "" : "",
            charge.lines.first.map { isoUTC(ms: $0.startMs) } ?? "",
            charge.lines.last.map { isoUTC(ms: $0.endMs) } ?? "",
            String(unitMs),
        ] + money(charge.grossFen) + money(charge.voucherFen) + money(charge.feeFen)
            + money(gross - Int128(charge.feeFen)) + money(gross - Int128(charge.voucherFen)) + [
                charge.voucherProgram?.rawValue ?? "", charge.voucherYear.map { String($0) } ?? "",
                energy.map { String($0) } ?? "", grams.map { String($0) } ?? "",
                versions.sorted().map { String($0) }.joined(separator: ";"),
                TariffKind.allCases.filter(tariffs.contains).map(\.rawValue).joined(separator: ";"),
            ]
    }

    // MARK: Reports

    /// The columns of `statementRow`.
    public static let statementHeader = [
        "period", "site", "charges", "gross_fen", "gross_cny", "fee_fen", "fee_cny", "owed_fen", "owed_cny",
        "voucher_funded_fen", "voucher_funded_cny", "tenant_paid_fen", "tenant_paid_cny", "adjustments_fen",
        "adjustments_cny", "net_change_fen", "net_change_cny", "energy_wh", "grams_co2",
    ]

    /// One site's statement as one summary row.
    public static func statementRow(_ statement: SiteStatement) -> [String] {
        [statement.period.description, statement.site.rawValue, String(statement.charges)] + money(statement.grossFen)
            + money(statement.feeFen) + money(statement.owedFen) + money(statement.voucherFundedFen)
            + money(statement.tenantPaidFen) + money(statement.adjustmentsFen) + money(statement.netChangeFen)
            + [String(statement.energyWh), String(statement.gramsCO2)]
    }

    /// The columns of `invoiceLineRows`.
    public static let invoiceLineHeader = [
        "period", "tenant", "site", "class", "service", "charges", "unit_ms", "gross_fen", "gross_cny", "voucher_fen",
        "voucher_cny", "payable_fen", "payable_cny",
    ]

    /// One row per line of a tenant's invoice.
    public static func invoiceLineRows(_ invoice: TenantInvoice) -> [[String]] {
        invoice.lines.map { line in
            [
                invoice.period.description, invoice.tenant.rawValue, line.site.rawValue, line.cls?.rawValue ?? "",
                line.service?.rawValue ?? "", String(line.charges), String(line.unitMs),
            ] + money(line.grossFen) + money(line.voucherFen) + money(line.payableFen)
        }
    }

    /// The columns of `disbursementRows`.
    public static let disbursementHeader = ["period", "program", "dimension", "key", "voucher_fen", "voucher_cny"]

    /// A programme's disbursement as rows of one amount each: the `total`, then by `year`,
    /// `tenant` and `site` (the key naming which), then `budget_openings` and
    /// `budget_adjustments` (empty key).
    public static func disbursementRows(_ disbursement: ProgramDisbursement) -> [[String]] {
        let head = [disbursement.period.description, disbursement.program.rawValue]
        var rows = [head + ["total", ""] + money(disbursement.voucherFen)]
        rows += disbursement.years.map { head + ["year", String($0.year)] + money($0.voucherFen) }
        rows += disbursement.tenants.map { head + ["tenant", $0.tenant.rawValue] + money($0.voucherFen) }
        rows += disbursement.sites.map { head + ["site", $0.site.rawValue] + money($0.voucherFen) }
        rows.append(head + ["budget_openings", ""] + money(disbursement.budgetOpeningsFen))
        rows.append(head + ["budget_adjustments", ""] + money(disbursement.budgetAdjustmentsFen))
        return rows
    }

    /// Every site statement of `report`, with the header.
    public static func statements(_ report: SettlementReport) -> String {
        document(header: statementHeader, rows: report.statements.map(statementRow))
    }

    /// Every invoice line of `report`, with the header.
    public static func invoiceLines(_ report: SettlementReport) -> String {
        document(header: invoiceLineHeader, rows: report.invoices.flatMap(invoiceLineRows))
    }

    /// Every disbursement row of `report`, with the header.
    public static func disbursements(_ report: SettlementReport) -> String {
        document(header: disbursementHeader, rows: report.disbursements.flatMap(disbursementRows))
    }
}
