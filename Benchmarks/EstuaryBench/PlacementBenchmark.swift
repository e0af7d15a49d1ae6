#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import AsyncHTTPClient
import EstuaryModel
import EstuaryTransport
import Foundation

/// Placement end to end through a real coordinator with durable state: N jobs are queued
/// through the API while no site is connected, then S simulated sites connect and the clock
/// runs until every job's JobAssign has reached a site. Prints one Markdown section.
struct PlacementBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement",
        abstract: "Measure placements/s of a queued backlog through a real coordinator (scheduler, SQLite, mesh)."
    )

    @Option(help: "Path of a release estuary-coordinator binary.")
    var coordinatorBin: String

    @Option(help: "Jobs queued before the sites connect.")
    var jobs: Int = 20_000

    @Option(help: "Simulated sites that connect after the jobs are queued.")
    var sites: Int = 3

    @Option(help: "Submissions in flight while queueing (not measured).")
    var concurrency: Int = 64

    @Option(help: "Units in each pool of each site (default: --jobs, so that any pool could take every job).")
    var poolUnits: Int?

    @Option(help: "The coordinator's --log-level; at debug its \"placed jobs\" lines give the passes.")
    var logLevel: String = "debug"

    @Option(help: "Directory under which the coordinator's data directory is created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the coordinator's data directory and log.")
    var keep = false

    func validate() throws {
        guard jobs > 0, sites > 0, concurrency > 0, (poolUnits ?? 1) > 0 else {
            throw ValidationError("--jobs, --sites, --concurrency and --pool-units must be positive")
        }
    }

    /// Regions, data zones and pools of the simulated sites, cycled by site index.
    struct SiteShape {
        var region: String
        var zones: [String]
        var classes: [String]
    }

    static let shapes = [
        SiteShape(region: "shenzhen", zones: ["gba", "mainland"], classes: ["cpu-x86-64", "cpu-kunpeng-920"]),
        SiteShape(region: "hong-kong", zones: ["gba", "hk"], classes: ["cpu-x86-64"]),
        SiteShape(region: "guangzhou", zones: ["gba", "mainland"], classes: ["cpu-kunpeng-920", "cpu-x86-64"]),
        SiteShape(region: "shaoguan", zones: ["mainland"], classes: ["cpu-x86-64", "cpu-kunpeng-920"]),
    ]

    /// Job `index` of the mix: half list two classes, a quarter must stay on the mainland, a
    /// quarter needs the `gba` data zone, a third each prefer cheapest / greenest / the
    /// default, over four tenants. One unit each; site 0 meets every rule.
    static func spec(_ index: Int) -> JobSpec {
        let classes = index % 2 == 0 ? "cpu-x86-64|cpu-kunpeng-920" : "cpu-x86-64"
        var constraints = PlacementConstraints.none
        switch index % 4 {
        case 1: constraints.residency = "mainland"
        case 3: constraints.dataZone = "gba"
        default: break
        }
        let preference: PlacementPreference? = [nil, .cheapest, .greenest][index % 3]
        return JobSpec(
            name: "placement-\(index)", tenant: TenantID(rawValue: "bench-t\(index % 4)"), command: ["/bin/true"],
            resources: ResourceRequest(classes: ResourceRequest.classes(fromExpression: classes), count: 1, tasks: 1),
            walltimeSeconds: 3600, constraints: constraints, preference: preference)
    }

    struct Result {
        var submitted: Int
        var submitFailures: [String]
        var submitSeconds: Double
        var placedIDs: Int
        var firstAssign: Double
        var lastAssign: Double
        var duplicates: Int
        var coordinatorCPUSeconds: Double
        var coordinatorCPUPercent: Double
        var rssBefore: Int
        var peakRSS: Int
        var peakIsPhase: Bool
        var generatorCPU: Double
        var machineBusy: Double
        var passes: [Int]
        var check: PlacementCheck?
        var sessionFailures: [String]
        var logProblems: [String: Int]
    }

    /// What `GET /v1/jobs` says after every completion was acknowledged.
    struct PlacementCheck {
        var states: [String: Int] = [:]
        var perSite: [String: Int] = [:]
        var perClass: [String: Int] = [:]
        var attemptsAboveOne = 0
        var ruleViolations = 0
        var missing = 0
    }

    func run() async throws {
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-placement")
        defer { work.remove(keep: keep) }
        let result = try await withChildProcesses { reaper in try await measure(reaper: reaper, work: work) }
        print(report(result, filesystem: FileSystemInfo.type(of: work.path)))
    }

    private func measure(reaper: ChildReaper, work: BenchWorkDirectory) async throws -> Result {
        let coordinator = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work.path, label: "coordinator", reportInterval: "1s", reaper: reaper,
            extraArguments: ["--log-level", logLevel])
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let httpClient = APISubmitter.httpClient(concurrency: concurrency)
        var fleet: Task<Void, Never>?
        var states: [JobsSiteState] = []
        do {
            // One admin token per submit in flight: the API rate-limits each token.
            let api = try await APISubmitter(
                client: httpClient, baseURL: "http://127.0.0.1:\(coordinator.apiPort)", runID: runID,
                acceleratorClass: "cpu-x86-64", spec: { Self.spec($0) }, tokens: [coordinator.adminToken()]
            ).withTokens(concurrency)
            // 1. Queue the backlog while no site is connected (not measured).
            let submitStart = ContinuousClock.now
            let submissions = try await api.submitAll(range: 0..<jobs, concurrency: concurrency)
            let submitSeconds = (ContinuousClock.now - submitStart).seconds
            let ids = submissions.compactMap(\.jobID)
            guard !ids.isEmpty else {
                throw BenchError.failed("no submit succeeded: \(submissions.first?.failure ?? "?")")
            }
            try await settle(coordinator)

            // 2. Connect the sites and time the backlog's placement.
            let units = poolUnits ?? jobs
            let assigns = AssignLog()
            states = (0..<sites).map { _ in JobsSiteState() }
            let agents = states.enumerated().map { index, state in
                let shape = Self.shapes[index % Self.shapes.count]
                var site = SimulatedSite(
                    index: index, runID: runID,
                    pools: shape.classes.map {
                        PoolCapacity(acceleratorClass: AcceleratorClass(rawValue: $0), count: units, free: units, simulated: true)
                    })
                site.region = shape.region
                site.zones = shape.zones
                return JobsAgent(
                    site: site, state: state, assigns: assigns,
                    client: MeshClientConfiguration(host: "127.0.0.1", port: coordinator.meshPort), reportInterval: .seconds(1))
            }
            let logOffset = Self.fileSize(coordinator.process.logPath)
            let peakReset = Self.resetPeakRSS(coordinator.pid)
            let coordinatorBefore = ProcessSample.read(coordinator.pid)
            let selfBefore = ProcessSample.read()
            let machineBefore = SystemCPUSample.read()
            let start = ContinuousClock.now
            fleet = Task {
                await withTaskGroup(of: Void.self) { group in
                    for agent in agents { group.addTask { await agent.run() } }
                }
            }
            try await waitUntilAssigned(ids, assigns: assigns, sites: states, coordinator: coordinator)
            let coordinatorAfter = ProcessSample.read(coordinator.pid)
            let selfAfter = ProcessSample.read()
            let machineAfter = SystemCPUSample.read()
            let passes = Self.placedPasses(logPath: coordinator.process.logPath, from: logOffset)

            let times = assigns.times()
            let assigned = ids.compactMap { times[$0] }
            let first = assigned.min().map { ($0 - start).seconds } ?? .nan
            let last = assigned.max().map { ($0 - start).seconds } ?? .nan

            // 3. Check what the coordinator recorded, once every completion is acknowledged.
            var check: PlacementCheck?
            if await waitUntilAcked(states, timeout: .seconds(120)) {
                check = try await verify(ids: Set(ids), api: api)
            }
            let cpuSeconds = (coordinatorAfter?.cpuSeconds ?? .nan) - (coordinatorBefore?.cpuSeconds ?? .nan)
            let result = Result(
                submitted: ids.count, submitFailures: submissions.compactMap(\.failure), submitSeconds: submitSeconds,
                placedIDs: assigned.count, firstAssign: first, lastAssign: last, duplicates: assigns.duplicates,
                coordinatorCPUSeconds: cpuSeconds,
                coordinatorCPUPercent: SessionsRun.cpu(coordinatorBefore, coordinatorAfter),
                rssBefore: coordinatorBefore?.rssBytes ?? 0, peakRSS: coordinatorAfter?.peakRSSBytes ?? 0, peakIsPhase: peakReset,
                generatorCPU: SessionsRun.cpu(selfBefore, selfAfter),
                machineBusy: machineBefore.flatMap { before in machineAfter.map { SystemCPUSample.busyPercent(from: before, to: $0) } } ?? .nan,
                passes: passes, check: check, sessionFailures: states.compactMap(\.failure),
                logProblems: coordinator.logProblems())
            try await httpClient.shutdown()
            await coordinator.process.stop()
            for state in states { state.stop() }
            fleet?.cancel()
            await fleet?.value
            return result
        } catch {
            try? await httpClient.shutdown()
            for state in states { state.stop() }
            fleet?.cancel()
            throw error
        }
    }

    /// Waits until the coordinator has finished with the submits (its CPU time stops moving),
    /// so that the measured phase starts from a quiet process.
    private func settle(_ coordinator: CoordinatorProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var previous = ProcessSample.read(coordinator.pid)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            guard let now = ProcessSample.read(coordinator.pid) else {
                throw BenchError.failed("the coordinator exited:\n\(coordinator.process.logTail())")
            }
            if let before = previous, ProcessSample.cpuPercent(from: before, to: now) < 5 { return }
            previous = now
        }
    }

    private func waitUntilAssigned(_ ids: [String], assigns: AssignLog, sites: [JobsSiteState], coordinator: CoordinatorProcess) async throws {
        let timeout = Duration.seconds(max(120, jobs / 100))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // Counting is O(n) under the log's lock; the figures come from the recorded times,
            // so polling only bounds the CPU sampling window.
            if assigns.count(of: ids) == ids.count { return }
            if let failed = sites.first(where: { $0.phase == .failed }) {
                throw BenchError.failed("a simulated site failed: \(failed.failure ?? "?")")
            }
            if coordinator.process.hasExited { throw BenchError.failed("the coordinator exited:\n\(coordinator.process.logTail())") }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError.failed("\(ids.count - assigns.count(of: ids)) of \(ids.count) jobs were not assigned within \(timeout)")
    }

    private func waitUntilAcked(_ sites: [JobsSiteState], timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if sites.allSatisfy(\.allAcked) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Pages through `GET /v1/jobs` and checks each benchmark job: one attempt, on a site
    /// whose zones meet its rules, in one of its classes.
    private func verify(ids: Set<String>, api: APISubmitter) async throws -> PlacementCheck {
        var check = PlacementCheck()
        var seen = Set<String>()
        for job in try await api.allJobs() where ids.contains(job.id.rawValue) {
            seen.insert(job.id.rawValue)
            check.states[job.state.rawValue, default: 0] += 1
            if job.attempt != 1 { check.attemptsAboveOne += 1 }
            guard let site = job.siteID, let cls = job.placedClass else {
                check.ruleViolations += 1
                continue
            }
            check.perSite[site.rawValue, default: 0] += 1
            check.perClass[cls.rawValue, default: 0] += 1
            let index = Int(site.rawValue.dropFirst("bench-".count)) ?? -1
            let zones = index >= 0 ? Self.shapes[index % Self.shapes.count].zones : []
            let rules = job.spec.constraints
            if !job.spec.resources.classes.contains(cls) || rules.residency.map({ !zones.contains($0) }) == true
                || rules.dataZone.map({ !zones.contains($0) }) == true
            {
                check.ruleViolations += 1
            }
        }
        check.missing = ids.count - seen.count
        return check
    }

    /// The sizes of the scheduler passes logged after `offset` ("placed jobs" at debug level).
    static func placedPasses(logPath: String, from offset: UInt64) -> [Int] {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return [] }
        var counts: [Int] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasSuffix("placed jobs") {
            guard let range = line.range(of: "count=") else { continue }
            if let count = Int(line[range.upperBound...].prefix { $0.isNumber }) { counts.append(count) }
        }
        return counts
    }

    static func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// Resets the process's peak RSS (VmHWM) to its current RSS (`clear_refs` value 5, Linux
    /// 4.0+), so that the peak read later belongs to the measured phase.
    static func resetPeakRSS(_ pid: pid_t) -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/\(pid)/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private func report(_ result: Result, filesystem: String) -> String {
        var out = SectionHeader.text("Placement: a queued backlog through the coordinator")
        func line(_ text: String = "") { out += text + "\n" }
        let span = result.lastAssign
        let rate = Double(result.placedIDs) / span
        let units = poolUnits ?? jobs
        let siteList = (0..<sites).map { index -> String in
            let shape = Self.shapes[index % Self.shapes.count]
            return "\(shape.region) [\(shape.zones.joined(separator: ", "))]: \(shape.classes.map { "`\($0)`" }.joined(separator: " + "))"
        }
        line(
            "\(Format.grouped(Double(result.submitted))) jobs of 1 unit are POSTed to `/v1/jobs` (\(concurrency) in flight, \(Format.fixed(result.submitSeconds, 1)) s, not measured) while no site is connected, so they all wait in the queue, durably committed (SQLite WAL, synchronous=FULL; data directory on \(filesystem)). The mix: half accept `cpu-x86-64|cpu-kunpeng-920`, the rest `cpu-x86-64`; a quarter `residency = mainland`, a quarter `data_zone = gba`; preference cheapest, greenest or default by thirds; four tenants. Once the coordinator is idle, \(sites) simulated sites (own HTTP/2 session each, the real mesh protocol) connect at once, each with pools of \(Format.grouped(Double(units))) units: \(siteList.joined(separator: "; ")). Each scheduler pass commits its placements in one transaction before the JobAssigns go out. A site answers each JobAssign at once with RUNNING, SUCCEEDED and a usage record (reliable, seq'd), so the coordinator also applies those during the measured phase."
        )
        line()
        line("| jobs | sites | placements/s | first assign ms | last assign s | passes (largest) | coordinator CPU s | coordinator CPU % | coordinator RSS MiB before → peak | generator CPU % | machine busy % | other processes CPU % | duplicate assigns |")
        line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        let passes = result.passes.isEmpty ? "–" : "\(result.passes.count) (\(Format.grouped(Double(result.passes.max() ?? 0))))"
        line(
            "| \(Format.grouped(Double(result.submitted))) | \(sites) | \(Format.grouped(rate)) | \(Format.ms(result.firstAssign * 1000)) | \(Format.fixed(span, 2)) | \(passes) | \(Format.fixed(result.coordinatorCPUSeconds, 2)) | \(Format.fixed(result.coordinatorCPUPercent, 0)) | \(Format.mib(result.rssBefore)) → \(Format.mib(result.peakRSS)) | \(Format.fixed(result.generatorCPU, 0)) | \(Format.fixed(result.machineBusy, 0)) | \(Format.fixed(OtherLoad.percent(machineBusy: result.machineBusy, coordinator: result.coordinatorCPUPercent, generator: result.generatorCPU), 0)) | \(result.duplicates) |"
        )
        line()
        let met = rate >= 5000 ? "met" : "not met"
        line(
            "**\(Format.grouped(rate)) placements/s** end to end (goal ≥ 5,000/s on 2 cores: \(met)); for scale, Nomad's C1M placed about 3,750 containers/s on 5 servers and C2M about 1,500/s, and kube-scheduler places 100–300 pods/s."
        )
        line()
        line(
            "Columns: the clock starts when the sites begin to connect (session setup, Hello/Welcome and the site's first capacity report are inside *first assign*); *placements/s* = jobs assigned ÷ (last JobAssign received − start); *passes* = the coordinator's \"placed jobs\" debug lines in the phase (\(result.passes.isEmpty ? "none found: run with --log-level debug" : "placements per pass: " + result.passes.prefix(12).map { Format.grouped(Double($0)) }.joined(separator: ", ") + (result.passes.count > 12 ? ", …" : ""))); CPU % is of one core (the machine has \(BenchMachine.current().cores)) over the phase; *peak RSS* is VmHWM \(result.peakIsPhase ? "reset at the start of the phase (clear_refs)" : "since the coordinator started (it could not be reset)"); *generator* = this process (HTTP client and simulated sites), on the same cores; *machine busy* = all cores; *other processes* = machine busy (as % of one core) minus coordinator and generator."
        )
        line()
        var notes: [String] = []
        if let check = result.check {
            let states = check.states.sorted { $0.key < $1.key }.map { "\(Format.grouped(Double($0.value))) \($0.key)" }.joined(separator: ", ")
            let perSite = check.perSite.sorted { $0.key < $1.key }.map { "\($0.key) \(Format.grouped(Double($0.value)))" }.joined(separator: ", ")
            let perClass = check.perClass.sorted { $0.key < $1.key }.map { "`\($0.key)` \(Format.grouped(Double($0.value)))" }.joined(separator: ", ")
            notes.append(
                "After every completion was acknowledged, `GET /v1/jobs` shows \(states); \(check.attemptsAboveOne) jobs with more than one attempt, \(check.ruleViolations) placed against their class or zone rules, \(check.missing) missing. Per site: \(perSite). Per class: \(perClass)."
            )
        } else {
            notes.append("The coordinator had not acknowledged every completion 120 s after the last assignment; placements were not checked.")
        }
        if !result.submitFailures.isEmpty {
            var kinds: [String: Int] = [:]
            for failure in result.submitFailures { kinds[String(failure.prefix(140)), default: 0] += 1 }
            notes.append("Failed submits (left out): " + kinds.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value) × \($0.key)" }.joined(separator: "; "))
        }
        for failure in result.sessionFailures { notes.append("Site session failed: \(failure)") }
        if !result.logProblems.isEmpty {
            notes.append("Coordinator log: " + result.logProblems.sorted { $0.value > $1.value }.prefix(4).map { "\($0.value) × `\($0.key)`" }.joined(separator: "; "))
        }
        for note in notes { line("- \(note)") }
        return out
    }
}
