import ArgumentParser
import EstuaryModel
import EstuaryTransport
import EstuaryWire
import Foundation

/// Many agent sessions on one real coordinator: each simulated agent keeps its own HTTP/2
/// connection, reports capacity every interval and follows each report with an empty, seq'd
/// UsageBatch, whose ack proves the report was handled and the cursor durably committed.
/// Prints one Markdown section; it measures, it never asserts.
struct SessionsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Measure report→ack latency with N concurrent agent sessions on a real coordinator."
    )

    @Option(help: "Path of a release estuary-coordinator binary.")
    var coordinatorBin: String

    @Option(help: "Agent counts to try in order, each on a fresh coordinator, e.g. 1000,2500,5000,10000.")
    var agents: String = "1000,2500,5000,10000"

    @Option(help: "Measured window per agent count, e.g. 30s.")
    var duration: String = "30s"

    @Option(help: "Reporting time after all sessions are up and before the window opens.")
    var warmup: String = "5s"

    @Option(help: "Time between one agent's reports (also passed to the coordinator).")
    var reportInterval: String = "1s"

    @Option(help: "Sessions handshaking at once while connecting.")
    var connectConcurrency: Int = 128

    @Option(help: "p99 report→ack latency goal in milliseconds; escalation stops at the first count that misses it.")
    var goalP99Ms: Double = 5

    @Flag(help: "Pin the coordinator to CPU 0 and this process (the load generator) to the other CPUs, so that they do not compete for a core.")
    var pinCoordinator = false

    @Flag(help: "Run every agent count even after one misses the goal or sees errors.")
    var noStop = false

    @Option(help: "Directory under which the coordinator's data directory is created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the coordinator's data directory and log.")
    var keep = false

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--agents: expected positive counts such as 1000,2500") }
        guard let duration = DurationFlag.parse(duration), duration > .zero else { throw ValidationError("--duration: expected e.g. 30s") }
        guard DurationFlag.parse(warmup) != nil else { throw ValidationError("--warmup: expected e.g. 5s") }
        guard let interval = DurationFlag.parse(reportInterval), interval >= .seconds(1),
            interval.components.attoseconds == 0
        else { throw ValidationError("--report-interval: whole seconds, at least 1s (the coordinator's flag takes seconds)") }
        _ = duration
    }

    var counts: [Int] { agents.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        let window = DurationFlag.parse(duration)!
        let warm = DurationFlag.parse(warmup)!
        let interval = DurationFlag.parse(reportInterval)!
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-sessions")
        defer { work.remove(keep: keep) }

        var rows: [SessionsRun.Row] = []
        var notes: [String] = []
        try await withChildProcesses { reaper in
            for count in counts {
                FileHandle.standardError.write(Data("estuary-bench sessions: \(count) agents…\n".utf8))
                let run = SessionsRun(
                    coordinatorBin: coordinatorBin, workDirectory: work.path, agents: count, window: window, warmup: warm,
                    interval: interval, connectConcurrency: connectConcurrency, pin: pinCoordinator)
                let row = try await run.execute(reaper: reaper)
                rows.append(row)
                notes += row.notes
                FileHandle.standardError.write(Data("  p99 \(Format.ms(row.latency.p99)) ms, \(row.errors) errors\n".utf8))
                if !noStop, row.latency.p99.isNaN || row.latency.p99 >= goalP99Ms || row.errors > 0 { break }
            }
        }
        print(
            report(rows: rows, notes: notes, window: window, warmup: warm, interval: interval, filesystem: FileSystemInfo.type(of: work.path)))
    }

    private func report(
        rows: [SessionsRun.Row], notes: [String], window: Duration, warmup: Duration, interval: Duration, filesystem: String
    ) -> String {
        var out = SectionHeader.text("Sessions: many agents on one coordinator")
        func line(_ text: String = "") { out += text + "\n" }
        let held = rows.filter { !$0.latency.p99.isNaN && $0.latency.p99 < goalP99Ms && $0.errors == 0 }.map(\.agents).max()
        line(
            "Each simulated agent has its own HTTP/2 connection and session (Hello → Welcome), sends a full CapacityReport every \(Format.fixed(interval.seconds, 0)) s at its own phase (agent i at i/N of the interval) immediately followed, in the same write, by an empty UsageBatch with the next seq. Latency = report written → coordinator ack covering that seq received, which implies the report was handled and the site's cursor durably committed (SQLite WAL, synchronous=FULL, group commit). Fresh coordinator (`--report-interval \(Format.fixed(interval.seconds, 0))s`) per agent count; \(Format.fixed(warmup.seconds, 0)) s of reporting before a \(Format.fixed(window.seconds, 0)) s window; reports sent in the window count. Data directory on \(filesystem). \(pinCoordinator ? "The coordinator is pinned to CPU 0 and the load generator to the other CPUs (`--pin-coordinator`): the coordinator has one core to itself, apart from other processes on the machine." : "The load generator runs on the same cores as the coordinator (no pinning).")"
        )
        line()
        line("| agents | connected | connect s | reports/s (target) | acked | p50 ms | p99 ms | p99.9 ms | max ms | unacked | send lag p99 ms | coordinator CPU % | coordinator RSS MiB | generator CPU % | machine busy % | other processes CPU % | errors |")
        line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows {
            let target = Double(row.agents) / interval.seconds
            line(
                "| \(Format.grouped(Double(row.agents))) | \(Format.grouped(Double(row.connected))) | \(Format.fixed(row.connectSeconds, 1)) | \(Format.grouped(row.reportsPerSecond)) (\(Format.grouped(target))) | \(Format.grouped(Double(row.acked))) | \(Format.ms(row.latency.p50)) | \(Format.ms(row.latency.p99)) | \(Format.ms(row.latency.p999)) | \(Format.ms(row.latency.max)) | \(row.unacked) | \(Format.ms(row.sendLagP99)) | \(Format.fixed(row.coordinatorCPU, 0)) | \(Format.mib(row.coordinatorRSS)) | \(Format.fixed(row.generatorCPU, 0)) | \(Format.fixed(row.machineBusy, 0)) | \(Format.fixed(OtherLoad.percent(machineBusy: row.machineBusy, coordinator: row.coordinatorCPU, generator: row.generatorCPU), 0)) | \(row.errors) |"
            )
        }
        line()
        if let held {
            line("**Largest agent count holding p99 < \(Format.ms(goalP99Ms)) ms with no errors: \(Format.grouped(Double(held))).** Goal: 10,000.")
        } else {
            line("**No agent count tried held p99 < \(Format.ms(goalP99Ms)) ms with no errors.** Goal: 10,000.")
        }
        line()
        line(
            "Columns: *connect s* = time to open all sessions (\(connectConcurrency) handshakes in flight); *unacked* = reports of the window without an ack 5 s after it closed; *send lag* = how late the generator wrote a report after its slot (a large value means the generator, not the coordinator, fell behind); CPU % is of one core (the machine has \(BenchMachine.current().cores)); coordinator RSS at the end of the window; *machine busy* = all cores, from /proc/stat; *other processes* = machine busy (as % of one core) minus coordinator and generator, i.e. whatever else ran on the machine (builds of other work, for instance) and competed for the cores; *errors* = sessions that failed to connect or ended during the run."
        )
        for note in notes { line("- \(note)") }
        return out
    }
}

