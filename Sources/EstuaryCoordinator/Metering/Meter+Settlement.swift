import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Foundation

// Settlement: a period's reports are computed by streaming its journal through the pure
// `SettlementAccumulator` in a read snapshot (so a long settlement never blocks writers), and a
// period is closed by one write that stores the report and freezes the period (the store refuses
// any later posting into it).

extension Meter {
    /// The period's reports as the journal stands in `tx`'s snapshot.
    public static func report(_ period: BillingPeriod, tx: StoreTransaction) throws -> (SettlementReport, [UnratedUsage]) {
        var accumulator = SettlementAccumulator(period: period)
        try tx.forEachLedgerTransaction(period: period) { stored in
            accumulator.add(stored.transaction, charge: stored.charge)
        }
        let report = try accumulator.finish(
            usageWithoutCharge: try tx.usageWithoutCharge(period: period),
            chargesWithoutUsage: try tx.chargesWithoutUsage(period: period))
        let unrated = try tx.unratedUsage(period: period).map { UnratedUsage(record: $0.0, reason: $0.1) }
        return (report, unrated)
    }

    /// One party's part of a period, reading only its rows: a tenant's invoice or a site's
    /// statement. Its reconciliation is not the period's (ask `report` for that).
    public static func partial(
        _ period: BillingPeriod, tenant: TenantID? = nil, site: SiteID? = nil, tx: StoreTransaction
    ) throws -> SettlementReport {
        var accumulator = SettlementAccumulator(period: period)
        try tx.forEachLedgerTransaction(period: period, tenant: tenant, site: site) { stored in
            accumulator.add(stored.transaction, charge: stored.charge)
        }
        return try accumulator.finish(usageWithoutCharge: [], chargesWithoutUsage: [])
    }

    /// Closes `period` with `report`, in a write transaction. Refused when the journal of the
    /// period changed since the report was computed (the caller computes again).
    func close(_ period: BillingPeriod, report: SettlementReport, nowMs: Int64, tx: StoreTransaction) throws -> Bool {
        try settle(tx)
        let count = try tx.ledgerTransactionCount(period: period)
        guard count == report.reconciliation.transactions else { return false }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try tx.closePeriod(period, atMs: nowMs, report: String(decoding: try encoder.encode(report), as: UTF8.self))
        try change(tx) { state in state.closed.insert(period) }
        return true
    }
}
