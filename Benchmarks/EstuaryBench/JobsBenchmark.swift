import ArgumentParser
import AsyncHTTPClient
import EstuaryModel
import EstuaryTransport
import Foundation
import NIOCore
import Synchronization

/// Submission through the real API to assignment at a site: jobs are POSTed to a real
/// coordinator (durable when answered) and simulated sites receive their JobAssign, run them
/// instantly and report them finished, so capacity keeps freeing. Prints one Markdown section.
struct JobsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Measure submit→assigned latency and jobs/s through the API of a real coordinator."
    )

    @Option(help: "Path of a release estuary-coordinator binary.")
    var coordinatorBin: String

    @Option(help: "Simulated sites, each with one large pool.")
    var agents: Int = 3

    @Option(help: "Jobs submitted in the measured run.")
    var jobs: Int = 20_000

    @Option(help: "Submissions in flight (HTTP/1.1 connections).")
    var concurrency: Int = 64

    @Option(help: "Jobs submitted (and assigned) before the measured run, to warm up.")
    var warmupJobs: Int = 500

    @Option(help: "Units in each simulated site's pool.")
    var poolUnits: Int = 100_000

    @Option(help: "Accelerator class of the pools and the jobs.")
    var acceleratorClass: String = "cpu-x86-64"

    @Option(help: "Directory under which the coordinator's data directory is created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the coordinator's data directory and log.")
    var keep = false

    func validate() throws {
        guard agents > 0, jobs > 0, concurrency > 0, warmupJobs >= 0, poolUnits > 0 else {
            throw ValidationError("--agents, --jobs, --concurrency and --pool-units must be positive")
        }
    }

    func run() async throws {
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-jobs")
        defer { work.remove(keep: keep) }
        let result = try await withChildProcesses { reaper in try await measure(reaper: reaper, work: work) }
        print(report(result, filesystem: FileSystemInfo.type(of: work.path)))
    }

    struct Submission {
        var index: Int
        var jobID: String?
        var start: ContinuousClock.Instant
        var answered: ContinuousClock.Instant
        var failure: String?
    }

    struct Result {
        var submissions: [Submission]
        var assignedAt: [String: ContinuousClock.Instant]
        var duplicates: Int
        var completionSeconds: Double?
        var coordinatorCPU: Double
        var coordinatorRSS: Int
        var coordinatorPeakRSS: Int
        var generatorCPU: Double
        var machineBusy: Double
        var sessionFailures: [String]
        var lastJobState: String
        var allocatedAfter: String
        var logProblems: [String: Int]
    }

    private func measure(reaper: ChildReaper, work: BenchWorkDirectory) async throws -> Result {
        let coordinator = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work.path, label: "coordinator", reportInterval: "1s", reaper: reaper)
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let assigns = AssignLog()
        let pool = PoolCapacity(acceleratorClass: AcceleratorClass(rawValue: acceleratorClass), count: poolUnits, free: poolUnits, simulated: true)
        let sites = (0..<agents).map { _ in JobsSiteState() }
        let client = MeshClientConfiguration(host: "127.0.0.1", port: coordinator.meshPort)
        let fleet = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, state) in sites.enumerated() {
                    let agent = JobsAgent(
                        site: SimulatedSite(index: index, runID: runID, pools: [pool]), state: state, assigns: assigns, client: client,
                        reportInterval: .seconds(1))
                    group.addTask { await agent.run() }
                }
            }
        }

        let httpClient = APISubmitter.httpClient(concurrency: concurrency)
        let api = try await APISubmitter(
            client: httpClient, baseURL: "http://127.0.0.1:\(coordinator.apiPort)", runID: runID,
            acceleratorClass: acceleratorClass, tokens: [coordinator.adminToken()]
        ).withTokens(concurrency)

        do {
            try await Self.waitForSites(sites, api: api, coordinator: coordinator)
            // Warm-up: connections, code paths, SQLite pages.
            if warmupJobs > 0 {
                let warm = try await api.submitAll(range: 0..<warmupJobs, concurrency: concurrency)
                try await waitUntilAssigned(warm.compactMap(\.jobID), assigns: assigns, sites: sites, timeout: .seconds(120))
                try await Self.waitUntilAnswered(sites, timeout: .seconds(60))
            }

            let coordinatorBefore = ProcessSample.read(coordinator.pid)
            let selfBefore = ProcessSample.read()
            let machineBefore = SystemCPUSample.read()
            let submissions = try await api.submitAll(range: warmupJobs..<(warmupJobs + jobs), concurrency: concurrency)
            let ids = submissions.compactMap(\.jobID)
            try await waitUntilAssigned(ids, assigns: assigns, sites: sites, timeout: .seconds(max(120, jobs / 100)))
            let assignedDone = ContinuousClock.now
            let coordinatorAfter = ProcessSample.read(coordinator.pid)
            let selfAfter = ProcessSample.read()
            let machineAfter = SystemCPUSample.read()
            let completion: Double? =
                (try? await Self.waitUntilAnswered(sites, timeout: .seconds(120))) != nil ? (ContinuousClock.now - assignedDone).seconds : nil

            var lastState = "–"
            if let last = ids.last { lastState = try await api.jobState(last) }
            let allocated = try await api.allocatedSummary()
            let result = Result(
                submissions: submissions, assignedAt: assigns.times(), duplicates: assigns.duplicates,
                completionSeconds: completion,
                coordinatorCPU: SessionsRun.cpu(coordinatorBefore, coordinatorAfter),
                coordinatorRSS: coordinatorAfter?.rssBytes ?? 0, coordinatorPeakRSS: coordinatorAfter?.peakRSSBytes ?? 0,
                generatorCPU: SessionsRun.cpu(selfBefore, selfAfter),
                machineBusy: machineBefore.flatMap { before in machineAfter.map { SystemCPUSample.busyPercent(from: before, to: $0) } } ?? .nan,
                sessionFailures: sites.compactMap(\.failure), lastJobState: lastState, allocatedAfter: allocated,
                logProblems: coordinator.logProblems())
            try await httpClient.shutdown()
            await coordinator.process.stop()
            for site in sites { site.stop() }
            fleet.cancel()
            await fleet.value
            return result
        } catch {
            try? await httpClient.shutdown()
            fleet.cancel()
            throw error
        }
    }

    /// Until every simulated site has its session and `GET /v1/sites` shows them connected.
    static func waitForSites(_ sites: [JobsSiteState], api: APISubmitter, coordinator: CoordinatorProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let failed = sites.first(where: { $0.phase == .failed }) {
                throw BenchError.failed("a simulated site could not connect: \(failed.failure ?? "?")")
            }
            if sites.allSatisfy({ $0.phase == .connected }), try await api.connectedSites() >= sites.count { return }
            if coordinator.process.hasExited { throw BenchError.failed("the coordinator exited:\n\(coordinator.process.logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError.failed("the simulated sites did not show as connected in GET /v1/sites within 30 s")
    }

    private func waitUntilAssigned(_ ids: [String], assigns: AssignLog, sites: [JobsSiteState], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var spins = 0
        while ContinuousClock.now < deadline {
            // Counting all ids is O(n); check often at first, then less.
            if assigns.count(of: ids) == ids.count { return }
            if let failed = sites.first(where: { $0.phase == .failed }) {
                throw BenchError.failed("a simulated site failed: \(failed.failure ?? "?")")
            }
            spins += 1
            try await Task.sleep(for: .milliseconds(spins < 100 ? 2 : 20))
        }
        throw BenchError.failed("\(ids.count - assigns.count(of: ids)) of \(ids.count) jobs were not assigned within \(timeout)")
    }

    /// Until the coordinator has acknowledged (applied and committed) every answer the sites sent.
    @discardableResult
    static func waitUntilAnswered(_ sites: [JobsSiteState], timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if sites.allSatisfy(\.allAcked) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError.failed("the coordinator did not acknowledge every job's completion within \(timeout)")
    }

    private func report(_ result: Result, filesystem: String) -> String {
        var out = SectionHeader.text("Jobs: submission to assignment")
        func line(_ text: String = "") { out += text + "\n" }
        let ok = result.submissions.filter { $0.jobID != nil }
        let failures = result.submissions.filter { $0.jobID == nil }
        let firstStart = result.submissions.map(\.start).min()
        let lastAnswer = result.submissions.map(\.answered).max()
        let assignedTimes = ok.compactMap { $0.jobID.flatMap { result.assignedAt[$0] } }
        let lastAssigned = assignedTimes.max()
        let endToEnd = ok.compactMap { submission in submission.jobID.flatMap { result.assignedAt[$0] }.map { ($0 - submission.start).milliseconds } }
        let apiLatency = LatencySummary(milliseconds: ok.map { ($0.answered - $0.start).milliseconds })
        let assigned = LatencySummary(milliseconds: endToEnd)
        let wall = firstStart.flatMap { start in lastAssigned.map { ($0 - start).seconds } } ?? .nan
        let submitWall = firstStart.flatMap { start in lastAnswer.map { ($0 - start).seconds } } ?? .nan

        line(
            "\(agents) simulated sites (own HTTP/2 session each, one pool of \(Format.grouped(Double(poolUnits))) × `\(acceleratorClass)`); \(Format.grouped(Double(jobs))) jobs of 1 unit POSTed to `/v1/jobs` over HTTP/1.1 (AsyncHTTPClient, \(concurrency) in flight, one `Idempotency-Key` each) after \(Format.grouped(Double(warmupJobs))) warm-up jobs. A site answers each JobAssign at once with RUNNING, SUCCEEDED (exit 0) and a usage record (reliable, seq'd), so capacity frees. *Submit→assigned* = request start → JobAssign received at a site (matched by the job id in the 201 answer). The API answers after the job is durably committed (SQLite WAL, synchronous=FULL, group commit; data directory on \(filesystem)); placement commits again before the JobAssign is sent. The load generator (HTTP client and sites) runs on the same cores as the coordinator."
        )
        line()
        line("| jobs | concurrency | jobs/s submitted and assigned | API answers/s | API p50 ms | API p99 ms | API max ms | submit→assigned p50 ms | p90 ms | p99 ms | max ms | coordinator CPU % | coordinator RSS MiB (peak) | generator CPU % | machine busy % | other processes CPU % | errors |")
        line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        line(
            "| \(Format.grouped(Double(jobs))) | \(concurrency) | \(Format.grouped(Double(assignedTimes.count) / wall)) | \(Format.grouped(Double(ok.count) / submitWall)) | \(Format.ms(apiLatency.p50)) | \(Format.ms(apiLatency.p99)) | \(Format.ms(apiLatency.max)) | \(Format.ms(assigned.p50)) | \(Format.ms(assigned.p90)) | \(Format.ms(assigned.p99)) | \(Format.ms(assigned.max)) | \(Format.fixed(result.coordinatorCPU, 0)) | \(Format.mib(result.coordinatorRSS)) (\(Format.mib(result.coordinatorPeakRSS))) | \(Format.fixed(result.generatorCPU, 0)) | \(Format.fixed(result.machineBusy, 0)) | \(Format.fixed(OtherLoad.percent(machineBusy: result.machineBusy, coordinator: result.coordinatorCPU, generator: result.generatorCPU), 0)) | \(failures.count + result.sessionFailures.count) |"
        )
        line()
        let meets = assigned.p99 < 100 && Double(assignedTimes.count) / wall >= 5000
        line(
            "**\(Format.grouped(Double(assignedTimes.count) / wall)) jobs/s with p99 submit→assigned \(Format.ms(assigned.p99)) ms** (goal: 5,000 jobs/s with p99 under 100 ms: \(meets ? "met" : "not met")). \(Format.grouped(Double(assignedTimes.count))) of \(Format.grouped(Double(jobs))) jobs assigned in \(Format.fixed(wall, 2)) s; all submits answered in \(Format.fixed(submitWall, 2)) s."
        )
        line()
        line(
            "Columns: *jobs/s* = jobs assigned ÷ (last JobAssign − first request start); *API* = request start → 201 received; CPU % is of one core (the machine has \(BenchMachine.current().cores)), over the submit-to-last-assign span; *machine busy* = all cores; *other processes* = machine busy (as % of one core) minus coordinator and generator; *errors* = failed submits plus failed site sessions."
        )
        var notes: [String] = []
        if let completion = result.completionSeconds {
            notes.append("Every job's RUNNING/SUCCEEDED/usage was acknowledged \(Format.fixed(completion, 2)) s after the last assignment; the last job reads `\(result.lastJobState)` from `GET /v1/jobs/{id}`; allocated units after the run: \(result.allocatedAfter).")
        } else {
            notes.append("The coordinator had not acknowledged every completion 120 s after the last assignment.")
        }
        let slow = ok.filter { submission in
            guard let id = submission.jobID, let at = result.assignedAt[id] else { return false }
            return (at - submission.start) > .seconds(1)
        }
        if !slow.isEmpty, let first = firstStart {
            let described = slow.prefix(5).map { submission -> String in
                let start = (submission.start - first).seconds
                let answered = (submission.answered - first).seconds
                let assignedAt = submission.jobID.flatMap { result.assignedAt[$0] }.map { ($0 - first).seconds } ?? .nan
                return "`\(submission.jobID ?? "?")` sent at \(Format.fixed(start, 2)) s, answered at \(Format.fixed(answered, 2)) s, assigned at \(Format.fixed(assignedAt, 2)) s"
            }
            notes.append("\(slow.count) jobs took over 1 s from submit to assignment: " + described.joined(separator: "; ") + ".")
        }
        if result.duplicates > 0 { notes.append("\(result.duplicates) duplicate JobAssign envelopes received.") }
        if !failures.isEmpty {
            var kinds: [String: Int] = [:]
            for failure in failures { kinds[String((failure.failure ?? "?").prefix(140)), default: 0] += 1 }
            notes.append("Failed submits: " + kinds.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value) × \($0.key)" }.joined(separator: "; "))
        }
        for failure in result.sessionFailures { notes.append("Site session failed: \(failure)") }
        if !result.logProblems.isEmpty {
            notes.append("Coordinator log: " + result.logProblems.sorted { $0.value > $1.value }.prefix(4).map { "\($0.value) × `\($0.key)`" }.joined(separator: "; "))
        }
        for note in notes { line("- \(note)") }
        return out
    }
}

/// Submits jobs through the coordinator's API.
struct APISubmitter: Sendable {
    let client: HTTPClient
    let baseURL: String
    let runID: String
    let acceleratorClass: String
    /// The spec of job `index`; nil: one unit of `acceleratorClass`.
    var spec: (@Sendable (Int) -> JobSpec)? = nil
    /// Bearer tokens; submit `index` uses `tokens[index % tokens.count]` (the API rate-limits
    /// each token), reads take turns, so that polling stays under the limit too.
    var tokens: [String] = []
    /// Whose turn it is to read.
    let reads = TicketCounter()

    private struct Submitted: Decodable {
        struct Job: Decodable { var id: String }
        var job: Job
    }

    /// An HTTP/1.1 client with a connection for each of `concurrency` requests in flight.
    static func httpClient(concurrency: Int) -> HTTPClient {
        var http = HTTPClient.Configuration()
        http.httpVersion = .http1Only
        http.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    func body(index: Int) throws -> ByteBuffer {
        let spec = self.spec?(index) ?? JobSpec(
            name: "bench-\(index)", tenant: "bench", command: ["/bin/true"],
            resources: ResourceRequest(acceleratorClass: AcceleratorClass(rawValue: acceleratorClass), count: 1, tasks: 1),
            walltimeSeconds: 3600)
        return ByteBuffer(bytes: try JSONEncoder().encode(spec))
    }

    /// Submits every index with `concurrency` requests in flight; one record per index.
    func submitAll(range: Range<Int>, concurrency: Int) async throws -> [JobsBenchmark.Submission] {
        let bodies = try range.map { try body(index: $0) }
        let next = TicketCounter()
        return await withTaskGroup(of: [JobsBenchmark.Submission].self) { group in
            for _ in 0..<min(concurrency, range.count) {
                group.addTask {
                    var done: [JobsBenchmark.Submission] = []
                    while true {
                        let offset = next.take()
                        guard offset < bodies.count else { return done }
                        done.append(await submit(index: range.lowerBound + offset, body: bodies[offset]))
                    }
                }
            }
            var all: [JobsBenchmark.Submission] = []
            for await part in group { all += part }
            return all
        }
    }

    private func submit(index: Int, body: ByteBuffer) async -> JobsBenchmark.Submission {
        var request = HTTPClientRequest(url: baseURL + "/v1/jobs")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: "bench-\(runID)-\(index)")
        if !tokens.isEmpty { request.headers.add(name: "Authorization", value: "Bearer " + tokens[index % tokens.count]) }
        request.body = .bytes(body)
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let answered = ContinuousClock.now
            guard response.status == .created || response.status == .ok else {
                return .init(
                    index: index, jobID: nil, start: start, answered: answered,
                    failure: "HTTP \(response.status.code): \(String(buffer: bytes).prefix(120))")
            }
            let submitted = try JSONDecoder().decode(Submitted.self, from: Data(bytes.readableBytesView))
            return .init(index: index, jobID: submitted.job.id, start: start, answered: answered)
        } catch {
            return .init(index: index, jobID: nil, start: start, answered: .now, failure: "\(error)")
        }
    }

    /// This submitter with `count` admin tokens in all: the first, and new ones it creates
    /// (`POST /v1/tokens`), so that many submits in flight stay under the per-token rate limit.
    func withTokens(_ count: Int) async throws -> APISubmitter {
        guard let admin = tokens.first else { throw BenchError.setup("no API token to create more with") }
        struct Created: Decodable { var token: String }
        var copy = self
        for number in copy.tokens.count..<max(count, copy.tokens.count) {
            var request = HTTPClientRequest(url: baseURL + "/v1/tokens")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Authorization", value: "Bearer " + admin)
            request.body = .bytes(ByteBuffer(string: #"{"role": "admin", "name": "bench-\#(runID)-\#(number)", "ttl": "1d"}"#))
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .created || response.status == .ok else {
                throw BenchError.setup("POST /v1/tokens: HTTP \(response.status.code): \(String(buffer: bytes).prefix(160))")
            }
            copy.tokens.append(try JSONDecoder().decode(Created.self, from: Data(bytes.readableBytesView)).token)
        }
        return copy
    }

    func get(_ path: String) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        if !tokens.isEmpty { request.headers.add(name: "Authorization", value: "Bearer " + tokens[reads.take() % tokens.count]) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else { throw BenchError.failed("GET \(path): HTTP \(response.status.code)") }
        return Data(bytes.readableBytesView)
    }

    func sites() async throws -> SiteListView {
        try JSONDecoder().decode(SiteListView.self, from: try await get("/v1/sites"))
    }

    /// Waits until `GET /v1/sites` shows `site` connected; fails if `agent` exits first or
    /// `timeout` passes.
    func waitUntilConnected(site: String, agent: ChildProcess, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if agent.hasExited { throw BenchError.failed("estuary-agent exited before connecting:\n\(agent.logTail())") }
            if let sites = try? await sites(), sites.sites.contains(where: { $0.site.id.rawValue == site && $0.state == .connected }) {
                return
            }
            if ContinuousClock.now > deadline {
                throw BenchError.failed("site \(site) was not connected in GET /v1/sites within \(timeout):\n\(agent.logTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func connectedSites() async throws -> Int {
        try await sites().sites.filter { $0.state == .connected }.count
    }

    func jobState(_ id: String) async throws -> String {
        struct State: Decodable { var state: String }
        return try JSONDecoder().decode(State.self, from: try await get("/v1/jobs/\(id)")).state
    }

    /// Units still allocated per site after the run ("none" when every job released its own).
    func allocatedSummary() async throws -> String {
        let total = try await sites().sites.reduce(0) { $0 + $1.allocated.values.reduce(0, +) }
        return total == 0 ? "none" : "\(total) units"
    }
}

/// Hands out 0, 1, 2 … to concurrent workers.
final class TicketCounter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}