/// One agent count on one fresh coordinator.
struct SessionsRun {
    let coordinatorBin: String
    let workDirectory: String
    let agents: Int
    let window: Duration
    let warmup: Duration
    let interval: Duration
    let connectConcurrency: Int
    let pin: Bool

    struct Row {
        var agents: Int
        var connected: Int
        var connectSeconds: Double
        var reportsPerSecond: Double
        var acked: Int
        var unacked: Int
        var latency: LatencySummary
        var sendLagP99: Double
        var coordinatorCPU: Double
        var coordinatorRSS: Int
        var generatorCPU: Double
        var machineBusy: Double
        var errors: Int
        var notes: [String]
    }

    func execute(reaper: ChildReaper) async throws -> Row {
        let coordinator = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: workDirectory, label: "coordinator-\(agents)",
            reportInterval: "\(Int(interval.seconds))s", reaper: reaper)
        if pin {
            let cores = BenchMachine.current().cores
            if !CPUPinning.pin(coordinator.pid, to: [0]) || !CPUPinning.pin(getpid(), to: cores > 1 ? Array(1..<cores) : [0]) {
                FileHandle.standardError.write(Data("estuary-bench: taskset failed; running unpinned\n".utf8))
            }
        }
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let probes = (0..<agents).map { _ in SessionProbe() }
        let control = RunControl()
        let limiter = AsyncLimiter(connectConcurrency)
        let epoch = ContinuousClock.now
        let client = MeshClientConfiguration(host: "127.0.0.1", port: coordinator.meshPort)
        let pools = [PoolCapacity(acceleratorClass: "cpu-x86-64", count: 256, free: 256, simulated: true)]
        let (agentCount, interval) = (agents, self.interval)

