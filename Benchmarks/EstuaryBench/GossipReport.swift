import Foundation

/// The Markdown section of `gossip-serf`.
struct GossipReport {
    let members: Int
    let trials: Int
    let timing: GossipSerfBenchmark.Timing
    let results: [GossipSystemResult]
    let failures: [(String, String)]

    /// Per trial and source: last and first arrival after the start, in ms; nil when some
    /// member never saw it within the timeout.
    struct Spread {
        var last: Double?
        var first: Double?
        var seen: Int
        var expected: Int
    }

    static func spread(_ trial: GossipTrial, source: String, from origin: Bool = false) -> Spread? {
        guard let arrivals = trial.arrivals[source] else { return nil }
        let start = origin ? (trial.originMs[source] ?? .nan) : trial.startMs
        let times = arrivals.values.map { $0 - start }
        return Spread(
            last: arrivals.count == trial.expected ? times.max() : nil, first: times.min(), seen: arrivals.count, expected: trial.expected)
    }

    /// Sources and what they mean, per system.
    static func sources(_ system: String) -> [(key: String, label: String)] {
        system == "Serf"
            ? [("log", "agent log line (read from its pipe, stamped on arrival)"), ("handler", "event handler (coalesced by the agent, then `/bin/sh`)")]
            : [("log", "coordinator log line (`at_ms`)")]
    }

    var markdown: String {
        var out = SectionHeader.text("Gossip: Estuary coordinators against Serf, \(members) members on loopback")
        func line(_ text: String = "") { out += text + "\n" }
        line(
            "Each system runs \(members) real member processes on 127.0.0.1 (Serf: `serf agent`, default LAN profile, all joining member 0; Estuary: `estuary-coordinator run`, mesh over HTTP/2 with mutual TLS, seeded with member 0). Once every member lists all \(members) alive and \(Format.fixed(timing.settle.seconds, 0)) s have passed: a **steady-state window** of \(Format.fixed(timing.window.seconds, 0)) s with no changes (bytes, CPU, memory), then \(trials) **changes** one after another (Serf: `serf tags -set cap=…` on one member; Estuary: a simulated site on member 0 reports a new free capacity), each waited for at every other member, then \(trials) **kills** (`kill -9` of one member; it is started again and the mesh settles before the next)."
        )
        line()
        line("| system | timing source | change → every other member p50 ms | max ms | same, from the origin's own event p50 ms | kill → first member marks it failed p50 ms | max ms | kill → every live member p50 ms | max ms | complete trials |")
        line("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for result in results {
            for (key, label) in Self.sources(result.name) {
                let changes = result.trials.filter { $0.kind == .change }.compactMap { Self.spread($0, source: key) }
                let fromOrigin = result.trials.filter { $0.kind == .change }.compactMap { Self.spread($0, source: key, from: true) }
                let kills = result.trials.filter { $0.kind == .kill }.compactMap { Self.spread($0, source: key) }
                let change = LatencySummary(milliseconds: changes.compactMap(\.last))
                let origin = LatencySummary(milliseconds: fromOrigin.compactMap(\.last).filter { !$0.isNaN })
                let first = LatencySummary(milliseconds: kills.compactMap(\.first))
                let all = LatencySummary(milliseconds: kills.compactMap(\.last))
                let complete = changes.filter { $0.last != nil }.count + kills.filter { $0.last != nil }.count
                line(
                    "| \(result.name) | \(label) | \(Format.ms(change.p50)) | \(Format.ms(change.max)) | \(Format.ms(origin.p50)) | \(Format.ms(first.p50)) | \(Format.ms(first.max)) | \(Format.ms(all.p50)) | \(Format.ms(all.max)) | \(complete) of \(changes.count + kills.count) |"
                )
            }
        }
        line()
        line("| system | members | formed in s | window s | IP bytes/s per member | packets/s per member | UDP share of bytes | CPU % per member (mean / max) | RSS MiB per member (mean / max) | machine busy % | other processes CPU % |")
        line("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for result in results {
            let cpuMean = result.cpuPercent.isEmpty ? Double.nan : result.cpuPercent.reduce(0, +) / Double(result.cpuPercent.count)
            let rssMean = result.rssBytes.isEmpty ? 0 : result.rssBytes.reduce(0, +) / result.rssBytes.count
            line(
                "| \(result.name) | \(result.members) | \(Format.fixed(result.formedSeconds, 1)) | \(Format.fixed(result.windowSeconds, 0)) | \(Format.grouped(result.bytesPerSecondPerMember)) | \(Format.fixed(result.packetsPerSecondPerMember, 1)) | \(Format.fixed(result.udpBytesShare * 100, 0)) % | \(Format.fixed(cpuMean, 2)) / \(Format.fixed(result.cpuPercent.max() ?? .nan, 2)) | \(Format.mib(rssMean)) / \(Format.mib(result.rssBytes.max() ?? 0)) | \(Format.fixed(result.machineBusyPercent, 0)) | \(Format.fixed(OtherLoad.percent(machineBusy: result.machineBusyPercent, coordinator: result.cpuPercent.reduce(0, +), generator: result.benchCPUPercent), 0)) |"
            )
        }
        line()
        line(
            "How to read it: times are wall clock (CLOCK_REALTIME, shared by all processes) from just before the change (the `serf tags` command started, the capacity envelope written) or the SIGKILL to the member's own record of it; *max* is the largest over the \(trials) trials (p99 is the max at this count). *From the origin's own event* starts the clock when the changed member itself applied the change, which leaves out the `serf tags` RPC (or the site session and the coordinator's handling). A trial that some member never saw within the timeout (\(Format.fixed(timing.change.seconds, 0)) s for changes, \(Format.fixed(timing.kill.seconds, 0)) s for kills) counts as incomplete and is left out of the figures. *IP bytes* are counted by nftables in the output hook of `lo`, once per packet, headers included: Serf's UDP and TCP on its bind ports, Estuary's TCP on its mesh ports, divided by the member count (each member sends and receives about that much). CPU % is of one core per member process over the window (the machine has \(BenchMachine.current().cores) cores, so \(members) members share them); RSS at the end of the window. *Machine busy* covers all cores; *other processes* is that (in % of one core) minus the members and the benchmark process: anything else that ran, which makes the figures pessimistic when large."
        )
        line()
        for result in results {
            line("**\(result.name)** trials:")
            line()
            line("| trial | member | source | seen by | first ms | last ms |")
            line("|---|---|---|---:|---:|---:|")
            for trial in result.trials {
                for (key, _) in Self.sources(result.name) {
                    guard let spread = Self.spread(trial, source: key) else { continue }
                    line(
                        "| \(trial.kind.rawValue) \(trial.number + 1) | \(trial.subject) | \(key) | \(spread.seen) of \(spread.expected) | \(Format.ms(spread.first ?? .nan)) | \(spread.last.map(Format.ms) ?? "incomplete") |"
                    )
                }
            }
            line()
            for note in result.notes { line("- \(note)") }
            if !result.notes.isEmpty { line() }
        }
        if results.contains(where: { $0.name == "Serf" }) {
            line(
                "Serf's event handlers see member events only after the agent's coalescer: `serf agent` hard-codes a quiescent period of 1 s and a coalesce period of 3 s for member events, so a handler runs at least 1 s after the agent applied the gossip; the log-line rows show when it applied it. Serf's log lines carry whole seconds only, so the benchmark reads each agent's output from a pipe and stamps each line when it arrives."
            )
            line()
        }
        for (system, failure) in failures {
            line("- **\(system) was not measured**: \(failure.prefix(600))")
        }
        if !failures.isEmpty { line() }
        return out
    }
}
