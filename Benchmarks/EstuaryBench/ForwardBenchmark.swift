import ArgumentParser
import AsyncHTTPClient
import EstuaryModel
import EstuaryTransport
import Foundation

/// What forwarding a job to another coordinator costs (docs/FEDERATION.md), beside running it
/// at home, in one run: two real coordinators in one gossip mesh, one simulated site at c2,
/// the same jobs submitted first at c2 (local) and then at c1 (which has no site, so each is
/// forwarded to c2), one at a time and then many in flight. Prints one Markdown section;
/// exits 1 when a job ran other than once or was not charged once.
struct ForwardBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Measure jobs forwarded to a peer coordinator's site against the same jobs run locally."
    )

    @Option(help: "Path of a release estuary-coordinator binary.")
    var coordinatorBin: String

    @Option(help: "Jobs submitted in each phase.")
    var jobs: Int = 2000

    @Option(help: "Submissions in flight (HTTP/1.1 connections).")
    var concurrency: Int = 64

    @Option(help: "Jobs per phase submitted one at a time, each once the previous one succeeded, before the loaded phases (0: none).")
    var oneByOneJobs: Int = 20

    @Option(help: "Directory under which the coordinators' data directories are created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the coordinators' data directories and logs.")
    var keep = false

    /// Units of the site's one pool: far more than can be busy at once, since every job ends
    /// as soon as it is assigned; a forwarded job holds its unit at c1 until c1 hears it ended.
    static let poolUnits = 100_000
    static let acceleratorClass = "cpu-x86-64"
    /// 360,000 fen per unit-hour, and usage records of 1 s: 100 fen a job. Usage of 0 s rates
    /// at 0 fen and is left unrated, so the span is what makes each job's charge visible.
    static let price = ClassPrice(flat: 360_000)
    static let usageSpanMs: Int64 = 1000

    func validate() throws {
        guard jobs > 0, concurrency > 0, oneByOneJobs >= 0 else {
            throw ValidationError("--jobs and --concurrency must be positive, --one-by-one-jobs at least 0")
        }
    }

    func run() async throws {
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-forward")
        defer { work.remove(keep: keep) }
        let result = try await withChildProcesses { reaper in try await measure(reaper: reaper, work: work) }
        let report = ForwardReport(result: result, jobs: jobs, concurrency: concurrency, filesystem: FileSystemInfo.type(of: work.path))
        print(report.markdown, terminator: "")
        if !report.failures.isEmpty {
            FileHandle.standardError.write(Data("estuary-bench forward: CHECK FAILED: \(report.failures.joined(separator: "; "))\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Result {
        /// In order: one by one (if any) local and forwarded, then loaded local and forwarded.
        var phases: [ForwardPhase.Result]
        var setupSeconds: Double
        var sessionFailure: String?
        var logProblems: [String: [String: Int]]
    }

    private func measure(reaper: ChildReaper, work: BenchWorkDirectory) async throws -> Result {
        let setupStart = ContinuousClock.now
        let c1 = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work.path, label: "c1", reportInterval: "1s", reaper: reaper,
            extraArguments: ["--coordinator-id", "c1", "--region", "r1"])
        let c2 = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work.path, label: "c2", reportInterval: "1s", reaper: reaper,
            extraArguments: ["--coordinator-id", "c2", "--region", "r2", "--gossip-seed", "127.0.0.1:\(c1.meshPort)"])
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

        var site = SimulatedSite(
            index: 0, runID: runID,
            pools: [
                PoolCapacity(
                    acceleratorClass: AcceleratorClass(rawValue: Self.acceleratorClass), count: Self.poolUnits, free: Self.poolUnits,
                    simulated: true)
            ])
        site.region = "r2"
        site.priceBook = PriceBook(prices: [AcceleratorClass(rawValue: Self.acceleratorClass): Self.price])
        let state = JobsSiteState()
        let assigns = AssignLog()
        let agent = JobsAgent(
            site: site, state: state, assigns: assigns, client: MeshClientConfiguration(host: "127.0.0.1", port: c2.meshPort),
            reportInterval: .seconds(1), usageSpanMs: Self.usageSpanMs)
        let fleet = Task { await agent.run() }

        let httpClient = APISubmitter.httpClient(concurrency: concurrency)
        do {
            let home = try await api(c1, runID: runID, client: httpClient)
            let runner = try await api(c2, runID: runID, client: httpClient)
            try await JobsBenchmark.waitForSites([state], api: runner, coordinator: c2)
            try await waitUntilHeard(site: site.id, at: home, from: "c2", coordinator: c1)
            // One job each way first: connections, code paths, and proof that c1 places at c2.
            try await warmUp(index: 0, api: runner, coordinator: c2)
            try await warmUp(index: 1, api: home, coordinator: c1)
            try await JobsBenchmark.waitUntilAnswered([state], timeout: .seconds(60))
            let setupSeconds = (ContinuousClock.now - setupStart).seconds

            let phase = ForwardPhase(site: state, assigns: assigns, c1: c1, c2: c2, runner: runner)
            var phases: [ForwardPhase.Result] = []
            var next = 2
            let plan: [(ForwardPhase.Kind, ForwardPhase.Pace, Int)] =
                (oneByOneJobs > 0 ? [(.local, .oneByOne, oneByOneJobs), (.forwarded, .oneByOne, oneByOneJobs)] : [])
                + [(.local, .inFlight(concurrency), jobs), (.forwarded, .inFlight(concurrency), jobs)]
            for (kind, pace, count) in plan {
                phases.append(try await phase.run(kind, pace, submitTo: kind == .local ? runner : home, indices: next..<(next + count)))
                next += count
            }
            let result = Result(
                phases: phases, setupSeconds: setupSeconds, sessionFailure: state.failure,
                logProblems: ["c1": c1.logProblems(), "c2": c2.logProblems()])
            try await httpClient.shutdown()
            state.stop()
            fleet.cancel()
            await fleet.value
            return result
        } catch {
            try? await httpClient.shutdown()
            state.stop()
            fleet.cancel()
            throw error
        }
    }

    /// The coordinator's API with one admin token per submit in flight (the API rate-limits each token).
    private func api(_ coordinator: CoordinatorProcess, runID: String, client: HTTPClient) async throws -> APISubmitter {
        try await APISubmitter(
            client: client, baseURL: "http://127.0.0.1:\(coordinator.apiPort)", runID: runID,
            acceleratorClass: Self.acceleratorClass, tokens: [coordinator.adminToken()]
        ).withTokens(concurrency)
    }

    /// Until `GET /v1/mesh/capacity` at `home` lists the site at `peer`, reachable, with all its
    /// units: gossip has carried it, which is what forwarding decides on.
    private func waitUntilHeard(site: String, at home: APISubmitter, from peer: String, coordinator: CoordinatorProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = "nothing yet"
        while ContinuousClock.now < deadline {
            if coordinator.process.hasExited { throw BenchError.failed("c1 exited:\n\(coordinator.process.logTail())") }
            if let data = try? await home.get("/v1/mesh/capacity"),
                let view = try? JSONDecoder().decode(MeshCapacityView.self, from: data)
            {
                if view.sites.contains(where: {
                    $0.site == site && $0.origin == peer && $0.reachable && $0.totalUnits[Self.acceleratorClass] == Self.poolUnits
                }) {
                    return
                }
                last = view.sites.map { "\($0.site)@\($0.origin) reachable=\($0.reachable)" }.joined(separator: ", ")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError.failed("c1 did not list \(site) at \(peer) in GET /v1/mesh/capacity within 60 s (it lists: \(last))")
    }

    /// Submits job `index` and waits until it reads `succeeded` where it was submitted.
    private func warmUp(index: Int, api: APISubmitter, coordinator: CoordinatorProcess) async throws {
        let submitted = try await api.submitAll(range: index..<(index + 1), concurrency: 1)
        guard let id = submitted.first?.jobID else {
            throw BenchError.failed("the warm-up submit failed: \(submitted.first?.failure ?? "?")")
        }
        try await ForwardPhase.waitUntilSucceeded(id, at: api, coordinator: coordinator)
    }
}
