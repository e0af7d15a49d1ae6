import ArgumentParser
import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Foundation

/// Usage records rated and durably posted per second through the coordinator's own path
/// (`applyUpstream`'s usage part: `Meter.postUsage`, then the cursor) on a real SQLite file (WAL, synchronous = FULL) with group commit, from concurrent
/// site sessions. Prints one Markdown section; exits non-zero when a ledger invariant fails.
struct LedgerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Measure usage records rated and durably posted per second through the coordinator's ledger path."
    )

    @Option(help: "Usage records (one per job) to rate and post in the timed phase.")
    var records: Int = 1_000_000

    @Option(help: "Concurrent writers (site sessions), each waiting for its batch's commit before the next.")
    var concurrency: Int = 16

    @Option(help: "Records per UsageBatch (one store write each).")
    var batch: Int = 256

    @Option(help: "Records of a run whose writes pass no jobs, so every job is read from the store (as after a restart); 0 skips it.")
    var storeJobsRecords: Int = 200_000

    @Option(help: "Records of the row-at-a-time baseline (one record per write, one writer); 0 skips it.")
    var baselineRecords: Int = 5_000

    @Option(help: "Percent of batches a session sends a second time (duplicates).")
    var resendPercent: Int = 1

    @OptionGroup var meshOptions: LedgerMeshOptions

    @Option(help: "Directory under which the store's directory is created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the store's directory.")
    var keep = false

    func validate() throws {
        guard records > 0, concurrency > 0, batch > 0 else {
            throw ValidationError("--records, --concurrency and --batch must be positive")
        }
        guard baselineRecords >= 0, storeJobsRecords >= 0, (0...100).contains(resendPercent) else {
            throw ValidationError("--baseline-records and --store-jobs-records must not be negative, --resend-percent must be 0…100")
        }
    }

    func run() async throws {
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-ledger")
        defer { work.remove(keep: keep) }
        let clock = ContinuousClock()
        let mesh = try meshOptions.mesh(period: BillingPeriod(year: 2026, month: 12))
        let sites = mesh.sites
        let main = LedgerWorkload(first: 0, count: records, batch: batch, writers: concurrency, sites: sites)
        let fromStore = LedgerWorkload(first: records, count: storeJobsRecords, batch: batch, writers: concurrency, sites: sites)
        let baseline = LedgerWorkload(
            first: records + storeJobsRecords, count: baselineRecords, batch: 1, writers: 1, sites: sites)

        // Set-up, not timed: the money side, then every job the records will name.
        let setupStart = clock.now
        let hookTimer = CommitHookTimer()
        let (store, meter, topUps) = try await LedgerPosting.open(directory: work.path, mesh: mesh, hookTimer: hookTimer)
        try await LedgerPosting.insertJobs(main, mesh: mesh, store: store)
        if storeJobsRecords > 0 { try await LedgerPosting.insertJobs(fromStore, mesh: mesh, store: store) }
        if baselineRecords > 0 { try await LedgerPosting.insertJobs(baseline, mesh: mesh, store: store) }
        let setupTime = clock.now - setupStart
        let peakBeforeRun = ProcessSample.read()?.peakRSSBytes ?? 0

        // The timed phase: concurrent site sessions, group commit.
        let peakReset = ProcessMemory.resetPeak()
        let selfBefore = ProcessSample.read()
        let machineBefore = SystemCPUSample.read()
        _ = hookTimer.take()
        let seed = mesh.seed
        let percent = resendPercent
        let run = try await LedgerWriters.run(main, mesh: mesh, store: store, meter: meter) { batch in
            var random = SplitMix64(seed: seed ^ 0x5EED_BA7C &+ UInt64(batch))
            return random.below(100) < percent
        }
        let selfAfter = ProcessSample.read()
        let machineAfter = SystemCPUSample.read()
        let hooks = hookTimer.take()

        // The same writes with an empty jobs map: every job is read from the store (`tx.job`).
        let stored = storeJobsRecords > 0
            ? try await LedgerWriters.run(fromStore, mesh: mesh, store: store, meter: meter, jobsInMemory: false) : nil

        // The baseline: one record per write, one writer, so every record is its own commit.
        let base = baselineRecords > 0 ? try await LedgerWriters.run(baseline, mesh: mesh, store: store, meter: meter) : nil
        let peakProcess = ProcessSample.read()?.peakRSSBytes ?? 0

        let pure = try LedgerPureRating.measure(mesh: mesh, workload: main, sample: 50_000)
        let check = try await LedgerCheck.run(
            store: store, meter: meter, mesh: mesh, expectedRecords: records + storeJobsRecords + baselineRecords,
            outcomes: [run.fresh] + [stored, base].compactMap { $0?.fresh }, resent: run.resent)

        let figures = LedgerFigures(
            run: run, hooks: hooks, priority: ThreadPriority.raised { ThreadPriority.current }, fromStore: stored, baseline: base,
            setup: setupTime, topUps: topUps, pure: pure, check: check,
            cpuPercent: SessionsRun.cpu(selfBefore, selfAfter),
            machineBusy: machineBefore.flatMap { before in machineAfter.map { SystemCPUSample.busyPercent(from: before, to: $0) } }
                ?? .nan,
            peakRun: peakReset ? selfAfter?.peakRSSBytes : nil, peakBeforeRun: peakBeforeRun, peakProcess: peakProcess,
            filesystem: FileSystemInfo.type(of: work.path))
        print(report(figures, mesh: mesh))
        if !check.failures.isEmpty {
            FileHandle.standardError.write(Data("estuary-bench ledger: INVARIANT FAILED: \(check.failures.joined(separator: "; "))\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Reading and resetting this process's peak resident set (VmHWM).
enum ProcessMemory {
    /// Resets VmHWM to the current RSS (`5` to /proc/self/clear_refs, Linux 4.0+). False when
    /// the kernel refuses, in which case VmHWM keeps counting from the process's start.
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }
}
