import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct LifecycleTests {
    @Test("a pass stops at its limit and the next one carries on")
    func limit() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)])])
        for index in 0..<5 { scheduler.enqueue(Mesh.job(JobID(rawValue: "j\(index)"), submitted: Int64(index))) }
        #expect(scheduler.schedule(nowMs: Mesh.noon, limit: 0).placements.isEmpty)
        #expect(scheduler.schedule(nowMs: Mesh.noon, limit: 2).placedJobs == ["j0", "j1"])
        #expect(scheduler.schedule(nowMs: Mesh.noon, limit: 1).placedJobs == ["j2"])
        #expect(scheduler.schedule(nowMs: Mesh.noon).placedJobs == ["j3", "j4"])
        #expect(scheduler.queuedCount == 0)
    }

    @Test("a policy replaced at runtime takes effect on the next pass")
    func policyReplaced() {
        var scheduler = Mesh.scheduler([
            Mesh.site("cheap", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 500], grid: 900),
            Mesh.site("green", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 900], greenBP: 9000),
        ])
        scheduler.enqueue(Mesh.job("first"))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placement("first")?.site == "cheap")  // balanced: price 25 over carbon 15
        scheduler.policy.defaultPreference = .greenest
        scheduler.enqueue(Mesh.job("second"))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placement("second")?.site == "green")
        scheduler.policy.weights[.greenest] = ScoreWeights(price: 1, start: 0, speed: 0, latency: 0, carbon: 0, spread: 0, locality: 0)
        scheduler.enqueue(Mesh.job("third"))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placement("third")?.site == "cheap")
    }

    @Test("a report that lists a class twice counts it once, summed")
    func duplicatePoolsInAReport() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 4), Mesh.pool(Mesh.a100, 4)])])
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 8)
        scheduler.enqueue(Mesh.job("eight", count: 8))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placement("eight")?.units == 8)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 8)
    }

    @Test("calls about unknown jobs and sites change nothing")
    func unknownIds() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)])])
        scheduler.release("nope")
        scheduler.dequeue("nope")
        scheduler.confirm("nope", atMs: Mesh.noon)
        scheduler.requeue("nope", excluding: "a", atMs: Mesh.noon)
        scheduler.updatePools(site: "nowhere", pools: [Mesh.pool(Mesh.a100, 8)])
        scheduler.setStatus(.draining, site: "nowhere")
        scheduler.removeSite("nowhere")
        #expect(scheduler.explain("nope", nowMs: Mesh.noon) == nil)
        #expect(scheduler.queuedCount == 0)
        #expect(scheduler.sites.keys.sorted() == ["a"])
        #expect(scheduler.allocatedUnits(site: "nowhere", cls: Mesh.a100) == 0)
    }

    @Test("a draining site keeps its running jobs but takes no new ones; available again, it does")
    func drainingSite() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)])])
        scheduler.enqueue(Mesh.job("running"))
        _ = scheduler.schedule(nowMs: Mesh.noon)
        scheduler.setStatus(.draining, site: "a")
        scheduler.enqueue(Mesh.job("next"))
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placements.isEmpty)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 1)
        #expect(scheduler.explain("next", nowMs: Mesh.noon + 1000)?.reasons(at: "a") == ["site draining"])
        scheduler.setStatus(.available, site: "a")
        #expect(scheduler.schedule(nowMs: Mesh.noon + 2000).placedJobs == ["next"])
    }

    @Test("a dry-run explanation lists every site with its reasons or its score")
    func dryRunExplanation() {
        let scheduler = Mesh.scheduler([
            Mesh.site("a", zones: ["hk"], pools: [Mesh.pool(Mesh.a100, 8)]),
            Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 8)]),
            Mesh.site("c", pools: [Mesh.pool(Mesh.h100, 8)]),
        ])
        let explanation = scheduler.explain(job: Mesh.job("dry", constraints: PlacementConstraints(dataZone: "gba")), nowMs: Mesh.noon)
        #expect(explanation.sites.map(\.site) == ["a", "b", "c"])
        #expect(
            explanation.description == """
                dry: placeable now at b (nvidia-a100)
                  a nvidia-a100: data zone gba: site is in [hk]
                  b nvidia-a100: ok, score 0.000
                  c: no pool of nvidia-a100
                """)
        #expect(scheduler.queuedCount == 0)
    }
}
