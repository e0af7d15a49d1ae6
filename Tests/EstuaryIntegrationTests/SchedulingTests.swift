import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    /// The unified scheduler through the real coordinator, agents and estuaryctl: constraints,
    /// presets, capabilities, `job explain` and `capacity`.
    @Suite("Scheduling")
    struct Scheduling {
        /// Three A100/910B sites that differ where the rules look: zones, price, green share, region.
        static let shaoguan = TestSite(
            id: "it-shaoguan-a100", acceleratorClass: "nvidia-a100", region: "shaoguan", zones: ["gba", "mainland"],
            siteKeys: "green_share = 0.6\npue = 1.25",
            extraTables: "[prices.nvidia-a100]\nflat = 1200")
        static let hongkong = TestSite(
            id: "it-hongkong-a100", acceleratorClass: "nvidia-a100", region: "hongkong", zones: ["gba", "hk"],
            siteKeys: "green_share = 0.1",
            extraTables: "[prices.nvidia-a100]\nflat = 1000")
        static let shenzhen = TestSite(
            id: "it-shenzhen-910b", acceleratorClass: "ascend-910b", region: "shenzhen", zones: ["gba", "mainland"],
            siteKeys: "green_share = 0.3",
            extraTables: "[prices.ascend-910b]\nflat = 900")

        static let policy = """
            [scheduler]
            hold_timeout = "30s"

            [[latency]]
            between = ["shenzhen", "hongkong"]
            ms = 2

            [[latency]]
            between = ["shenzhen", "shaoguan"]
            ms = 3
            """

        @Test("constraints and presets choose the site; explain and capacity say why", .timeLimit(.minutes(2)))
        func constraintsPresetsExplainCapacity() async throws {
            try await TestBed.run { bed in
                let policy = try bed.write(Self.policy, to: "policy.toml")
                let coordinator = try await bed.startCoordinator(options: CoordinatorOptions(extraArguments: ["--policy", policy]))
                var agents: [AgentProcess] = []
                for site in [Self.shaoguan, Self.hongkong, Self.shenzhen] {
                    agents.append(try await bed.startAgent(site, coordinator: coordinator))
                }

                func job(_ name: String, _ cls: String, top: String = "", resources: String = "", tables: String = "", count: Int = 1)
                    -> TestJob
                {
                    TestJob(
                        name: name, script: "true", acceleratorClass: cls, count: count, topLevel: top, resourceKeys: resources,
                        extraTables: tables)
                }
                let placeable = [
                    // Hong Kong is cheapest, but mainland data may not leave the mainland.
                    ("mainland", job("mainland", "nvidia-a100", top: #"preference = "cheapest""#, tables: "[constraints]\nresidency = \"mainland\""),
                     Self.shaoguan.id, "nvidia-a100"),
                    ("cheapest", job("cheapest", "nvidia-a100", top: #"preference = "cheapest""#), Self.hongkong.id, "nvidia-a100"),
                    // Only Shaoguan is green enough.
                    ("green", job("green", "nvidia-a100", tables: "[constraints]\nmin_green_share = 0.5"), Self.shaoguan.id, "nvidia-a100"),
                    // 2 ms from Shenzhen reaches Hong Kong, not Shaoguan (3 ms).
                    ("near", job("near", "nvidia-a100", tables: "[constraints]\nmax_latency_ms = 2\nfrom_region = \"shenzhen\""),
                     Self.hongkong.id, "nvidia-a100"),
                    // A capability: any class with ≥ 250 TFLOPS FP16, domestic only → the Ascend 910B site.
                    ("capability", job("capability", "", resources: "min_fp16_tflops = 250", tables: "[constraints]\ndomestic_only = true"),
                     Self.shenzhen.id, "ascend-910b"),
                    // Alternatives: either class will do; the greenest site wins.
                    ("either", job("either", "ascend-910b|nvidia-a100", top: #"preference = "greenest""#), Self.shaoguan.id, "nvidia-a100"),
                ]
                let ids = try await bed.submitAll(try placeable.map { try bed.write($0.1) }, coordinator: coordinator)
                let finished = try await coordinator.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(60))
                for (index, (name, _, site, cls)) in placeable.enumerated() {
                    let view = try #require(finished.first { $0.id == ids[index] })
                    #expect(view.siteID?.rawValue == site, "job \(name) ran at \(view.siteID?.rawValue ?? "-"), expected \(site)")
                    #expect(view.placedClass?.rawValue == cls, "job \(name) ran on \(view.placedClass?.rawValue ?? "-")")
                }

                // A job no site may run stays queued, and explain names the rule at every site.
                let nowhere = try await bed.submitAll(
                    [try bed.write(job("nowhere", "nvidia-a100", tables: "[constraints]\ndata_zone = \"overseas\""))],
                    coordinator: coordinator)[0]
                let tooBig = try await bed.submitAll([try bed.write(job("too-big", "ascend-910b", count: 64))], coordinator: coordinator)[0]
                try await Task.sleep(for: .seconds(1))
                #expect(try await coordinator.api.job(nowhere).state == .queued)
                let explained = try await bed.estuaryctl(["job", "explain", nowhere.rawValue], coordinator: coordinator)
                #expect(explained.status == 0, "\(explained)")
                for site in [Self.shaoguan, Self.hongkong, Self.shenzhen] {
                    #expect(explained.stdout.contains(site.id), "\(explained.stdout)")
                }
                #expect(explained.stdout.contains("data zone overseas"), "\(explained.stdout)")
                let json = try await bed.estuaryctl(["job", "explain", tooBig.rawValue, "--json"], coordinator: coordinator)
                let view = try JSONDecoder().decode(ExplanationView.self, from: Data(json.stdout.utf8))
                #expect(view.verdict == "unplaceable", "\(view)")
                let shenzhenReasons = view.sites.first { $0.site.rawValue == Self.shenzhen.id }?.reasons ?? []
                #expect(shenzhenReasons.contains { $0.contains("pool too small") }, "\(shenzhenReasons)")
                let hongkongReasons = view.sites.first { $0.site.rawValue == Self.hongkong.id }?.reasons ?? []
                #expect(hongkongReasons.contains { $0.contains("no pool") }, "\(hongkongReasons)")

                // A dry run explains a job file without submitting it.
                let before = try await coordinator.api.allJobs().count
                let dryRun = try await bed.estuaryctl(
                    ["job", "explain", "--file", try bed.write(job("dry", "nvidia-a100", tables: "[constraints]\nresidency = \"mainland\""))],
                    coordinator: coordinator)
                #expect(dryRun.status == 0, "\(dryRun)")
                #expect(dryRun.stdout.contains("if submitted now: placeable now at \(Self.shaoguan.id)"), "\(dryRun.stdout)")
                #expect(dryRun.stdout.contains("residency mainland"), "\(dryRun.stdout)")
                #expect(try await coordinator.api.allJobs().count == before, "a dry run must not create a job")

                // Capacity: 2 × 16 A100 (312 TFLOPS each) + 16 910B (320 TFLOPS) = 15.1 PFLOPS FP16 peak.
                let capacity = try await bed.estuaryctl(["capacity"], coordinator: coordinator)
                #expect(capacity.status == 0, "\(capacity)")
                #expect(capacity.stdout.contains("15.1 PFLOPS"), "\(capacity.stdout)")
                for region in ["shaoguan", "hongkong", "shenzhen"] { #expect(capacity.stdout.contains(region)) }

                for id in [nowhere, tooBig] {
                    let cancelled = try await bed.estuaryctl(["job", "cancel", id.rawValue], coordinator: coordinator)
                    #expect(cancelled.status == 0, "\(cancelled)")
                }
                _ = agents
            }
        }

        @Test("a deferrable job waits for the valley hours its site publishes; explain and its history say until when", .timeLimit(.minutes(2)))
        func deferralToValley() async throws {
            // Local time = UTC at this site; peak now and for two hours, valley after that.
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            let hour = Int((nowMs / 3_600_000) % 24)
            func clock(_ h: Int) -> String { String(format: "%02d:00", h % 24) }
            let valleyStartMs = (nowMs / 3_600_000 + 2) * 3_600_000
            let site = TestSite(
                id: "it-tou-a100", acceleratorClass: "nvidia-a100", region: "shaoguan", zones: ["gba", "mainland"],
                siteKeys: "utc_offset = \"+00:00\"",
                extraTables: """
                    [prices.nvidia-a100]
                    flat = 1000
                    peak = 1500
                    valley = 500

                    [[tariff]]
                    kind = "peak"
                    start = "\(clock(hour))"
                    end = "\(clock(hour + 2))"

                    [[tariff]]
                    kind = "valley"
                    start = "\(clock(hour + 2))"
                    end = "\(clock(hour + 4))"
                    """)
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let agent = try await bed.startAgent(site, coordinator: coordinator)
                let formatter = ISO8601DateFormatter()
                let deadline = formatter.string(from: Date(timeIntervalSince1970: Double(valleyStartMs) / 1000 + 3 * 3600))
                let job = TestJob(
                    name: "nightly", script: "true", acceleratorClass: "nvidia-a100", count: 2, walltime: "30m",
                    extraTables: "[schedule]\ndeadline = \(deadline)\ndeferrable = true")
                let id = try await bed.submitAll([try bed.write(job)], coordinator: coordinator)[0]
                // The valley is cheaper than anything before it: the job waits.
                var explained: ExplanationView?
                for _ in 0..<50 {
                    let json = try await bed.estuaryctl(["job", "explain", id.rawValue, "--json"], coordinator: coordinator)
                    explained = try? JSONDecoder().decode(ExplanationView.self, from: Data(json.stdout.utf8))
                    if explained?.verdict == "deferred" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(explained?.verdict == "deferred", "\(String(describing: explained))")
                #expect(explained?.deferredUntilMs == valleyStartMs, "\(String(describing: explained))")
                #expect(explained?.summary.contains("valley price") == true, "\(String(describing: explained))")
                let view = try await coordinator.api.job(id)
                #expect(view.state == .queued)
                let history = (view.events ?? []).map(\.cause)
                #expect(history.contains { $0.hasPrefix("deferred to \(clock(hour + 2)) local for valley price") }, "\(history)")
                let cancelled = try await bed.estuaryctl(["job", "cancel", id.rawValue], coordinator: coordinator)
                #expect(cancelled.status == 0, "\(cancelled)")
                _ = agent
            }
        }
    }
}
