import ArgumentParser
import EstuaryGossip
import EstuaryModel
import Foundation

/// The gossip layer in the seeded simulator (`EstuaryGossip.GossipSimulation`, virtual time):
/// failure-detection latency, false positives, bandwidth per member and dissemination speed at
/// 1,000 members. Prints one Markdown section; it measures, it never asserts.
struct GossipSimBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip-sim",
        abstract: "Measure gossip failure detection, false positives, bandwidth and dissemination in simulation."
    )

    @Option(help: "Members in the simulated mesh.")
    var members: Int = 1000

    @Option(help: "Base seed (trial k uses seed + k).")
    var seed: UInt64 = 1

    @Option(help: "Trials per detection and pause figure.")
    var trials: Int = 10

    @Option(help: "Message loss probability.")
    var loss: Double = 0.01

    @Option(help: "Virtual seconds of steady state for the bandwidth figures.")
    var steadySeconds: Int = 120

    @Option(help: "Seconds between two capacity changes of each member, for the churn figure.")
    var churnSeconds: Int = 60

    func validate() throws {
        guard members >= 10 else { throw ValidationError("--members must be at least 10") }
        guard trials > 0, steadySeconds > 0, churnSeconds >= 0, stalledSeconds >= 0 else { throw ValidationError("--trials and --steady-seconds must be positive; --churn-seconds and --stalled-seconds 0 skip their figures") }
        guard (0..<1).contains(loss) else { throw ValidationError("--loss: a probability below 1") }
    }

    struct Profile {
        var name: String
        var configuration: GossipConfiguration
    }

    @Option(help: "Virtual seconds the 10 % stalled members stay stalled (0 skips that figure; it is slow in wall time at 1,000 members).")
    var stalledSeconds = 60

    @Option(help: "Profiles to measure, comma-separated: default, fast, swim.")
    var profileNames = "default,fast,swim"

    var profiles: [Profile] {
        let all = [
            ("default", Profile(name: "default (Lifeguard, 6 s floor)", configuration: GossipConfiguration())),
            ("fast", Profile(name: "`fastDetection` (2 s floor)", configuration: .fastDetection)),
            ("swim", Profile(name: "plain SWIM (`swim`)", configuration: .swim)),
        ]
        let wanted = Set(profileNames.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        return all.filter { wanted.contains($0.0) }.map(\.1)
    }

    var network: GossipSimulation.Network { .init(spreadMs: 10, jitterMs: 1, loss: loss) }

    func run() throws {
        let wall = ContinuousClock()
        let started = wall.now
        var rows: [String] = []
        func progress(_ what: String) {
            FileHandle.standardError.write(Data("gossip-sim: \(what) at \(Format.fixed((wall.now - started).seconds, 1)) s\n".utf8))
        }
        for profile in profiles {
            let detection = crashDetection(profile.configuration)
            progress("\(profile.name): crash detection done")
            let pauses = pauseFalseDeaths(profile.configuration)
            progress("\(profile.name): pauses done")
            var stalledText = "not run"
            if stalledSeconds > 0 {
                let stalled = stalledFalsePositives(profile.configuration)
                stalledText = "\(stalled.healthy) / \(stalled.stalled)"
                progress("\(profile.name): stalled done")
            }
            let row =
                "| \(profile.name) | \(secs(detection.first.p50)) / \(secs(detection.first.p99)) | \(secs(detection.all.p50)) / \(secs(detection.all.p99)) | \(detection.missed) | \(pauses) / \(trials) | \(stalledText) |"
            rows.append(row)
            // Also on stderr at once: at 1,000 members the bandwidth phases below take long.
            progress("row \(row)")
        }
        let steady = bandwidth(GossipConfiguration(), churn: false)
        progress("steady bandwidth done: \(Format.grouped(steady.total)) B/s per member")
        var churn: (total: Double, sent: Double) = (.nan, .nan)
        if churnSeconds > 0 {
            let measured = bandwidth(GossipConfiguration(), churn: true)
            churn = (measured.total, measured.sent)
            progress("churn bandwidth done: \(Format.grouped(churn.total)) B/s per member")
        }
        let rounds = dissemination(GossipConfiguration())
        progress("dissemination done")
        let log2N = log2(Double(members))

        SectionHeader.print(
            "Gossip: failure detection and dissemination at \(Format.grouped(Double(members))) members (simulated)",
            details: [
                "Pure `EstuaryGossip.GossipSimulation`, virtual time, one thread; release build. Wall time for the whole run: \(Format.fixed((wall.now - started).seconds, 0)) s.",
                "Network: members at random points of a 10 ms square (one-way delay = half the distance + 0–1 ms jitter), \(Format.fixed(loss * 100, 1)) % loss; \(trials) trials per figure, seeds \(seed)…\(seed + UInt64(trials) - 1).",
            ])
        print("| profile | crash → first detection p50 / p99 | crash → dead at all members p50 / p99 | undetected in 60 s | 5 s pause declared dead | false deaths with 10 % stalled (healthy / stalled members) |")
        print("|---|---:|---:|---:|---:|---:|")
        rows.forEach { print($0) }
        print()
        print("| figure (default profile) | value | goal |")
        print("|---|---:|---:|")
        print("| bytes per member per second, steady state (sent + received) | \(Format.grouped(steady.total)) B/s | < 1,000 B/s |")
        print("| of which sent | \(Format.grouped(steady.sent)) B/s | |")
        if churnSeconds > 0 {
            print("| bytes per member per second with capacity churn (each member's site changes every \(churnSeconds) s) | \(Format.grouped(churn.total)) B/s | |")
        }
        print("| gossip rounds (\(GossipConfiguration().gossipIntervalMs) ms) for one capacity change to reach all, p50 / max | \(Format.fixed(rounds.p50, 1)) / \(Format.fixed(rounds.max, 1)) | ≤ 2·log2 N = \(Format.fixed(2 * log2N, 1)) |")
        print()
        print(
            "How it is measured: each trial starts from a converged mesh, runs 3 s, then crashes (or pauses for 5 s) one random member. *First detection* = time until some member declares it dead; *dead at all members* = until every running member does (checked every 100 ms); the pause column counts trials in which anyone declared the paused member dead. *Stalled*: 10 % of members handle every message and timer 0.75–2.25 s late (a CPU-starved process) for \(stalledSeconds) s; the column counts distinct healthy and stalled members declared dead by anyone. *Bytes* = codec bytes of every message sent plus received per member (no transport framing, TLS or HTTP/2 overhead), over \(steadySeconds) s that start once every member has passed on every update of the start-up flood (every member publishing its site at once; at least 10 s, here \(Format.fixed(steady.settledS, 0)) s of virtual time); churn publishes one changed site summary per member every \(churnSeconds) s (\(Format.fixed(Double(members) / Double(churnSeconds), 1)) changes/s in the mesh). *Rounds* = time until every member holds the new summary ÷ the gossip interval.")
        print()
    }

    func secs(_ ms: Double) -> String { ms.isNaN ? "–" : "\(Format.fixed(ms / 1000, 1)) s" }

    struct Percentiles {
        var p50: Double
        var p99: Double
        var max: Double
    }

    func percentiles(_ values: [Double]) -> Percentiles {
        guard !values.isEmpty else { return Percentiles(p50: .nan, p99: .nan, max: .nan) }
        let sorted = values.sorted()
        func rank(_ p: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))] }
        return Percentiles(p50: rank(0.5), p99: rank(0.99), max: sorted.last!)
    }

    func crashDetection(_ configuration: GossipConfiguration) -> (first: Percentiles, all: Percentiles, missed: Int) {
        var firsts: [Double] = []
        var alls: [Double] = []
        var missed = 0
        for k in 0..<trials {
            var sim = GossipSimulation(members: members, seed: seed + UInt64(k), configuration: configuration, network: network)
            sim.run(forMs: 3000)
            let victim = Int((seed &+ UInt64(k) &* 7919) % UInt64(members))
            let id = GossipSimulation.memberId(victim)
            let start = sim.nowMs
            let eventsBefore = sim.events.count
            sim.crash(victim)
            let ok = sim.run(stepMs: 100, limitMs: 60_000) { s in
                (0..<s.count).allSatisfy { i in i == victim || !s.isRunning(i) || s.view(of: i, about: victim)?.state == .dead }
            }
            if let first = sim.events[eventsBefore...].first(where: { $0.event == .memberFailed(id: id) }) {
                firsts.append(Double(first.timeMs - start))
            }
            if ok { alls.append(Double(sim.nowMs - start)) } else { missed += 1 }
        }
        return (percentiles(firsts), percentiles(alls), missed)
    }

    func pauseFalseDeaths(_ configuration: GossipConfiguration) -> Int {
        var declared = 0
        for k in 0..<trials {
            var sim = GossipSimulation(members: members, seed: seed + 1000 + UInt64(k), configuration: configuration, network: network)
            sim.run(forMs: 3000)
            let victim = Int((seed &+ UInt64(k) &* 104_729) % UInt64(members))
            sim.pause(victim, forMs: 5000)
            sim.run(forMs: 20_000)
            if sim.events.contains(where: { $0.event == .memberFailed(id: GossipSimulation.memberId(victim)) }) { declared += 1 }
        }
        return declared
    }

    func stalledFalsePositives(_ configuration: GossipConfiguration) -> (healthy: Int, stalled: Int) {
        var sim = GossipSimulation(members: members, seed: seed + 2000, configuration: configuration, network: network)
        let stalledCount = members / 10
        for i in 0..<stalledCount { sim.stall(i, delayMs: 1500) }
        sim.run(forMs: Int64(stalledSeconds) * 1000)
        var healthy = Set<String>()
        var stalled = Set<String>()
        for e in sim.events {
            guard case .memberFailed(let id) = e.event, let n = Int(id.dropFirst()) else { continue }
            if n < stalledCount { stalled.insert(id) } else { healthy.insert(id) }
        }
        return (healthy.count, stalled.count)
    }

    /// Bytes per member per second over `steadySeconds`, and when (virtual seconds) the window
    /// started: once the start-up flood had passed.
    func bandwidth(_ configuration: GossipConfiguration, churn: Bool) -> (total: Double, sent: Double, settledS: Double) {
        var sim = GossipSimulation(members: members, seed: seed + 3000, configuration: configuration, network: network)
        sim.recordEvents = false
        func site(_ i: Int, _ free: Int) -> CapacitySummary {
            CapacitySummary(
                site: "site-\(i)", origin: "", region: "r\(i % 4)", freeUnits: ["nvidia-a100": free, "ascend-910b": 2 * free],
                totalUnits: ["nvidia-a100": 64, "ascend-910b": 128], priceIndexMinor: 900, greenShareBP: 2500)
        }
        // Every member owns one site, known everywhere before the measurement starts, and the
        // flood of publishing them all at once has passed: every member has sent every update
        // its retransmit limit (at 1,000 members that takes about a virtual minute).
        let published = sim.nowMs
        for i in 0..<members { sim.publish(i, [site(i, 1)]) }
        sim.run(forMs: 10_000)
        // At most 10 virtual minutes: a mesh whose queues never empty is measured as it is.
        while sim.nowMs - published < 600_000, (0..<members).contains(where: { sim.nodes[$0].pendingBroadcasts > 0 }) {
            sim.run(forMs: 1_000)
        }
        let settledS = Double(sim.nowMs - published) / 1000
        let stillPending = (0..<members).filter { sim.nodes[$0].pendingBroadcasts > 0 }.count
        FileHandle.standardError.write(
            Data("gossip-sim: start-up flood: \(stillPending) members with updates left after \(Format.fixed(settledS, 0)) s (virtual)\n".utf8))
        let sentBefore = sim.bytesSent.reduce(0, +)
        let receivedBefore = sim.bytesReceived.reduce(0, +)
        let start = sim.nowMs
        let end = start + Int64(steadySeconds) * 1000
        var rng = SplitMix64(seed: seed + 3001)
        let churnPeriod = max(1, Int64(churnSeconds)) * 1000
        var nextChange = (0..<members).map { _ in start + Int64(rng.below(Int(churnPeriod))) }
        while sim.nowMs < end {
            sim.run(untilMs: min(end, sim.nowMs + 100))
            guard churn else { continue }
            for i in 0..<members where nextChange[i] <= sim.nowMs {
                nextChange[i] += churnPeriod
                sim.publish(i, [site(i, rng.int(in: 0...64))])
            }
        }
        let seconds = Double(sim.nowMs - start) / 1000
        let sent = Double(sim.bytesSent.reduce(0, +) - sentBefore)
        let received = Double(sim.bytesReceived.reduce(0, +) - receivedBefore)
        return ((sent + received) / Double(members) / seconds, sent / Double(members) / seconds, settledS)
    }

    func dissemination(_ configuration: GossipConfiguration) -> Percentiles {
        var rounds: [Double] = []
        for k in 0..<trials {
            var sim = GossipSimulation(members: members, seed: seed + 4000 + UInt64(k), configuration: configuration, network: network)
            sim.recordEvents = false
            sim.run(forMs: 2000)
            let origin = Int((seed &+ UInt64(k) &* 31) % UInt64(members))
            sim.publish(origin, [CapacitySummary(site: "probe-site", origin: "", region: "r0", freeUnits: ["cpu": k + 1], totalUnits: ["cpu": 64], priceIndexMinor: 1, greenShareBP: 0)])
            let start = sim.nowMs
            let ok = sim.run(stepMs: 20, limitMs: 30_000) { s in (0..<s.count).allSatisfy { !s.nodes[$0].capacity.isEmpty } }
            if ok { rounds.append(Double(sim.nowMs - start) / Double(configuration.gossipIntervalMs)) }
        }
        return percentiles(rounds)
    }
}
