import ArgumentParser
import AsyncHTTPClient
import EstuaryModel
import Foundation

/// The idle cost of one real estuary-agent: memory and CPU while connected to a real
/// coordinator with no jobs. Prints one Markdown section.
struct AgentFootprintBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-footprint",
        abstract: "Measure an idle, connected estuary-agent's RSS and CPU."
    )

    @Option(help: "Path of a release estuary-coordinator binary.")
    var coordinatorBin: String

    @Option(help: "Path of a release estuary-agent binary.")
    var agentBin: String

    @Option(help: "Sampling window once the site is connected, e.g. 60s.")
    var duration: String = "60s"

    @Option(help: "Wait after the site shows as connected before sampling starts.")
    var settle: String = "5s"

    @Option(help: "Capacity report interval the coordinator asks for (its --report-interval).")
    var reportInterval: String = "5s"

    @Option(help: "Directory under which the data directories are created (default: $TMPDIR or /tmp).")
    var workRoot: String?

    @Flag(help: "Keep the data directories and logs.")
    var keep = false

    func validate() throws {
        guard let window = DurationFlag.parse(duration), window >= .seconds(1) else { throw ValidationError("--duration: expected e.g. 60s") }
        guard DurationFlag.parse(settle) != nil else { throw ValidationError("--settle: expected e.g. 5s") }
        _ = window
    }

    struct Result {
        var connectSeconds: Double
        var samples: [ProcessSample]
        var coordinatorStart: ProcessSample?
        var coordinatorEnd: ProcessSample?
        var agentLogWarnings: Int
        var agentLogLines: Int
        var mappings: [(name: String, rssBytes: Int)]
    }

    func run() async throws {
        let window = DurationFlag.parse(duration)!
        let settleTime = DurationFlag.parse(settle)!
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-footprint")
        defer { work.remove(keep: keep) }
        let result = try await withChildProcesses { reaper in
            try await measure(reaper: reaper, work: work.path, window: window, settle: settleTime)
        }
        print(report(result, window: window, settle: settleTime))
    }

    private func measure(reaper: ChildReaper, work: String, window: Duration, settle: Duration) async throws -> Result {
        let coordinator = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work, label: "coordinator", reportInterval: reportInterval, reaper: reaper)
        let agentData = (work as NSString).appendingPathComponent("agent")
        try FileManager.default.createDirectory(atPath: agentData, withIntermediateDirectories: true)
        let profile = (work as NSString).appendingPathComponent("footprint-site.toml")
        try Self.profile(coordinatorPort: coordinator.meshPort).write(toFile: profile, atomically: true, encoding: .utf8)

        let started = ContinuousClock.now
        let agent = try ChildProcess.spawn(
            agentBin,
            arguments: [
                "run", "--profile", profile, "--data-dir", agentData, "--coordinator", "127.0.0.1:\(coordinator.meshPort)",
                "--insecure-dev",
            ],
            logPath: agentData + ".log", reaper: reaper)

        var http = HTTPClient.Configuration()
        http.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        let api = try APISubmitter(client: client, baseURL: "http://127.0.0.1:\(coordinator.apiPort)", runID: "", acceleratorClass: "", tokens: [coordinator.adminToken()])
        do {
            try await api.waitUntilConnected(site: Self.siteID, agent: agent)
            let connectSeconds = (ContinuousClock.now - started).seconds
            try await client.shutdown()
            try await Task.sleep(for: settle)

            // One sample a second: RSS varies little when idle, CPU is the difference of the ends.
            let coordinatorStart = ProcessSample.read(coordinator.pid)
            let samples = try await ProcessSample.everySecond(of: agent, for: window, what: "being sampled")
            let coordinatorEnd = ProcessSample.read(coordinator.pid)
            let mappings = MappingBreakdown.read(agent.pid)
            let log = (try? String(contentsOfFile: agent.logPath, encoding: .utf8)) ?? ""
            let lines = log.split(separator: "\n")
            await agent.stop()
            return Result(
                connectSeconds: connectSeconds, samples: samples, coordinatorStart: coordinatorStart, coordinatorEnd: coordinatorEnd,
                agentLogWarnings: lines.filter { $0.contains(" warning ") || $0.contains(" error ") }.count, agentLogLines: lines.count,
                mappings: mappings)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static let siteID = "footprint-bench"

    static func profile(coordinatorPort: Int) -> String {
        """
        # Written by estuary-bench agent-footprint: one simulated CPU pool, no jobs.
        [site]
        id = "\(siteID)"
        display_name = "Agent footprint benchmark (simulated)"
        region = "benchmark"
        zones = ["gba"]
        driver = "process"

        [coordinator]
        address = "127.0.0.1:\(coordinatorPort)"
        insecure_dev = true

        [[pools]]
        class = "cpu-x86-64"
        count = 64
        simulated = true

        [driver.process]
        max_concurrent_jobs = 8

        """
    }

    private func report(_ result: Result, window: Duration, settle: Duration) -> String {
        var out = SectionHeader.text("Agent footprint: one idle agent")
        func line(_ text: String = "") { out += text + "\n" }
        let samples = result.samples
        guard let first = samples.first, let last = samples.last else { return "## Agent footprint\n\nNo samples.\n" }
        let rss = samples.map(\.rssBytes)
        let meanRSS = rss.reduce(0, +) / rss.count
        let cpu = ProcessSample.cpuPercent(from: first, to: last)
        let cpuSeconds = last.cpuSeconds - first.cpuSeconds
        let rssGoal = Double(meanRSS) / 1_048_576 < 15
        line(
            "One real `estuary-agent` (`\(agentBin)`) with a one-pool profile (64 × `cpu-x86-64`, simulated, `process` driver) connected to a real coordinator on loopback (`--report-interval \(reportInterval)`), no jobs. Sampling starts \(Format.fixed(settle.seconds, 0)) s after `GET /v1/sites` shows the site `connected` and reads /proc/<pid>/status and /proc/<pid>/stat once a second for \(Format.fixed((last.at - first.at).seconds, 0)) s. CPU % is of one core: (utime + stime) difference ÷ wall time, clock-tick resolution 10 ms."
        )
        line()
        line("| process | RSS MiB (mean) | RSS MiB (max) | peak RSS (VmHWM) MiB | anonymous MiB | file-backed MiB | threads | CPU s in window | CPU % of one core |")
        line("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        line(
            "| estuary-agent | \(Format.mib(meanRSS)) | \(Format.mib(rss.max() ?? 0)) | \(Format.mib(last.peakRSSBytes)) | \(Format.mib(last.anonymousBytes)) | \(Format.mib(last.fileBytes)) | \(last.threads) | \(Format.fixed(cpuSeconds, 2)) | \(Format.fixed(cpu, 2)) |"
        )
        if let start = result.coordinatorStart, let end = result.coordinatorEnd {
            line(
                "| estuary-coordinator (reference, 1 site) | \(Format.mib(end.rssBytes)) | – | \(Format.mib(end.peakRSSBytes)) | \(Format.mib(end.anonymousBytes)) | \(Format.mib(end.fileBytes)) | \(end.threads) | \(Format.fixed(end.cpuSeconds - start.cpuSeconds, 2)) | \(Format.fixed(ProcessSample.cpuPercent(from: start, to: end), 2)) |"
            )
        }
        line()
        line(
            "**Idle agent: \(Format.mib(meanRSS)) MiB RSS, \(Format.fixed(cpu, 2)) % of one core** (goal: < 15 MB and < 1 % of a core: memory \(rssGoal ? "met" : "not met"), CPU \(cpu < 1 ? "met" : "not met")). The site showed as connected \(Format.fixed(result.connectSeconds, 2)) s after the agent was started."
        )
        line()
        line(
            "*File-backed* RSS is the mapped binary and shared libraries (Swift runtime, Foundation) that the agent touched; it is shared with other processes mapping the same files, while *anonymous* RSS (heap, stacks) is the agent's own. MB here are MiB (2^20 bytes)."
        )
        if !result.mappings.isEmpty {
            line()
            line("Where the agent's resident memory is, by mapping (from /proc/<pid>/smaps at the end of the window):")
            line()
            line("| mapping | RSS MiB |")
            line("|---|---:|")
            let top = result.mappings.prefix(8)
            for mapping in top { line("| `\(mapping.name)` | \(Format.fixed(Double(mapping.rssBytes) / 1_048_576, 2)) |") }
            let rest = result.mappings.dropFirst(top.count).reduce(0) { $0 + $1.rssBytes }
            if rest > 0 { line("| \(result.mappings.count - top.count) other mappings | \(Format.fixed(Double(rest) / 1_048_576, 2)) |") }
            line()
        }
        if result.agentLogWarnings > 0 {
            line("- The agent logged \(result.agentLogWarnings) warning/error lines (of \(result.agentLogLines)); the cleartext warning is expected.")
        }
        return out
    }
}
