import EstuaryLedger
import EstuaryModel

/// How a whole period's settlement is shown (`settle`, `settlement show`, `settlement list`):
/// what each site is owed, what each tenant pays, what each voucher programme paid, the
/// period's totals, usage that could not be rated, and the reconciliation's verdict.
enum SettlementText {
    /// At most this many items of a problem list are printed; `--json` has up to 1,000.
    static let listShown = 10

    static func summary(_ view: SettlementView) -> String {
        let report = view.report
        var sections: [String] = []

        var sites = TextTable(
            "SITE", "CHARGES", "GROSS", "FEE", "OWED", "VOUCHER-FUNDED", "ADJUSTMENTS", "ENERGY KWH", "CO2 KG",
            rightAligned: [1, 2, 3, 4, 5, 6, 7, 8])
        for statement in report.statements {
            sites.add(
                statement.site.rawValue, ReportText.grouped(statement.charges), MoneyText.amount(statement.grossFen),
                MoneyText.amount(statement.feeFen), MoneyText.amount(statement.owedFen), MoneyText.amount(statement.voucherFundedFen),
                MoneyText.amount(statement.adjustmentsFen), MoneyText.kilowattHours(wattHours: statement.energyWh),
                MoneyText.kilograms(grams: statement.gramsCO2))
        }
        sections.append(report.statements.isEmpty ? "no site statements: nothing was charged at any site" : sites.rendered)

        var tenants = TextTable(
            "TENANT", "CHARGES", "GROSS", "VOUCHER", "PAYABLE", "TOP-UPS", "WALLET CHANGE", rightAligned: [1, 2, 3, 4, 5, 6])
        for invoice in report.invoices {
            tenants.add(
                invoice.tenant.rawValue, ReportText.grouped(invoice.charges), MoneyText.amount(invoice.grossFen),
                MoneyText.amount(invoice.voucherFen), MoneyText.amount(invoice.payableFen), MoneyText.amount(invoice.topUpsFen),
                MoneyText.amount(invoice.walletNetChangeFen))
        }
        sections.append(report.invoices.isEmpty ? "no tenant invoices: no tenant was charged or paid in" : tenants.rendered)

        var programs = TextTable("PROGRAMME", "CHARGES", "DISBURSED", rightAligned: [1, 2])
        for disbursement in report.disbursements {
            programs.add(
                disbursement.program.rawValue, ReportText.grouped(disbursement.charges), MoneyText.amount(disbursement.voucherFen))
        }
        sections.append(report.disbursements.isEmpty ? "no voucher disbursements" : programs.rendered)

        if !report.peers.isEmpty {
            // Positive: this coordinator owes the peer for work the peer's sites ran; the peer's
            // own settlement shows the same figure negated.
            var peers = TextTable("PEER COORDINATOR", "TRANSFERS", "WE OWE", rightAligned: [1, 2])
            for peer in report.peers {
                peers.add(peer.peer.rawValue, ReportText.grouped(peer.transfers), MoneyText.amount(peer.netFen))
            }
            sections.append(peers.rendered)
        }

        let totals = report.totals
        var figures = Figures()
        figures.add("charges", ReportText.grouped(totals.charges))
        figures.money("gross", totals.grossFen)
        figures.money("voucher", totals.voucherFen)
        figures.money("payable by tenants", totals.payableFen)
        figures.money("platform fee", totals.feeFen)
        figures.money("owed to sites", totals.owedFen)
        sections.append(figures.rendered)

        if !view.unrated.isEmpty {
            var lines = ["\(ReportText.count(view.unrated.count, "usage record")) not rated (no charge):"]
            lines += view.unrated.prefix(listShown).map { "  \($0.record): \($0.reason)" }
            if view.unrated.count > listShown { lines.append("  … and \(view.unrated.count - listShown) more (--json lists them)") }
            sections.append(lines.joined(separator: "\n"))
        }

        sections.append(reconciliation(report.reconciliation).joined(separator: "\n"))
        return sections.joined(separator: "\n\n")
    }

    /// `reconciliation: ok (…)`, or `reconciliation: FAILED` and each failure with its count.
    static func reconciliation(_ r: Reconciliation) -> [String] {
        let transactions = ReportText.count(r.transactions, "transaction")
        let postings = ReportText.count(r.postings, "posting")
        if r.ok {
            return [
                "reconciliation: ok",
                "  \(transactions), \(postings), summing to 0.00 CNY",
                "  owed + fee = payable + voucher = rated gross = \(MoneyText.amount(r.ratedGrossFen)) CNY",
                "  disbursed = rated vouchers = \(MoneyText.amount(r.ratedVoucherFen)) CNY",
            ]
        }
        var lines = ["reconciliation: FAILED (\(transactions), \(postings))"]
        if r.sumFen != 0 { lines.append("  the postings sum to \(MoneyText.amount(r.sumFen)) CNY, not 0.00") }
        lines += problem(r.unbalancedCount, "transaction(s) do not balance", r.unbalanced)
        lines += problem(
            r.chargeMismatchCount, "charge(s) do not match their rated usage record",
            r.chargeMismatches.map { "\($0.transaction): \($0.reason)" }, oneALine: true)
        lines += problem(r.usageWithoutChargeCount, "usage record(s) without a charge", r.usageWithoutCharge.map(\.rawValue))
        lines += problem(r.chargesWithoutUsageCount, "charge(s) without a usage record", r.chargesWithoutUsage.map(\.rawValue))
        if r.owedPlusFeeFen != r.ratedGrossFen {
            lines.append(
                "  owed + fee \(MoneyText.amount(r.owedPlusFeeFen)) ≠ rated gross \(MoneyText.amount(r.ratedGrossFen)) CNY")
        }
        if r.payablePlusVoucherFen != r.ratedGrossFen {
            lines.append(
                "  payable + voucher \(MoneyText.amount(r.payablePlusVoucherFen)) ≠ rated gross \(MoneyText.amount(r.ratedGrossFen)) CNY")
        }
        if r.disbursedFen != r.ratedVoucherFen {
            lines.append(
                "  disbursed \(MoneyText.amount(r.disbursedFen)) ≠ rated vouchers \(MoneyText.amount(r.ratedVoucherFen)) CNY")
        }
        if lines.count == 1 { lines.append("  (no failure this estuaryctl knows how to show; see --json)") }
        return lines
    }

    /// `  3 transaction(s) do not balance: a, b, c`, the first `listShown` named.
    private static func problem(_ count: Int, _ what: String, _ items: [String], oneALine: Bool = false) -> [String] {
        guard count > 0 else { return [] }
        let shown = Array(items.prefix(listShown))
        let more = count > shown.count ? " (first \(shown.count) shown; --json lists up to \(Reconciliation.listLimit))" : ""
        if oneALine { return ["  \(ReportText.grouped(count)) \(what)\(more):"] + shown.map { "    \($0)" } }
        return ["  \(ReportText.grouped(count)) \(what): \(shown.joined(separator: ", "))\(more)"]
    }

    static func list(_ list: SettlementListView) -> String {
        var table = TextTable("PERIOD", "CLOSED AT")
        for entry in list.periods { table.add(entry.period.description, TimeText.utc(ms: entry.closedAtMs)) }
        return table.rendered
    }
}