        let fleet = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<agentCount {
                    let site = SimulatedSite(index: index, runID: runID, pools: pools)
                    let phase = interval * index / agentCount
                    group.addTask {
                        await SessionAgent(
                            site: site, probe: probes[index], control: control, client: client, epoch: epoch, phase: phase,
                            interval: interval
                        ).run(limiter: limiter)
                    }
                }
            }
        }

        // All sessions up (or failed), then warm up, then measure.
        let connectStart = ContinuousClock.now
        let connectDeadline = connectStart + .seconds(max(60, agents / 50))
        while probes.contains(where: { $0.phase == .connecting }), ContinuousClock.now < connectDeadline {
            if coordinator.process.hasExited { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let connectSeconds = (ContinuousClock.now - connectStart).seconds
        try await Task.sleep(for: warmup)

        let windowStart = ContinuousClock.now
        let coordinatorBefore = ProcessSample.read(coordinator.pid)
        let selfBefore = ProcessSample.read()
        let machineBefore = SystemCPUSample.read()
        try await Task.sleep(for: window)
        let windowEnd = ContinuousClock.now
        let coordinatorAfter = ProcessSample.read(coordinator.pid)
        let selfAfter = ProcessSample.read()
        let machineAfter = SystemCPUSample.read()

        control.stop()
        // Give the last reports of the window time to be acked.
        let drainDeadline = ContinuousClock.now + .seconds(5)
        while probes.contains(where: { $0.pendingCount > 0 && $0.phase == .connected }), ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let snapshots = probes.map { $0.snapshot() }
        let problems = coordinator.logProblems()
        let exitedEarly = coordinator.process.hasExited
        await coordinator.process.stop()
        fleet.cancel()
        await fleet.value

        // Reports sent in the window.
        var latencies: [Double] = []
        var lags: [Double] = []
        var unacked = 0
        latencies.reserveCapacity(agents * Int(window.seconds / interval.seconds + 1))
        for snapshot in snapshots {
            for report in snapshot.reports where report.sentAt >= windowStart && report.sentAt < windowEnd {
                lags.append((report.sentAt - report.scheduled).milliseconds)
                if let acked = report.ackedAt {
                    latencies.append((acked - report.sentAt).milliseconds)
                } else {
                    unacked += 1
                }
            }
        }
        let connected = snapshots.filter { $0.phase == .connected || !$0.reports.isEmpty }.count
        let failures = snapshots.filter { $0.phase != .connected }
        var notes: [String] = []
        if !failures.isEmpty {
            var kinds: [String: Int] = [:]
            for failure in failures { kinds[String((failure.failure ?? "never connected").prefix(140)), default: 0] += 1 }
            let listed = kinds.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value) × \($0.key)" }.joined(separator: "; ")
            notes.append("\(Format.grouped(Double(agents))) agents: \(failures.count) session errors: \(listed)")
        }
        if exitedEarly { notes.append("\(Format.grouped(Double(agents))) agents: the coordinator exited during the run:\n\n```\n\(coordinator.process.logTail(lines: 10))\n```") }
        if !problems.isEmpty {
            let listed = problems.sorted { $0.value > $1.value }.prefix(4).map { "\($0.value) × `\($0.key)`" }.joined(separator: "; ")
            notes.append("\(Format.grouped(Double(agents))) agents: coordinator log: \(listed)")
        }
        let seconds = (windowEnd - windowStart).seconds
        let ackedInWindow = latencies.count
        return Row(
            agents: agents, connected: connected, connectSeconds: connectSeconds,
            reportsPerSecond: Double(ackedInWindow) / seconds, acked: ackedInWindow, unacked: unacked,
            latency: LatencySummary(milliseconds: latencies), sendLagP99: LatencySummary(milliseconds: lags).p99,
            coordinatorCPU: Self.cpu(coordinatorBefore, coordinatorAfter), coordinatorRSS: coordinatorAfter?.rssBytes ?? 0,
            generatorCPU: Self.cpu(selfBefore, selfAfter),
            machineBusy: machineBefore.flatMap { before in machineAfter.map { SystemCPUSample.busyPercent(from: before, to: $0) } } ?? .nan,
            errors: failures.count, notes: notes)
    }

    static func cpu(_ before: ProcessSample?, _ after: ProcessSample?) -> Double {
        guard let before, let after else { return .nan }
        return ProcessSample.cpuPercent(from: before, to: after)
    }
}

