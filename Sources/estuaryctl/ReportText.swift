import EstuaryLedger
import EstuaryModel

/// How one party's report of a period is shown: a tenant's invoice (`bill`, `settlement
/// invoice`), a site's statement (`statement`) and a voucher programme's disbursement
/// (`settlement disbursement`). Amounts are CNY with two decimals, energy kWh and CO2 kg with
/// three, all by integer arithmetic (MoneyText).
enum ReportText {
    static func invoice(_ invoice: TenantInvoice) -> String {
        var text = "tenant \(invoice.tenant), period \(invoice.period): \(count(invoice.charges, "charge"))"
        if !invoice.lines.isEmpty {
            var table = TextTable("SITE", "CLASS", "CHARGES", "UNIT-SECONDS", "GROSS", "VOUCHER", "PAYABLE", rightAligned: [2, 3, 4, 5, 6])
            for line in invoice.lines {
                table.add(
                    line.site.rawValue, what(line.cls, line.service), String(line.charges), unitSeconds(line.cls, line.unitMs),
                    MoneyText.amount(line.grossFen), MoneyText.amount(line.voucherFen), MoneyText.amount(line.payableFen))
            }
            text += "\n\n" + table.rendered.trimmingTrailingSpaces
        }
        var figures = Figures()
        figures.money("gross", invoice.grossFen)
        figures.money("voucher", invoice.voucherFen)
        figures.money("payable", invoice.payableFen)
        figures.money("top-ups", invoice.topUpsFen)
        if invoice.otherFen != 0 { figures.money("other (refunds, adjustments)", invoice.otherFen) }
        figures.money("wallet change", invoice.walletNetChangeFen)
        figures.add("energy", MoneyText.kilowattHours(wattHours: invoice.energyWh), "kWh")
        figures.add("CO2", MoneyText.kilograms(grams: invoice.gramsCO2), "kg (estimated)")
        return text + "\n\n" + figures.rendered
    }

    static func statement(_ statement: SiteStatement) -> String {
        var text = "site \(statement.site), period \(statement.period): \(count(statement.charges, "charge"))"
        if !statement.byClass.isEmpty {
            var table = TextTable("CLASS", "UNIT-SECONDS", "GROSS", rightAligned: [1, 2])
            for usage in statement.byClass {
                table.add(what(usage.cls, usage.service), unitSeconds(usage.cls, usage.unitMs), MoneyText.amount(usage.grossFen))
            }
            text += "\n\n" + table.rendered.trimmingTrailingSpaces
        }
        var figures = Figures()
        figures.money("gross", statement.grossFen)
        figures.money("  paid by vouchers", statement.voucherFundedFen)
        figures.money("  paid by tenants", statement.tenantPaidFen)
        figures.money("platform fee", statement.feeFen)
        figures.money("owed to the site", statement.owedFen)
        figures.money("adjustments (payouts, reversals)", statement.adjustmentsFen)
        figures.money("receivable change", statement.netChangeFen)
        figures.add("energy", MoneyText.kilowattHours(wattHours: statement.energyWh), "kWh")
        figures.add("CO2", MoneyText.kilograms(grams: statement.gramsCO2), "kg (estimated)")
        return text + "\n\n" + figures.rendered
    }

    static func disbursement(_ report: ProgramDisbursement) -> String {
        var text =
            "voucher programme \(report.program), period \(report.period): "
            + "paid \(MoneyText.amount(report.voucherFen)) CNY towards \(count(report.charges, "charge"))"
        var years = TextTable("YEAR", "PAID", rightAligned: [0, 1])
        for share in report.years { years.add(String(share.year), MoneyText.amount(share.voucherFen)) }
        var tenants = TextTable("TENANT", "PAID", rightAligned: [1])
        for share in report.tenants { tenants.add(share.tenant.rawValue, MoneyText.amount(share.voucherFen)) }
        var sites = TextTable("SITE", "PAID", rightAligned: [1])
        for share in report.sites { sites.add(share.site.rawValue, MoneyText.amount(share.voucherFen)) }
        for table in [years, tenants, sites] where !table.rows.isEmpty { text += "\n\n" + table.rendered }
        var figures = Figures()
        figures.money("paid", report.voucherFen)
        figures.money("budget opened", report.budgetOpeningsFen)
        figures.money("budget adjustments", report.budgetAdjustmentsFen)
        return text + "\n\n" + figures.rendered
    }

    /// `3 charges`, `1 charge`.
    static func count(_ number: Int, _ noun: String) -> String {
        "\(grouped(number)) \(noun)\(number == 1 ? "" : "s")"
    }

    /// 1234567 → `1,234,567`.
    static func grouped(_ number: Int) -> String {
        let digits = String(number.magnitude)
        var result = number < 0 ? "-" : ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }

    /// The class, or `ssd-storage (service)` for a non-compute charge.
    private static func what(_ cls: AcceleratorClass?, _ service: ServiceID?) -> String {
        if let cls { return cls.rawValue }
        return service.map { "\($0) (service)" } ?? "-"
    }

    /// Unit-seconds of compute; blank for a service, which is not priced by time held.
    private static func unitSeconds(_ cls: AcceleratorClass?, _ unitMs: Int64) -> String {
        cls == nil ? "" : UsageCommand.unitSeconds(unitMs)
    }
}

/// A column of labelled figures with their numbers aligned on the right:
///
///     gross           252.00 CNY
///     voucher          75.60 CNY
struct Figures {
    private var rows: [(label: String, value: String, unit: String)] = []

    mutating func add(_ label: String, _ value: String, _ unit: String = "") {
        rows.append((label, value, unit))
    }

    mutating func money(_ label: String, _ fen: some BinaryInteger) {
        add(label, MoneyText.amount(fen), "CNY")
    }

    var rendered: String {
        let labelWidth = rows.map(\.label.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        return rows.map { row in
            let line =
                row.label + String(repeating: " ", count: labelWidth - row.label.count + 2)
                + String(repeating: " ", count: valueWidth - row.value.count) + row.value + " " + row.unit
            return line.trimmingTrailingSpaces
        }.joined(separator: "\n")
    }
}
