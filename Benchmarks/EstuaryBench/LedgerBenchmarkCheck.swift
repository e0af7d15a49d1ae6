import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore

/// The ledger's invariants after a run, read back from memory and from the store; `failures`
/// empty means every one held.
struct LedgerCheck {
    var failures: [String] = []
    var passed: [String] = []
    var report: SettlementReport?
    var reportTime = Duration.zero
    var storedAccounts = 0
    var journalTransactions = 0

    mutating func expect(_ condition: Bool, _ passedText: String, otherwise failure: @autoclosure () -> String) {
        if condition { passed.append(passedText) } else { failures.append(failure()) }
    }

    /// `outcomes` are the first sends of every batch (main run and baseline); `resent` the
    /// duplicates sent again.
    static func run(
        store: CoordinatorStore, meter: Meter, mesh: LedgerMesh, expectedRecords: Int, outcomes: [BatchOutcome],
        resent: BatchOutcome
    ) async throws -> LedgerCheck {
        var check = LedgerCheck()
        func count(_ value: Int) -> String { Format.grouped(Double(value)) }
        var fresh = BatchOutcome()
        for outcome in outcomes { fresh.add(outcome) }

        check.expect(
            fresh.inserted == expectedRecords && fresh.skipped == 0,
            "every record was stored once (\(count(fresh.inserted)): the timed phase, the jobs-from-the-store run and the baseline)",
            otherwise: "\(fresh.inserted) records stored and \(fresh.skipped) refused, of \(expectedRecords)")
        check.expect(
            fresh.unrated == 0 && fresh.charged == expectedRecords, "every stored record was charged",
            otherwise: "\(fresh.charged) charged, \(fresh.unrated) unrated")
        check.expect(
            resent.inserted == 0 && resent.charged == 0 && resent.duplicates == resent.records,
            "resent records posted 0 times (\(count(resent.records)) records in resent batches, all recognised as duplicates)",
            otherwise: "resent batches stored \(resent.inserted) and charged \(resent.charged) of \(resent.records) records")

        let memorySum = meter.sumOfBalances
        check.expect(memorySum == 0, "the meter's balances sum to 0", otherwise: "the meter's balances sum to \(memorySum) fen")

        let period = mesh.period
        let (balances, transactions) = try await store.read { tx in
            (try tx.ledgerBalances(), try tx.ledgerTransactionCount(period: period))
        }
        check.storedAccounts = balances.count
        check.journalTransactions = transactions
        let storedSum = balances.values.reduce(Int128(0)) { $0 + Int128($1) }
        check.expect(storedSum == 0, "the stored balances sum to 0", otherwise: "the stored balances sum to \(storedSum) fen")
        let differing = balances.filter { meter.balance($0.key) != $0.value }.count
        check.expect(
            differing == 0, "every stored balance equals the meter's (\(balances.count) accounts)",
            otherwise: "\(differing) of \(balances.count) stored balances differ from the meter's")

        let clock = ContinuousClock()
        let start = clock.now
        let (report, unrated) = try await store.read { tx in try Meter.report(period, tx: tx) }
        check.reportTime = clock.now - start
        check.report = report
        let reconciliation = report.reconciliation
        check.expect(
            reconciliation.ok && reconciliation.sumFen == 0,
            "settlement of \(period) reconciles (ok, postings sum to 0, every charge matches its record)",
            otherwise:
                "settlement of \(period) does not reconcile: sum \(reconciliation.sumFen), \(reconciliation.unbalancedCount) unbalanced, \(reconciliation.chargeMismatchCount) mismatches, \(reconciliation.usageWithoutChargeCount) usage without charge, \(reconciliation.chargesWithoutUsageCount) charges without usage")
        check.expect(
            report.totals.charges == expectedRecords && unrated.isEmpty,
            "charge transactions = distinct records = \(count(report.totals.charges)), none unrated",
            otherwise: "\(report.totals.charges) charge transactions and \(unrated.count) unrated for \(expectedRecords) distinct records")
        check.expect(
            transactions == reconciliation.transactions,
            "the journal of \(period) holds \(count(transactions)) transactions (charges, top-ups, voucher openings), all settled",
            otherwise: "the journal holds \(transactions) transactions but settlement saw \(reconciliation.transactions)")
        return check
    }
}
