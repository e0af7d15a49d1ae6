#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import EstuaryCoordinator
import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Foundation

/// Settling a billing period of about ten million postings: the period is built through the
/// same rating path as `ledger` (in big batches; its time is reported, not the figure), then a
/// child process of the benchmark opens the store and runs `Meter.report` in one read, so that
/// its peak RSS is the settlement's alone. Prints one Markdown section.
struct SettlementBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settlement",
        abstract: "Measure the time and memory of settling a period of ~10 million postings (Meter.report)."
    )

    @Option(help: "Postings to build in the period before settling it (approximately: whole batches).")
    var postings: Int = 10_000_000

    @Option(help: "Records per write while building the period.")
    var batch: Int = 2_048

    @Option(help: "Concurrent writers while building the period.")
    var concurrency: Int = 4

    @OptionGroup var meshOptions: LedgerMeshOptions

    @Option(help: "Settle the store already in this directory (kept by an earlier --keep run) instead of building one.")
    var dataDir: String?

    @Option(help: "Directory under which the store's directory is created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the store's directory (to settle it again with --data-dir).")
    var keep = false

    /// Internal: settle the store in this directory in this process and print the result as
    /// one JSON line (the benchmark runs itself this way as a child process).
    @Option(help: .hidden)
    var settleOnly: String?

    /// The period built and settled.
    static func period() throws -> BillingPeriod { try BillingPeriod(year: 2026, month: 12) }
    static let resultPrefix = "SETTLEMENT-RESULT "

    func validate() throws {
        guard postings > 0, batch > 0, concurrency > 0 else {
            throw ValidationError("--postings, --batch and --concurrency must be positive")
        }
    }

    func run() async throws {
        if let settleOnly {
            try await Self.settleInThisProcess(directory: settleOnly)
            return
        }
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-settlement")
        defer { work.remove(keep: keep) }
        let mesh = try meshOptions.mesh(period: try Self.period())
        let directory = dataDir ?? (work.path as NSString).appendingPathComponent("data")
        var build: SettlementBuild?
        if dataDir == nil {
            build = try await SettlementBuild.make(
                directory: directory, mesh: mesh, postings: postings, batch: batch, writers: concurrency)
        }
        let child = try await withChildProcesses { reaper in
            try await Self.settleInChild(directory: directory, logPath: (work.path as NSString).appendingPathComponent("settle.log"), reaper: reaper)
        }
        let failures = Self.failures(child, build: build)
        print(report(child, build: build, failures: failures, filesystem: FileSystemInfo.type(of: directory), reused: dataDir))
        if !failures.isEmpty {
            FileHandle.standardError.write(Data("estuary-bench settlement: INVARIANT FAILED: \(failures.joined(separator: "; "))\n".utf8))
            throw ExitCode(1)
        }
    }

    static func failures(_ child: SettlementChildResult, build: SettlementBuild?) -> [String] {
        var failures: [String] = []
        let reconciliation = child.reconciliation
        if !reconciliation.ok || reconciliation.sumFen != 0 {
            failures.append(
                "the period does not reconcile (sum \(reconciliation.sumFen) fen, \(reconciliation.unbalancedCount) unbalanced, \(reconciliation.chargeMismatchCount) mismatches, \(reconciliation.usageWithoutChargeCount) usage without charge, \(reconciliation.chargesWithoutUsageCount) charges without usage)")
        }
        if child.unrated != 0 { failures.append("\(child.unrated) unrated usage records") }
        if let build {
            if child.totals.charges != build.outcome.charged || build.outcome.inserted != build.records {
                failures.append(
                    "\(child.totals.charges) charges settled for \(build.outcome.charged) charged of \(build.records) records")
            }
            if build.sumOfBalances != 0 { failures.append("the meter's balances sum to \(build.sumOfBalances) fen") }
        }
        return failures
    }

    // MARK: the child

    private static func settleInChild(directory: String, logPath: String, reaper: ChildReaper) async throws
        -> SettlementChildResult
    {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let child = try ChildProcess.spawn(
            executable, arguments: ["settlement", "--settle-only", directory], logPath: logPath, reaper: reaper)
        while !child.hasExited { try await Task.sleep(for: .milliseconds(50)) }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        guard let line = log.split(separator: "\n").last(where: { $0.hasPrefix(resultPrefix) }) else {
            throw BenchError.failed("the settlement child printed no result:\n\(child.logTail())")
        }
        return try JSONDecoder().decode(SettlementChildResult.self, from: Data(line.dropFirst(resultPrefix.count).utf8))
    }

    /// The child's whole life: open the store, settle the period in one read, report.
    static func settleInThisProcess(directory: String) async throws {
        let store = try CoordinatorStore(directory: directory, logger: LedgerPosting.quietLogger)
        let before = ProcessSample.read()
        let clock = ContinuousClock()
        let start = clock.now
        let period = try Self.period()
        let (report, unrated) = try await store.read { tx in try Meter.report(period, tx: tx) }
        let seconds = (clock.now - start).seconds
        let after = ProcessSample.read()
        let files = ["", "-wal"].compactMap { suffix in
            (try? FileManager.default.attributesOfItem(atPath: store.path + suffix))?[.size] as? Int
        }
        let result = SettlementChildResult(
            seconds: seconds, cpuSeconds: (after?.cpuSeconds ?? .nan) - (before?.cpuSeconds ?? .nan),
            rssBeforeBytes: before?.rssBytes ?? 0, peakBytes: after?.peakRSSBytes ?? 0, rssAfterBytes: after?.rssBytes ?? 0,
            reconciliation: report.reconciliation, totals: report.totals, statements: report.statements.count,
            invoices: report.invoices.count, disbursements: report.disbursements.count, unrated: unrated.count,
            databaseBytes: files.reduce(0, +))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(resultPrefix + String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}

/// What the child process measured and settled.
struct SettlementChildResult: Codable {
    var seconds: Double
    var cpuSeconds: Double
    var rssBeforeBytes: Int
    var peakBytes: Int
    var rssAfterBytes: Int
    var reconciliation: Reconciliation
    var totals: SettlementTotals
    var statements: Int
    var invoices: Int
    var disbursements: Int
    var unrated: Int
    var databaseBytes: Int
}

/// The period built through the rating path before it is settled.
struct SettlementBuild {
    var records = 0
    var outcome = BatchOutcome()
    var topUps = 0
    var jobsTime = Duration.zero
    var postTime = Duration.zero
    var sumOfBalances: Int128 = 0
    /// Postings per charge in the sample rated in memory before building.
    var postingsPerRecord = 4.0
    var batch = 0
    var writers = 0

    /// Builds the period in chunks of at most 250,000 records (their jobs first, then the
    /// records through `LedgerWriters`, passing the jobs in memory as the coordinator does)
    /// until about `postings` postings are in the journal; the postings per record are
    /// estimated beforehand by rating a sample in memory. The store is closed on return, so the
    /// child opens it fresh.
    static func make(directory: String, mesh: LedgerMesh, postings: Int, batch: Int, writers: Int) async throws
        -> SettlementBuild
    {
        var build = SettlementBuild(batch: batch, writers: writers)
        let (store, meter, topUps) = try await LedgerPosting.open(directory: directory, mesh: mesh)
        build.topUps = topUps
        let sample = try LedgerPureRating.measure(
            mesh: mesh, workload: LedgerWorkload(first: 0, count: 50_000, batch: batch, writers: writers, sites: mesh.sites),
            sample: 50_000)
        build.postingsPerRecord = Double(sample.postings) / Double(max(sample.records, 1))
        let target = Int((Double(max(0, postings - topUps * 2)) / build.postingsPerRecord).rounded(.up))
        let clock = ContinuousClock()
        while build.records < target {
            let workload = LedgerWorkload(
                first: build.records, count: min(250_000, target - build.records), batch: batch, writers: writers,
                sites: mesh.sites)
            let jobsStart = clock.now
            try await LedgerPosting.insertJobs(workload, mesh: mesh, store: store)
            build.jobsTime += clock.now - jobsStart
            let run = try await LedgerWriters.run(workload, mesh: mesh, store: store, meter: meter)
            build.postTime += run.wall
            build.outcome.add(run.fresh)
            build.records += workload.count
            FileHandle.standardError.write(
                Data("estuary-bench settlement: \(build.records) of \(target) records built\n".utf8))
        }
        build.sumOfBalances = meter.sumOfBalances
        return build
    }
}
