import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct PresetTests {
    static let latency: LatencyMatrix = {
        var matrix = LatencyMatrix(sameRegionMs: 1)
        matrix.set("shenzhen", "beijing", ms: 40)
        matrix.set("shenzhen", "shaoguan", ms: 3)
        return matrix
    }()

    /// Cheap but far and dirty; green but dear; fast (H100, next door) and dearest.
    static let threeSites = [
        Mesh.site("cheap", region: "beijing", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 500], grid: 800),
        Mesh.site("green", region: "shaoguan", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 1500], greenBP: 9000, grid: 300),
        Mesh.site("fast", region: "shenzhen", pools: [Mesh.pool(Mesh.h100, 8)], prices: [Mesh.h100: 2000]),
    ]

    @Test(
        "each preset picks its site",
        arguments: [
            (PlacementPreference.cheapest, SiteID("cheap")),
            (.greenest, "green"),
            (.fastest, "fast"),
        ])
    func presetPicks(_ preference: PlacementPreference, _ expected: SiteID) {
        var scheduler = Mesh.scheduler(Self.threeSites, policy: Mesh.policy(latency: Self.latency))
        let job = Mesh.job(
            "j", classes: [Mesh.a100, Mesh.h100], constraints: PlacementConstraints(fromRegion: "shenzhen"), preference: preference)
        guard case .placeable(let site, _, _) = scheduler.explain(job: job, nowMs: Mesh.noon).verdict else {
            Issue.record("not placeable")
            return
        }
        #expect(site == expected)
        scheduler.enqueue(job)
        let placement = scheduler.schedule(nowMs: Mesh.noon).placement("j")
        #expect(placement?.site == expected)
        #expect(placement?.reason.hasPrefix("\(preference.rawValue): best of 3 sites; ") == true)
    }

    @Test("balanced takes a 20% dearer site that is next door and half green over a cheap, far, dirty one")
    func balancedTradeOff() throws {
        let sites = [
            Mesh.site("far", region: "beijing", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 1000]),
            Mesh.site("near", region: "shenzhen", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 1200], greenBP: 5000),
        ]
        var scheduler = Mesh.scheduler(sites, policy: Mesh.policy(latency: Self.latency))
        let job = Mesh.job("j", constraints: PlacementConstraints(fromRegion: "shenzhen"), preference: .balanced)
        // Weights 25 price, 15 latency, 15 carbon (of 100): near pays the whole price range
        // (0.25); far pays the whole latency and carbon ranges (0.15 + 0.15).
        let explanation = scheduler.explain(job: job, nowMs: Mesh.noon)
        let scores = Dictionary(uniqueKeysWithValues: explanation.sites.map { ($0.site, try! #require($0.score)) })
        #expect(abs(scores["near"]! - 0.25) < 1e-9)
        #expect(abs(scores["far"]! - 0.30) < 1e-9)
        scheduler.enqueue(job)
        let placement = try #require(scheduler.schedule(nowMs: Mesh.noon).placement("j"))
        #expect(placement.site == "near")
        #expect(abs(placement.score - 0.25) < 1e-9)
        #expect(placement.reason == "balanced: best of 2 sites; 12.00 CNY/h, 1 ms, 0.2 kg CO2")
    }

    @Test("equal sites go to the lower site id, equal classes to the lower class name")
    func tieBreaking() {
        var scheduler = Mesh.scheduler([
            Mesh.site("s-b", pools: [Mesh.pool(Mesh.a100, 8)]),
            Mesh.site("s-a", pools: [Mesh.pool(Mesh.a100, 8)]),
            Mesh.site("s-c", pools: [Mesh.pool(Mesh.v100m32, 8), Mesh.pool(Mesh.v100m16, 8)]),
        ])
        scheduler.enqueue(Mesh.job("j", preference: .cheapest))
        scheduler.enqueue(Mesh.job("k", classes: [Mesh.v100m32, Mesh.v100m16], preference: .cheapest))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placement("j")?.site == "s-a")
        #expect(pass.placement("k")?.cls == Mesh.v100m16)
    }

    @Test("the reason names the price for the whole job, the latency and the carbon of the run")
    func reasonText() {
        var scheduler = Mesh.scheduler(
            [Mesh.site("s1", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 800])], policy: Mesh.policy(latency: Self.latency))
        // 2 × 400 W × 2 h × PUE 1.5 × 570 g/kWh = 1.368 kg.
        scheduler.enqueue(Mesh.job("j", count: 2, walltime: 7200, preference: .cheapest))
        scheduler.enqueue(Mesh.job("k", constraints: PlacementConstraints(fromRegion: "shenzhen"), preference: .greenest))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placement("j")?.reason == "cheapest: the only site with room; 16.00 CNY/h, 1.4 kg CO2")
        #expect(pass.placement("k")?.reason == "greenest: the only site with room; 8.00 CNY/h, 1 ms, 0.3 kg CO2")
    }

    @Test("spread, expected start, data locality and verified speed break otherwise equal sites")
    func softCriteria() {
        // Spread: the emptier pool wins though its id is higher.
        var spread = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10)]), Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 10)])])
        spread.restore(Mesh.job("running", count: 6), site: "a", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: true)
        spread.enqueue(Mesh.job("j", preference: .balanced))
        #expect(spread.schedule(nowMs: Mesh.noon).placement("j")?.site == "b")

        // Expected start: a site that took 30 s to accept loses to one with no backlog.
        var start = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10)]), Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 10)])])
        start.enqueue(Mesh.job("first"))
        #expect(start.schedule(nowMs: Mesh.noon).placement("first")?.site == "a")
        start.confirm("first", atMs: Mesh.noon + 30_000)
        start.release("first")
        start.enqueue(Mesh.job("second", preference: .fastest))
        #expect(start.schedule(nowMs: Mesh.noon + 60_000).placement("second")?.site == "b")

        // Locality: the site in the data's region.
        var locality = Mesh.scheduler([
            Mesh.site("a", region: "shenzhen", pools: [Mesh.pool(Mesh.a100, 10)]),
            Mesh.site("b", region: "shaoguan", pools: [Mesh.pool(Mesh.a100, 10)]),
        ])
        locality.enqueue(Mesh.job("j", constraints: PlacementConstraints(dataRegion: "shaoguan")))
        #expect(locality.schedule(nowMs: Mesh.noon).placement("j")?.site == "b")

        // Verified speed: an A100 pool that measured 250 TFLOPS loses to one at the catalog's 312.
        var verified = Mesh.scheduler([
            Mesh.site("a", pools: [SchedulerPool(cls: Mesh.a100, count: 10, reportedFree: 10, verifiedFP16TFLOPS: 250)]),
            Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 10)]),
        ])
        verified.enqueue(Mesh.job("j", preference: .fastest))
        #expect(verified.schedule(nowMs: Mesh.noon).placement("j")?.site == "b")
    }

    @Test("an effective price (vouchers) replaces the list price in scoring")
    func effectivePrice() {
        var scheduler = Scheduler(
            catalog: Mesh.catalog, policy: SchedulerPolicy(),
            effectivePrice: { tenant, site, _, list in tenant == "voucher" && site == "dear" ? list / 10 : list })
        scheduler.upsertSite(Mesh.site("cheap", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 500]))
        scheduler.upsertSite(Mesh.site("dear", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 2000]))
        scheduler.enqueue(Mesh.job("plain", preference: .cheapest))
        scheduler.enqueue(Mesh.job("covered", tenant: "voucher", preference: .cheapest))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placement("plain")?.site == "cheap")
        #expect(pass.placement("covered")?.site == "dear")
        #expect(pass.placement("covered")?.reason.contains("2.00 CNY/h") == true)
    }
}
