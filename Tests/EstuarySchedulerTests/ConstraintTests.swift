import EstuaryModel
import EstuaryScheduler
import Testing

/// One hard rule: a job, the one site that breaks it, and what `explain` says about that site.
struct RuleCase: Sendable, CustomTestStringConvertible {
    var name: String
    var site: SchedulerSite
    var job: SchedulerJob
    var expected: [String]
    var verdict: String
    var setUp: @Sendable (inout Scheduler) -> Void = { _ in }

    var testDescription: String { name }
}

@Suite struct ConstraintTests {
    static let latency: LatencyMatrix = {
        var matrix = LatencyMatrix(sameRegionMs: 1)
        matrix.set("shenzhen", "beijing", ms: 12)
        matrix.set("shenzhen", "shaoguan", ms: 3)
        return matrix
    }()

    static let cases: [RuleCase] = [
        RuleCase(
            name: "unreachable", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], status: .unreachable), job: Mesh.job("j"),
            expected: ["site unreachable"], verdict: "unplaceable"),
        RuleCase(
            name: "draining", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], status: .draining), job: Mesh.job("j"),
            expected: ["site draining"], verdict: "unplaceable"),
        RuleCase(
            name: "allow list", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(allowSites: ["s2"])), expected: ["not in the job's allow list"],
            verdict: "unplaceable"),
        RuleCase(
            name: "deny list", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(denySites: ["s1"])), expected: ["on the job's deny list"],
            verdict: "unplaceable"),
        RuleCase(
            name: "data zone", site: Mesh.site("s1", zones: ["hk"], pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(dataZone: "gba")), expected: ["data zone gba: site is in [hk]"],
            verdict: "unplaceable"),
        RuleCase(
            name: "residency", site: Mesh.site("s1", zones: ["hk", "gba"], pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(residency: "mainland")),
            expected: ["residency mainland: site is in [gba, hk]"], verdict: "unplaceable"),
        RuleCase(
            name: "no pool of the classes", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.h100, 8)]),
            job: Mesh.job("j", classes: [Mesh.a100, Mesh.a800]), expected: ["no pool of nvidia-a100|nvidia-a800"], verdict: "unplaceable"),
        RuleCase(
            name: "no class with the capability", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.v100m16, 8)]),
            job: Mesh.capability("j", minFP16: 300, minMemory: 64), expected: ["no class with ≥ 300 TFLOPS FP16 and ≥ 64 GiB"],
            verdict: "unplaceable"),
        RuleCase(
            name: "domestic only", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", classes: [Mesh.a100, Mesh.ascend], constraints: PlacementConstraints(domesticOnly: true)),
            expected: ["domestic_only: nvidia-a100 is not domestic"], verdict: "unplaceable"),
        RuleCase(
            name: "latency too high", site: Mesh.site("s1", region: "beijing", pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(maxLatencyMs: 5, fromRegion: "shenzhen")),
            expected: ["latency 12 ms from shenzhen to beijing exceeds 5 ms"], verdict: "unplaceable"),
        RuleCase(
            name: "latency unknown", site: Mesh.site("s1", region: "lhasa", pools: [Mesh.pool(Mesh.a100, 8)]),
            job: Mesh.job("j", constraints: PlacementConstraints(maxLatencyMs: 50, fromRegion: "shenzhen")),
            expected: ["latency from shenzhen to lhasa unknown"], verdict: "unplaceable"),
        RuleCase(
            name: "green share", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], greenBP: 3000),
            job: Mesh.job("j", constraints: PlacementConstraints(minGreenShareBP: 5000)), expected: ["green share 30% below 50%"],
            verdict: "unplaceable"),
        RuleCase(
            name: "price", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 30_000]),
            job: Mesh.job("j", count: 8, constraints: PlacementConstraints(maxPricePerHourFen: 200_000)),
            expected: ["price 2,400.00 CNY/h exceeds 2,000.00 CNY/h"], verdict: "unplaceable"),
        RuleCase(
            name: "no published price", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], prices: [:]),
            job: Mesh.job("j", constraints: PlacementConstraints(maxPricePerHourFen: 200_000)),
            expected: ["site publishes no price for nvidia-a100"], verdict: "unplaceable"),
        RuleCase(
            name: "pool too small for the gang", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 32)]),
            job: Mesh.job("j", count: 16, tasks: 4), expected: ["pool too small: needs 64 nvidia-a100 (16 × 4 tasks), has 32"],
            verdict: "unplaceable"),
        RuleCase(
            name: "busy", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 64, free: 12)]), job: Mesh.job("j", count: 64),
            expected: ["busy: needs 64 free nvidia-a100, 12 free"], verdict: "waiting for capacity"),
        RuleCase(
            name: "quota", site: Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 200)]), job: Mesh.job("j", count: 8),
            expected: ["quota: tenant acme holds 96 of 100 nvidia-a100"],
            verdict: "waiting for quota: quota: tenant acme holds 96 of 100 nvidia-a100",
            setUp: { scheduler in
                scheduler.restore(Mesh.job("running", count: 96), site: "s1", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: true)
            }),
        RuleCase(
            name: "every reason at once",
            site: Mesh.site("s1", zones: ["hk"], pools: [Mesh.pool(Mesh.a100, 8)], greenBP: 1000, status: .draining),
            job: Mesh.job("j", constraints: PlacementConstraints(dataZone: "gba", minGreenShareBP: 2500, denySites: ["s1"])),
            expected: ["site draining", "on the job's deny list", "data zone gba: site is in [hk]", "green share 10% below 25%"],
            verdict: "unplaceable"),
    ]

    @Test("a site that breaks a rule is explained and never chosen", arguments: cases)
    func ruleOut(_ rule: RuleCase) {
        var policy = Mesh.policy(latency: Self.latency)
        policy.tenants["acme"] = TenantPolicy(quotas: [Mesh.a100: 100])
        var scheduler = Mesh.scheduler([rule.site], policy: policy)
        rule.setUp(&scheduler)
        let explanation = scheduler.explain(job: rule.job, nowMs: Mesh.noon)
        #expect(explanation.reasons(at: "s1") == rule.expected)
        #expect(explanation.verdict.description.hasPrefix(rule.verdict), "\(explanation.verdict)")

        scheduler.enqueue(rule.job)
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placements.isEmpty)
        #expect(scheduler.queuedCount == 1)
        #expect(scheduler.explain(rule.job.id, nowMs: Mesh.noon)?.reasons(at: "s1") == rule.expected)
    }

    @Test("a job goes to the one site that meets every rule", arguments: cases)
    func compliantSiteTakesTheJob(_ rule: RuleCase) {
        var policy = Mesh.policy(latency: Self.latency)
        policy.tenants["acme"] = TenantPolicy(quotas: [Mesh.a100: 1000])
        let good = Mesh.site(
            "s2", region: "shenzhen", zones: ["gba", "mainland"],
            pools: [Mesh.pool(Mesh.a100, 64), Mesh.pool(Mesh.ascend, 64), Mesh.pool(Mesh.a800, 64)],
            prices: [Mesh.a100: 100, Mesh.ascend: 100, Mesh.a800: 100], greenBP: 6000)
        var scheduler = Mesh.scheduler([rule.site, good], policy: policy)
        let explanation = scheduler.explain(job: rule.job, nowMs: Mesh.noon)
        #expect(explanation.sites.contains { $0.site == "s2" && $0.ruledOut.isEmpty && $0.score != nil })
        guard case .placeable(let site, _, _) = explanation.verdict else {
            Issue.record("not placeable: \(explanation.verdict)")
            return
        }
        #expect(site == "s2")
        scheduler.enqueue(rule.job)
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placements.map(\.site) == ["s2"])
    }

    @Test("a site that rejected a job is excluded and named with the attempt, until no other site is left")
    func rejectedSiteIsExcluded() {
        var scheduler = Mesh.scheduler([
            Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 100]), Mesh.site("s2", pools: [Mesh.pool(Mesh.a100, 8)]),
        ])
        scheduler.enqueue(Mesh.job("j"))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placements.map(\.site) == ["s1"])
        scheduler.requeue("j", excluding: "s1", atMs: Mesh.noon + 1000)
        #expect(scheduler.explain("j", nowMs: Mesh.noon + 1000)?.reasons(at: "s1") == ["rejected this job before (attempt 1)"])
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placements.map(\.site) == ["s2"])
        scheduler.requeue("j", excluding: "s2", atMs: Mesh.noon + 2000)
        // Both rejected it: the job may go back rather than wait for a site that never comes
        // (the coordinator's attempt limit bounds this).
        let explanation = scheduler.explain("j", nowMs: Mesh.noon + 2000)
        guard case .placeable(let site, _, _) = explanation?.verdict else {
            Issue.record("expected placeable, got \(String(describing: explanation?.verdict))")
            return
        }
        #expect(site == "s1")
        #expect(scheduler.schedule(nowMs: Mesh.noon + 2000).placements.map(\.site) == ["s1"])
    }

    @Test("a capability request matches catalog classes with enough TFLOPS and memory")
    func capabilityRequest() {
        var scheduler = Mesh.scheduler([
            Mesh.site("s1", pools: [Mesh.pool(Mesh.v100m32, 8)]),
            Mesh.site("s2", pools: [Mesh.pool(Mesh.ascend, 8)]),
        ])
        scheduler.enqueue(Mesh.capability("big", minFP16: 300, minMemory: 64, count: 4))
        scheduler.enqueue(Mesh.capability("small", minFP16: nil, minMemory: 24))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placement("big")?.site == "s2")
        #expect(pass.placement("big")?.cls == Mesh.ascend)
        #expect(pass.placement("big")?.units == 4)
        #expect(pass.placement("small") != nil)
        let never = scheduler.explain(job: Mesh.capability("huge", minFP16: 2000, minMemory: nil), nowMs: Mesh.noon)
        #expect(never.verdict == .unplaceable)
        #expect(never.reasons(at: "s1") == ["no class with ≥ 2000 TFLOPS FP16"])
    }

    @Test("alternatives V100M16|V100M32 take whichever class a site has")
    func classAlternatives() {
        var scheduler = Mesh.scheduler([
            Mesh.site("s1", pools: [Mesh.pool(Mesh.v100m32, 4)]), Mesh.site("s2", pools: [Mesh.pool(Mesh.a100, 4)]),
        ])
        scheduler.enqueue(Mesh.job("j", classes: ResourceRequest.classes(fromExpression: "V100M16|V100M32"), count: 4))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placement("j")?.site == "s1")
        #expect(pass.placement("j")?.cls == Mesh.v100m32)
        #expect(
            scheduler.explain(job: Mesh.job("k", classes: [Mesh.v100m16, Mesh.v100m32]), nowMs: Mesh.noon).reasons(at: "s2") == [
                "no pool of V100M16|V100M32"
            ])
    }
}