/// One simulated agent of the sessions benchmark.
struct SessionAgent: Sendable {
    let site: SimulatedSite
    let probe: SessionProbe
    let control: RunControl
    let client: MeshClientConfiguration
    let epoch: ContinuousClock.Instant
    let phase: Duration
    let interval: Duration

    func run(limiter: AsyncLimiter) async {
        await limiter.acquire()
        var holdsPermit = true
        do {
            try await MeshClient.withSession(configuration: client, headers: site.headers) { session in
                var reader = session.reader
                let resumeFrom = try await site.handshake(session, reader: &reader)
                await limiter.release()
                holdsPermit = false
                probe.connected()
                let writer = session.writer
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await sendReports(writer, firstSeq: resumeFrom + 1) }
                    while let envelope = try await reader.next() {
                        probe.received(envelope, at: .now)
                        if case .error(let error) = envelope.body {
                            probe.failed("coordinator sent Error \(error.code): \(error.message)")
                        }
                    }
                    if !control.isStopped { probe.failed("the coordinator ended the session") }
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            if !control.isStopped { probe.failed("\(error)") }
        }
        if holdsPermit { await limiter.release() }
    }

    private func sendReports(_ writer: EnvelopeWriter, firstSeq: UInt64) async throws {
        var seq = firstSeq
        let elapsed = ContinuousClock.now - epoch - phase
        var slotIndex = max(0, Int((elapsed.seconds / interval.seconds).rounded(.up)))
        while !control.isStopped {
            let slot = epoch + phase + interval * slotIndex
            try await Task.sleep(until: slot, clock: .continuous)
            if control.isStopped { return }
            let usage = Estuary_V1_Envelope(seq: seq, body: .usage(Estuary_V1_UsageBatch()))
            let envelopes = [site.capacity(), usage]
            probe.sending(seq: seq, scheduled: slot, at: .now)
            try await writer.send(contentsOf: envelopes)
            seq += 1
            slotIndex += 1
        }
    }
}
