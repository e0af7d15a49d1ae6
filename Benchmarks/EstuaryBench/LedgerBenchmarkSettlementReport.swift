import EstuaryLedger

extension SettlementBenchmark {
    func report(
        _ child: SettlementChildResult, build: SettlementBuild?, failures: [String], filesystem: String, reused: String?
    ) -> String {
        func count(_ value: Int) -> String { Format.grouped(Double(value)) }
        func fen(_ value: Fen) -> String { Format.grouped(Double(value)) }
        let reconciliation = child.reconciliation
        var details = [
            "Release build. The period is settled by a **child process** of the benchmark (`estuary-bench settlement --settle-only DIR`) that opens the store (`CoordinatorStore`, SQLite WAL; data directory on \(filesystem)) and runs `Meter.report(period, tx:)` in one `store.read`: a WAL snapshot whose journal is streamed through `SettlementAccumulator`, plus the store's anti-joins (usage without charge, charges without usage) and the unrated list. Its peak RSS is the child's own VmHWM, read by the child when the report is done, so the build below does not count.",
        ]
        if let build {
            let perSecond = Double(build.outcome.inserted) / max(build.postTime.seconds, 1e-9)
            details.append(
                "The period (\(reconciliation.period)) was built first through the same path as `ledger` (jobs stored, then each batch checked and rated by `Meter.prepareUsage` with its jobs passed in memory and posted by `Meter.postUsage`, and the cursor), \(count(build.batch))-record batches from \(build.writers) writers: \(count(build.records)) records from \(meshOptions.sites) sites and \(meshOptions.tenants) tenants (as many as a 50,000-record sample rated in memory, \(Format.fixed(build.postingsPerRecord, 2)) postings per charge, says make about \(count(postings)) postings), \(build.topUps) top-ups. Building took \(Format.fixed((build.jobsTime + build.postTime).seconds, 0)) s (jobs \(Format.fixed(build.jobsTime.seconds, 0)) s; rating and posting \(Format.fixed(build.postTime.seconds, 0)) s, \(count(Int(perSecond))) records/s); not the figure.")
        } else if let reused {
            details.append("The period was built by an earlier run and kept in `\(reused)`; this run only settled it.")
        }
        var out = SectionHeader.text("Settlement: a period of ~10 million postings", details: details)
        func line(_ text: String = "") { out += text + "\n" }
        line("| figure | value | goal |")
        line("|---|---:|---:|")
        line("| **settlement time** (`Meter.report` in one read) | **\(Format.fixed(child.seconds, 1)) s** | < 60 s |")
        line("| **peak RSS of the settling process** (child's VmHWM) | **\(Format.mib(child.peakBytes)) MiB** | < 1 GB |")
        line("| RSS of the child before settling (runtime, libraries, open store) → after | \(Format.mib(child.rssBeforeBytes)) → \(Format.mib(child.rssAfterBytes)) MiB | |")
        line("| CPU time of the settlement | \(Format.fixed(child.cpuSeconds, 1)) s (\(Format.fixed(child.cpuSeconds / max(child.seconds, 1e-9) * 100, 0)) % of one core) | |")
        line("| transactions / postings settled | \(count(reconciliation.transactions)) / \(count(reconciliation.postings)) | ~10,000,000 postings |")
        line("| postings settled per second | \(count(Int(Double(reconciliation.postings) / max(child.seconds, 1e-9)))) | |")
        line("| reconciliation | \(reconciliation.ok ? "ok" : "**NOT ok**"): sum \(reconciliation.sumFen) fen, \(reconciliation.unbalancedCount) unbalanced, \(reconciliation.chargeMismatchCount) charge mismatches, \(reconciliation.usageWithoutChargeCount) usage without charge, \(reconciliation.chargesWithoutUsageCount) charges without usage, \(child.unrated) unrated | ok |")
        line("| charges / gross / vouchers / fee (fen) | \(count(child.totals.charges)) / \(fen(child.totals.grossFen)) / \(fen(child.totals.voucherFen)) / \(fen(child.totals.feeFen)) | |")
        line("| payable by tenants / owed to sites (fen) | \(fen(child.totals.payableFen)) / \(fen(child.totals.owedFen)) | |")
        line("| ties: owed + fee, payable + voucher = rated gross; disbursed = rated voucher | \(fen(reconciliation.owedPlusFeeFen)), \(fen(reconciliation.payablePlusVoucherFen)) = \(fen(reconciliation.ratedGrossFen)); \(fen(reconciliation.disbursedFen)) = \(fen(reconciliation.ratedVoucherFen)) | |")
        line("| site statements / tenant invoices / programme disbursements | \(child.statements) / \(child.invoices) / \(child.disbursements) | |")
        line("| database size (file + WAL) | \(Format.fixed(Double(child.databaseBytes) / 1_073_741_824, 2)) GiB | |")
        line()
        if failures.isEmpty {
            line("- ✓ The period reconciles, and every record charged while building it was settled exactly once.")
        } else {
            for failure in failures { line("- **✗ FAILED: \(failure)**") }
        }
        line(
            "- The store's file was written just before settling, so it is in the page cache: the time is that of a warm cache, as on a coordinator settling the month it has been writing. Postings are counted by the accumulator (a voucher-paid charge posts 6, others 3; top-ups and voucher openings 2)."
        )
        line()
        return out
    }
}
