#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation

/// A set of gossiping processes on loopback that the gossip benchmark can change and kill.
protocol GossipCluster: AnyObject, Sendable {
    var name: String { get }
    var members: Int { get }
    var trafficPorts: (udp: [Int], tcp: [Int]) { get }
    var memberPIDs: [pid_t] { get }
    func start() async throws
    func waitUntilAllAlive(timeout: Duration) async throws
    /// Local TCP ports of sessions that are not gossip (left out of the byte counts).
    func excludedTCPPorts() -> [Int]
    /// Makes change number `trial` at one member and waits until every other member saw it.
    func change(trial: Int, timeout: Duration) async throws -> GossipTrial
    /// Kills one member with SIGKILL and waits until every live member marked it failed.
    func kill(trial: Int, timeout: Duration) async throws -> GossipTrial
    /// Starts the member killed in `trial` again and waits until all are alive.
    func revive(after trial: GossipTrial, timeout: Duration) async throws
    func stop() async
}

/// Issue #7: Estuary's coordinator gossip against HashiCorp Serf with the same number of
/// members on loopback: how fast one change reaches every member, how fast a killed member is
/// marked failed (first and last live member), and the steady-state bytes per second per
/// member. Prints one Markdown section.
struct GossipSerfBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip-serf",
        abstract: "Gossip convergence, failure detection and bandwidth: Estuary coordinators against Serf agents."
    )

    @Option(help: "Members of each cluster.") var members = 50
    @Option(help: "Changes and kills measured per system (each).") var trials = 5
    @Option(help: "Comma-separated systems to run: serf, estuary.") var systems = "serf,estuary"
    @Option(help: "Wait after all members are alive (at start and after a killed member is back) before measuring.") var settle = "10s"
    @Option(help: "Steady-state window for bytes/s, with no changes.") var window = "60s"
    @Option(help: "Pause between changes.") var pause = "2s"
    @Option(help: "Give up on one change after this long.") var changeTimeout = "60s"
    @Option(help: "Give up on one failure detection after this long.") var killTimeout = "120s"
    @Option(help: "The serf binary (Debian package serf).") var serfBin = "serf"
    @Option(help: "First Serf bind port; member i binds base+i (UDP and TCP), RPC on base+1000+i.") var serfPortBase = 24_000
    @Option(help: "Path of a release estuary-coordinator binary (needed for --systems estuary).") var coordinatorBin: String?
    @Option(help: "First Estuary mesh port; member i listens on base+i.") var estuaryPortBase = 26_000
    @Option(help: "Directory under which the data directories are created (default: $TMPDIR or /tmp).") var workRoot: String?
    @Flag(help: "Keep the data directories, logs and event files.") var keep = false

    struct Timing {
        var settle: Duration
        var window: Duration
        var pause: Duration
        var change: Duration
        var kill: Duration
    }

    var chosenSystems: [String] { systems.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }

    func validate() throws {
        guard members >= 3, trials >= 1 else { throw ValidationError("--members must be at least 3 and --trials at least 1") }
        for (flag, value) in [("--settle", settle), ("--window", window), ("--pause", pause), ("--change-timeout", changeTimeout), ("--kill-timeout", killTimeout)] {
            guard DurationFlag.parse(value) != nil else { throw ValidationError("\(flag): expected a duration such as 10s") }
        }
        guard !chosenSystems.isEmpty, chosenSystems.allSatisfy({ ["serf", "estuary"].contains($0) }) else {
            throw ValidationError("--systems: a comma-separated list of serf and estuary")
        }
        if chosenSystems.contains("estuary"), coordinatorBin == nil {
            throw ValidationError("--coordinator-bin is needed for --systems estuary")
        }
        guard members <= 1000 else { throw ValidationError("--members: at most 1000 (the port layout)") }
    }

    func run() async throws {
        let timing = Timing(
            settle: DurationFlag.parse(settle)!, window: DurationFlag.parse(window)!, pause: DurationFlag.parse(pause)!,
            change: DurationFlag.parse(changeTimeout)!, kill: DurationFlag.parse(killTimeout)!)
        guard geteuid() == 0 else { throw BenchError.setup("gossip-serf counts bytes with nftables and must run as root") }
        let work = try BenchWorkDirectory.make(root: workRoot, prefix: "estuary-bench-gossip")
        defer { work.remove(keep: keep) }
        var results: [GossipSystemResult] = []
        var failures: [(String, String)] = []
        for system in chosenSystems {
            let directory = (work.path as NSString).appendingPathComponent(system)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            do {
                let result = try await withChildProcesses { reaper in
                    reaper.onInterrupt { LoopbackTrafficCounter.remove() }
                    let cluster: any GossipCluster
                    var notes: [String] = []
                    if system == "serf" {
                        let serf = try SerfCluster(members: members, basePort: serfPortBase, binary: Self.resolve(serfBin), work: directory, reaper: reaper)
                        notes.append(serf.version)
                        let startup = LatencySummary(milliseconds: serf.handlerStartupMilliseconds())
                        notes.append("handler start-up (`/bin/sh -c` + `date`, spawned from the benchmark 20 times): p50 \(Format.ms(startup.p50)) ms, max \(Format.ms(startup.max)) ms")
                        cluster = serf
                    } else {
                        cluster = EstuaryCluster(members: members, basePort: estuaryPortBase, binary: coordinatorBin!, work: directory, reaper: reaper)
                    }
                    var result = try await measure(cluster, timing: timing)
                    result.notes = notes + result.notes
                    return result
                }
                results.append(result)
            } catch {
                LoopbackTrafficCounter.remove()
                FileHandle.standardError.write(Data("estuary-bench gossip-serf: \(system) failed: \(error)\n".utf8))
                failures.append((system, "\(error)"))
            }
        }
        print(GossipReport(members: members, trials: trials, timing: timing, results: results, failures: failures).markdown, terminator: "")
        if !failures.isEmpty { throw ExitCode(1) }
    }

    static func resolve(_ binary: String) throws -> String {
        if binary.contains("/") { return binary }
        let found = ExternalCommand.run(["sh", "-c", "command -v \(binary)"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !found.isEmpty else { throw BenchError.setup("\(binary) is not installed (Debian package serf; Benchmarks/run.sh installs it)") }
        return found
    }

    private func measure(_ cluster: any GossipCluster, timing: Timing) async throws -> GossipSystemResult {
        do {
            let result = try await measureStarted(cluster, timing: timing)
            await cluster.stop()
            return result
        } catch {
            LoopbackTrafficCounter.remove()
            await cluster.stop()
            throw error
        }
    }

    private func measureStarted(_ cluster: any GossipCluster, timing: Timing) async throws -> GossipSystemResult {
        let began = ContinuousClock.now
        try await cluster.start()
        try await cluster.waitUntilAllAlive(timeout: .seconds(300))
        var result = GossipSystemResult(name: cluster.name, members: cluster.members)
        result.formedSeconds = (ContinuousClock.now - began).seconds
        try await Task.sleep(for: timing.settle)

        // Steady state: bytes, CPU and memory, with no changes.
        let ports = cluster.trafficPorts
        let counter = try LoopbackTrafficCounter.install(udpPorts: ports.udp, tcpPorts: ports.tcp)
        let excluded = cluster.excludedTCPPorts()
        for port in excluded { try counter.exclude(tcpPort: port) }
        if !excluded.isEmpty { result.notes.append("left out of the byte counts: the simulated site's session (local TCP port \(excluded.map(String.init).joined(separator: ", ")))") }
        let pids = cluster.memberPIDs
        let before = try counter.read()
        let samplesBefore = pids.map { ProcessSample.read($0) }
        let machineBefore = SystemCPUSample.read()
        let selfBefore = ProcessSample.read()
        try await Task.sleep(for: timing.window)
        let after = try counter.read()
        let samplesAfter = pids.map { ProcessSample.read($0) }
        let machineAfter = SystemCPUSample.read()
        let selfAfter = ProcessSample.read()
        if let selfBefore, let selfAfter { result.benchCPUPercent = ProcessSample.cpuPercent(from: selfBefore, to: selfAfter) }
        LoopbackTrafficCounter.remove()
        let seconds = (after.at - before.at).seconds
        result.windowSeconds = seconds
        result.bytesPerSecondPerMember = Double(after.bytes - before.bytes) / seconds / Double(cluster.members)
        result.packetsPerSecondPerMember = Double(after.udpPackets + after.tcpPackets - before.udpPackets - before.tcpPackets) / seconds / Double(cluster.members)
        result.udpBytesShare = after.bytes > before.bytes ? Double(after.udpBytes - before.udpBytes) / Double(after.bytes - before.bytes) : 0
        result.cpuPercent = zip(samplesBefore, samplesAfter).compactMap { pair in pair.0.flatMap { start in pair.1.map { ProcessSample.cpuPercent(from: start, to: $0) } } }
        result.rssBytes = samplesAfter.compactMap { $0?.rssBytes }
        if let machineBefore, let machineAfter { result.machineBusyPercent = SystemCPUSample.busyPercent(from: machineBefore, to: machineAfter) }

        // One change at a time, each waited for everywhere.
        for trial in 0..<trials {
            result.trials.append(try await cluster.change(trial: trial, timeout: timing.change))
            try await Task.sleep(for: timing.pause)
        }
        // One kill at a time; the member comes back and the mesh settles before the next.
        for trial in 0..<trials {
            let killed = try await cluster.kill(trial: trial, timeout: timing.kill)
            result.trials.append(killed)
            try await cluster.revive(after: killed, timeout: .seconds(300))
            try await Task.sleep(for: timing.settle)
        }
        return result
    }
}

/// What one system measured.
struct GossipSystemResult {
    var name: String
    var members: Int
    var formedSeconds = 0.0
    var windowSeconds = 0.0
    var bytesPerSecondPerMember = 0.0
    var packetsPerSecondPerMember = 0.0
    var udpBytesShare = 0.0
    var cpuPercent: [Double] = []
    var rssBytes: [Int] = []
    var machineBusyPercent = Double.nan
    /// The benchmark process itself (and, for Estuary, the simulated site) over the window.
    var benchCPUPercent = 0.0
    var trials: [GossipTrial] = []
    var notes: [String] = []
}
