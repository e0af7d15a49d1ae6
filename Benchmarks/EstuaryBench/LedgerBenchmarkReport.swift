import EstuaryLedger
import EstuaryModel
import EstuaryStore

/// Everything the `ledger` section reports.
struct LedgerFigures {
    var run: PostingRun
    /// The meter's commit hook over the timed phase.
    var hooks: CommitHookTimer.Totals
    /// The nice value the store's writer and the poster ran at (`ThreadPriority`); nil if unknown.
    var priority: Int32?
    /// The run whose writes passed no jobs (every job read from the store).
    var fromStore: PostingRun?
    var baseline: PostingRun?
    var setup: Duration
    var topUps: Int
    var pure: LedgerPureRating.Result
    var check: LedgerCheck
    var cpuPercent: Double
    var machineBusy: Double
    /// VmHWM over the timed phase (reset at its start); nil when the reset was refused.
    var peakRun: Int?
    var peakBeforeRun: Int
    var peakProcess: Int
    var filesystem: String
}

extension LedgerBenchmark {
    func report(_ figures: LedgerFigures, mesh: LedgerMesh) -> String {
        let run = figures.run
        let fresh = run.fresh
        let cores = BenchMachine.current().cores
        let touSites = (0..<mesh.sites).filter { !mesh.tariffPeriods(ofSite: $0).isEmpty }.count
        let hourlySites = (0..<mesh.sites).filter { !mesh.energy(ofSite: $0).hourlyGramsPerKWh.isEmpty }.count
        var kinds: [LedgerMesh.TenantKind: Int] = [:]
        for index in 0..<mesh.tenants { kinds[mesh.kind(ofTenant: index), default: 0] += 1 }
        func count(_ value: Int) -> String { Format.grouped(Double(value)) }
        func share(_ part: Int, _ whole: Int) -> String { Format.fixed(Double(part) * 100 / Double(max(whole, 1)), 1) + " %" }

        var out = SectionHeader.text(
            "Ledger: usage records rated and durably posted",
            details: [
                "In process, release build, the coordinator's own code: `EstuaryStore.CoordinatorStore` (one SQLite file, WAL, `synchronous = FULL`, group commit; data directory on \(figures.filesystem)) and `EstuaryCoordinator.Meter`. \(cores) cores; the writers and the store's writer thread share them.",
                "Mesh: \(mesh.sites) sites (\(touSites) with time-of-use tariffs, \(hourlySites) stating hourly grid intensity, GPU/NPU/DCU/CPU pools, all enrolled with an operator), \(mesh.tenants) tenants (\(LedgerMesh.TenantKind.allCases.map { "\(kinds[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")); \(figures.topUps) top-ups), the Guangzhou example voucher programme (30 %), platform fee \(LedgerMesh.platformFee.basisPoints / 100) %, half-up rounding. Set-up (admin calls, then \(count(records + storeJobsRecords + baselineRecords)) jobs) took \(Format.fixed(figures.setup.seconds, 1)) s, not timed.",
                "Records (SplitMix64 seed \(mesh.seed)): one per job, GPU/NPU/DCU 1–8 units for 5 min–6 h, CPU 8–64 cores for 10 min–2 h, over 18 days of \(mesh.period); of the first \(count(figures.pure.records)), \(share(figures.pure.multiLine, figures.pure.records)) were cut into several charge lines (\(Format.fixed(Double(figures.pure.lines) / Double(max(figures.pure.records, 1)), 2)) lines per record) and \(share(figures.pure.vouchered, figures.pure.records)) drew a voucher.",
                "Timed phase: \(concurrency) concurrent writers (site sessions), each sending \(count(batch))-record UsageBatches as one `store.write` each and waiting for its commit before the next; each writer first does what the coordinator's actor does before queueing the write, `Meter.prepareUsage` (per record the site/units/class/attempt check against the job as the coordinator holds it in memory, and rating), and the closure what `CoordinatorCore.applyUpstream` does with usage: `Meter.postUsage` (64 records at a time, a multi-row `INSERT OR IGNORE … RETURNING` says which records are new; those are posted to the ledger (voucher, fee) and their journal rows encoded on the meter's poster queue while the writer goes on with the next 64 and the next batches), then `setCursor`; at the end of the transaction the meter's commit hook waits for the poster, writes the journal rows in multi-row INSERTs, and writes the balances the transaction changed. The store's writer and the poster run at nice \(figures.priority.map { "\($0)" } ?? "?")\(figures.priority == ThreadPriority.critical ? " (raised: the process may, as root or with CAP_SYS_NICE)" : " (not raised: the process may not)"). \(resendPercent) % of batches are sent again after the writer's next batch.\(storeJobsRecords > 0 ? " A second run of \(count(storeJobsRecords)) records holds no jobs in memory, so each writer first reads its batch's jobs from the store on a reader connection (`tx.job`: SELECT and JSON decode), as the coordinator does for jobs it no longer holds (after a restart, or usage arriving after the job left the cache of ended jobs)." : "")",
            ])
        func line(_ text: String = "") { out += text + "\n" }
        let rate = Double(fresh.inserted) / max(run.wall.seconds, 1e-9)
        let latency = LatencySummary(milliseconds: run.latenciesMs)
        let resendLatency = LatencySummary(milliseconds: run.resendLatenciesMs)
        let commits = figures.hooks.commits
        line("| figure | value | goal |")
        line("|---|---:|---:|")
        line("| **records rated and posted per second** (\(concurrency) writers × \(batch)-record batches) | **\(count(Int(rate)))** | ≥ 100,000 |")
        line("| records posted / wall time | \(count(fresh.inserted)) in \(Format.fixed(run.wall.seconds, 2)) s | |")
        line("| commit latency per batch p50 / p99 / max | \(Format.ms(latency.p50)) / \(Format.ms(latency.p99)) / \(Format.ms(latency.max)) ms | |")
        line("| transactions (fsyncs), counted by a commit hook / records per transaction | \(count(commits)) / \(Format.fixed(Double(fresh.records + run.resent.records) / Double(max(commits, 1)), 0)) | |")
        line("| resent batches: records posted again | \(run.resent.inserted) of \(count(run.resent.records)) (\(run.resentBatches) batches, p50 \(Format.ms(resendLatency.p50)) ms) | 0 |")
        if let stored = figures.fromStore {
            let storedLatency = LatencySummary(milliseconds: stored.latenciesMs)
            let storedRate = Double(stored.fresh.inserted) / max(stored.wall.seconds, 1e-9)
            let perRecord = stored.closures.seconds / Double(max(stored.fresh.records + stored.resent.records, 1)) * 1e6
            line("| **jobs read from the store** (before each write, as after a restart; \(count(stored.fresh.inserted)) records, same writers and batches) | **\(count(Int(storedRate)))** records/s, p50 \(Format.ms(storedLatency.p50)) ms, p99 \(Format.ms(storedLatency.p99)) ms, closures \(Format.fixed(perRecord, 2)) µs per record | |")
        }
        if let base = figures.baseline {
            let baseLatency = LatencySummary(milliseconds: base.latenciesMs)
            let baseRate = Double(base.fresh.inserted) / max(base.wall.seconds, 1e-9)
            line("| row at a time: one record per write, 1 writer (\(count(base.fresh.inserted)) records) | \(count(Int(baseRate))) records/s, p50 \(Format.ms(baseLatency.p50)) ms, p99 \(Format.ms(baseLatency.p99)) ms | |")
        }
        let peakRun = figures.peakRun.map { "\(Format.mib($0)) MiB" } ?? "– (VmHWM reset refused)"
        line("| peak RSS of the timed phase (VmHWM reset at its start) | \(peakRun) | |")
        line("| peak RSS of the whole process (set-up \(Format.mib(figures.peakBeforeRun)) MiB; run, baseline) | \(Format.mib(figures.peakProcess)) MiB | |")
        let others = OtherLoad.percent(machineBusy: figures.machineBusy, coordinator: figures.cpuPercent, generator: 0)
        line("| CPU of the timed phase: this process / machine busy / other processes | \(Format.fixed(figures.cpuPercent, 0)) % of one core / \(Format.fixed(figures.machineBusy, 0)) % of \(cores) cores / \(Format.fixed(others, 0)) % of one core | |")
        line()

        // Where the time goes: the closures run one at a time on the store's writer connection,
        // so their sum is the writer's busy time; the rest of the wall time is commits (fsync)
        // and hand-offs between group-commit leaders.
        let perRecord = Double(max(fresh.records, 1))
        let wall = run.wall.seconds
        let closures = run.closures
        func row(_ name: String, _ time: Duration) {
            line("| \(name) | \(Format.fixed(time.seconds, 2)) | \(Format.fixed(time.seconds / perRecord * 1e6, 2)) | \(Format.fixed(time.seconds / wall * 100, 1)) % |")
        }
        line("Where the wall time of the timed phase goes (µs per first-sent record, over \(count(fresh.records)) records):")
        line()
        line("| part | s | µs per record | share of wall time |")
        line("|---|---:|---:|---:|")
        row("inside the closures: `Meter.postUsage` and `setCursor` (first sends and resends)", closures)
        let cpu = Duration.nanoseconds(run.closureCPUNs)
        row("… of which the writer thread was on a CPU", cpu)
        row("… of which it waited (descheduled, page faults, I/O, the meter's lock)", max(.zero, closures - cpu))
        let hooks = figures.hooks
        row("the meter's commit hook, once per transaction: journal rows of the transaction's postings, balances", hooks.wall)
        row("… of which the writer thread was on a CPU", .nanoseconds(hooks.cpuNs))
        row("… of which it waited (for the poster, descheduled, I/O)", max(.zero, hooks.wall - .nanoseconds(hooks.cpuNs)))
        row("**the rest**: COMMIT with its fsync, hand-off, idle writer", max(.zero, run.wall - closures - hooks.wall))
        line()
        let pure = figures.pure
        func micro(_ duration: Duration) -> String { Format.fixed(duration.seconds * 1e6, 2) }
        line(
            "The same rating with no store, in memory on one thread (\(count(pure.records)) records): `Rater.rate` \(micro(pure.rater)) µs, `Ledger.postCharge` (voucher, `ChargePosting` with its memo, balances) \(micro(pure.post)) µs, `LedgerCodec` text of postings and charge (\(Format.fixed(Double(pure.encodedBytes) / Double(max(pure.records, 1)), 0)) bytes) \(micro(pure.codec)) µs: \(micro(pure.perRecord)) µs per record, none of it on the store's writer: rating runs before the write, on the writers' threads, and posting and encoding on the meter's poster queue. The closures' time is the usage INSERT OR IGNORE and handing charges to the poster; the commit hook's is the journal INSERT with its indexes, the balances, and waiting for the poster's last chunks. Decoding a job's spec from its stored JSON (\(count(pure.specBytes)) bytes), as `tx.job` does for a job not passed in memory, takes \(micro(pure.specDecode)) µs. Writers spent \(Format.fixed(run.generation.seconds, 2)) s building their records and jobs (the load generator)."
        )
        line()
        line("Checks after the run (memory and store):")
        line()
        for passed in figures.check.passed { line("- ✓ \(passed)") }
        for failure in figures.check.failures { line("- **✗ FAILED: \(failure)**") }
        if let report = figures.check.report {
            let totals = report.totals
            line(
                "- Settling \(mesh.period) afterwards (`Meter.report` in one read) took \(Format.fixed(figures.check.reportTime.seconds, 2)) s for \(count(report.reconciliation.transactions)) transactions, \(count(report.reconciliation.postings)) postings: gross \(Format.grouped(Double(totals.grossFen))) fen, vouchers \(Format.grouped(Double(totals.voucherFen))), fee \(Format.grouped(Double(totals.feeFen))), payable \(Format.grouped(Double(totals.payableFen))), owed to sites \(Format.grouped(Double(totals.owedFen)))."
            )
        }
        line()
        line(
            "How it is measured: *records per second* = records stored and charged for the first time ÷ wall time from the first write to the last commit of the timed phase (resent batches run inside that time and post nothing). *Commit latency* = `store.write` called → returned, per first-send batch (queueing behind other writers, the closure, the shared commit). *Transactions* are counted by two commit hooks the benchmark adds around the meter's, which also time it (each commit is one WAL fsync under `synchronous = FULL`; checkpoints add a few more). The jobs-from-the-store run and then the baseline run after the timed phase, on the same store."
        )
        line()
        return out
    }
}
