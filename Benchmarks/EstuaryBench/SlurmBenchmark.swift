import ArgumentParser
import AsyncHTTPClient
import EstuaryModel
import Foundation

/// Jobs onto a real Slurm: plain `sbatch` in a loop against jobs submitted to a real coordinator
/// and placed on a real estuary-agent with the `slurm` driver, in one run; then the agent's RSS
/// and CPU while it tracks the 1,000 (`--jobs`) queued Slurm jobs. Needs the one-host Slurm of
/// `scripts/slurm-one-host.sh` (its `down` partition keeps every job queued, so nothing runs
/// and both paths measure submission only). Prints one Markdown section.
struct SlurmBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Jobs/s onto a real Slurm through estuary-agent versus an sbatch loop; agent footprint with the jobs queued."
    )

    @Option(help: "Path of a release estuary-coordinator binary.") var coordinatorBin: String
    @Option(help: "Path of a release estuary-agent binary.") var agentBin: String
    @Option(help: "Jobs per path (the agent then tracks this many queued Slurm jobs).") var jobs = 1000
    @Option(help: "A partition that queues jobs without running them (State=DOWN).") var partition = "down"
    @Option(help: "The agent's [driver.slurm] poll_interval while it tracks the queued jobs.") var pollInterval = "5s"
    @Option(help: "Sampling window for the tracking phase, e.g. 60s.") var duration = "60s"
    @Option(help: "Directory under which the data directories are created (default: $TMPDIR or /tmp).") var workRoot: String?
    @Flag(help: "Keep the data directories and logs.") var keep = false

    static let siteID = "slurm-bench"

    func run() async throws {
        guard let window = DurationFlag.parse(duration) else { throw ValidationError("--duration: expected e.g. 60s") }
        guard Self.slurm(["sinfo", "-h", "-p", partition, "-o", "%a"]) == "down\n" else {
            throw BenchError.setup("partition \(partition) must exist and be down (scripts/slurm-one-host.sh makes one)")
        }
        cancelBenchJobs()
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-slurm")
        defer {
            cancelBenchJobs()
            work.remove(keep: keep)
        }
        let loop = try sbatchLoop()
        cancelBenchJobs()
        let result = try await withChildProcesses { reaper in
            try await throughAgent(reaper: reaper, work: work.path, window: window)
        }
        print(report(loop: loop, agent: result, window: window))
    }

    // MARK: plain sbatch

    struct Loop {
        var seconds: Double
        var failures: Int
    }

    /// `jobs` × `sbatch --parsable -p down --wrap /bin/true`, one after the other, as a script would.
    private func sbatchLoop() throws -> Loop {
        let started = ContinuousClock.now
        var failures = 0
        for index in 0..<jobs {
            if Self.slurm(["sbatch", "--parsable", "-p", partition, "-J", "bench-loop-\(index)", "-o", "/dev/null", "--wrap", "/bin/true"]) == nil {
                failures += 1
            }
        }
        return Loop(seconds: (ContinuousClock.now - started).seconds, failures: failures)
    }

    // MARK: through the agent

    struct AgentRun {
        var submitSeconds: Double
        /// From the first API submit until squeue lists every job.
        var queuedSeconds: Double
        var queuedJobs: Int
        var samples: [ProcessSample]
        var agentLogWarnings: Int
    }

    private func throughAgent(reaper: ChildReaper, work: String, window: Duration) async throws -> AgentRun {
        let coordinator = try await CoordinatorProcess.start(
            binary: coordinatorBin, workDirectory: work, label: "coordinator", reportInterval: "5s", reaper: reaper)
        let agentData = (work as NSString).appendingPathComponent("agent")
        try FileManager.default.createDirectory(atPath: agentData, withIntermediateDirectories: true)
        let profile = (work as NSString).appendingPathComponent("slurm-site.toml")
        try profileText(coordinatorPort: coordinator.meshPort).write(toFile: profile, atomically: true, encoding: .utf8)
        let agent = try ChildProcess.spawn(
            agentBin,
            arguments: ["run", "--profile", profile, "--data-dir", agentData, "--coordinator", "127.0.0.1:\(coordinator.meshPort)", "--insecure-dev"],
            logPath: agentData + ".log", reaper: reaper)

        var http = HTTPClient.Configuration()
        http.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        do {
            let run = try await drive(client: client, coordinator: coordinator, agent: agent, window: window)
            try await client.shutdown()
            return run
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func drive(client: HTTPClient, coordinator: CoordinatorProcess, agent: ChildProcess, window: Duration) async throws -> AgentRun {
        var api = try APISubmitter(
            client: client, baseURL: "http://127.0.0.1:\(coordinator.apiPort)", runID: "slurm", acceleratorClass: "cpu-x86-64",
            tokens: [coordinator.adminToken()])
        api = try await api.withTokens(8)
        try await api.waitUntilConnected(site: Self.siteID, agent: agent)

        let started = ContinuousClock.now
        let submissions = try await api.submitAll(range: 0..<jobs, concurrency: 16)
        let submitted = ContinuousClock.now
        if let failure = submissions.first(where: { $0.failure != nil })?.failure {
            throw BenchError.failed("a submission failed: \(failure)")
        }
        var queued = 0
        while true {
            queued = countAgentJobs()
            if queued >= jobs { break }
            if agent.hasExited { throw BenchError.failed("estuary-agent exited while submitting:\n\(agent.logTail())") }
            if ContinuousClock.now - started > .seconds(600) {
                throw BenchError.failed("only \(queued) of \(jobs) jobs reached Slurm in 600 s:\n\(agent.logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let allQueued = ContinuousClock.now

        // Tracking: every job pending in Slurm, the agent polls squeue every poll_interval.
        try await Task.sleep(for: .seconds(5))
        let samples = try await ProcessSample.everySecond(of: agent, for: window, what: "tracking its queued jobs")
        let log = (try? String(contentsOfFile: agent.logPath, encoding: .utf8)) ?? ""
        await agent.stop()
        return AgentRun(
            submitSeconds: (submitted - started).seconds, queuedSeconds: (allQueued - started).seconds, queuedJobs: queued,
            samples: samples,
            agentLogWarnings: log.split(separator: "\n").filter { ($0.contains(" warning ") || $0.contains(" error ")) && !$0.contains("CLEARTEXT") }.count)
    }

    private func profileText(coordinatorPort: Int) -> String {
        """
        # Written by estuary-bench slurm: a Slurm site whose pool is a down partition, so that
        # every job stays queued.
        [site]
        id = "\(Self.siteID)"
        display_name = "Slurm benchmark site"
        region = "benchmark"
        driver = "slurm"

        [coordinator]
        address = "127.0.0.1:\(coordinatorPort)"
        insecure_dev = true

        [[pools]]
        class = "cpu-x86-64"
        count = \(jobs * 2)
        partition = "\(partition)"

        [driver.slurm]
        accounting = "jobcomp"
        capacity = "pool"                # every job goes to Slurm's queue, however busy the node
        poll_interval = "\(pollInterval)"
        unrunnable_grace = "24h"

        """
    }

    /// Slurm jobs the agent submitted (named `estuary-…`).
    private func countAgentJobs() -> Int {
        (Self.slurm(["squeue", "-h", "-p", partition, "-o", "%j"]) ?? "").split(separator: "\n").filter { $0.hasPrefix("estuary-") }.count
    }

    private func cancelBenchJobs() {
        _ = Self.slurm(["scancel", "--partition=\(partition)"])
    }

    /// Runs a Slurm command; its stdout, or nil when it failed.
    static func slurm(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    // MARK: report

    private func report(loop: Loop, agent: AgentRun, window: Duration) -> String {
        let version = (Self.slurm(["sinfo", "--version"]) ?? "slurm ?").trimmingCharacters(in: .whitespacesAndNewlines)
        var out = SectionHeader.text("Slurm: jobs onto a real Slurm, and an agent tracking \(jobs) queued jobs")
        func line(_ text: String = "") { out += text + "\n" }
        let loopRate = Double(jobs) / loop.seconds
        let agentRate = Double(jobs) / agent.queuedSeconds
        line(
            "\(version), one host (`scripts/slurm-one-host.sh`: slurmctld, slurmd and munged on this machine). Both paths submit \(jobs) one-core jobs to the `\(partition)` partition (State=DOWN), so every job stays queued and only submission is measured. The loop runs `sbatch --parsable -p \(partition) -J … --wrap /bin/true` one after another. The agent path submits the jobs to a real coordinator (`POST /v1/jobs`, 16 in flight); the coordinator places them on a real `estuary-agent` with the `slurm` driver, which writes each job's batch script and directory and runs `sbatch`. Its time runs from the first API request until `squeue` lists all \(jobs) jobs.")
        line()
        line("| path | jobs | seconds | jobs/s |")
        line("|---|---:|---:|---:|")
        line("| plain `sbatch` loop | \(jobs) | \(Format.fixed(loop.seconds, 2)) | \(Format.fixed(loopRate, 0)) |")
        line("| API → coordinator → estuary-agent → `sbatch` | \(agent.queuedJobs) | \(Format.fixed(agent.queuedSeconds, 2)) | \(Format.fixed(agentRate, 0)) |")
        line()
        line("The API accepted all \(jobs) submissions in \(Format.fixed(agent.submitSeconds, 2)) s. Failed loop submissions: \(loop.failures).")
        line()
        if let first = agent.samples.first, let last = agent.samples.last {
            let rss = agent.samples.map(\.rssBytes)
            let cpu = ProcessSample.cpuPercent(from: first, to: last)
            line(
                "Then the agent tracks the \(jobs) queued jobs (`poll_interval = \"\(pollInterval)\"`: one `squeue` of the user's jobs per interval). Sampled once a second for \(Format.fixed((last.at - first.at).seconds, 0)) s from /proc, starting 5 s after the last job was queued:")
            line()
            let wall = (last.at - first.at).seconds
            let children = last.childrenCPUSeconds - first.childrenCPUSeconds
            line("| estuary-agent | RSS MiB (mean) | RSS MiB (max) | peak RSS (VmHWM) MiB | threads | agent CPU s | agent CPU % of one core | its squeue/sacct children, CPU % |")
            line("|---|---:|---:|---:|---:|---:|---:|---:|")
            line(
                "| tracking \(jobs) queued Slurm jobs | \(Format.mib(rss.reduce(0, +) / rss.count)) | \(Format.mib(rss.max() ?? 0)) | \(Format.mib(last.peakRSSBytes)) | \(last.threads) | \(Format.fixed(last.cpuSeconds - first.cpuSeconds, 2)) | \(Format.fixed(cpu, 2)) | \(Format.fixed(wall > 0 ? children / wall * 100 : 0, 2)) |")
            line()
            line("Agent CPU is the agent's own (utime + stime): running the commands, parsing their output, bookkeeping. The commands' own CPU is the last column (the agent's reaped children, cutime + cstime). Peak RSS covers the submission phase too.")
        }
        if agent.agentLogWarnings > 0 { line("- The agent logged \(agent.agentLogWarnings) warning/error lines.") }
        return out
    }
}
