import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct DeferralTests {
    /// 20:00 local on Monday.
    static let evening = Mesh.noon + 8 * Mesh.hourMs

    /// Peak 08:00–23:00 at 15.00, valley 23:00–07:00 at 5.00, flat 07:00–08:00 at 10.00 CNY per unit-hour.
    static func touSite(hourly: [Int] = []) -> SchedulerSite {
        SchedulerSite(
            id: "a", region: "shenzhen", zones: ["gba"],
            energy: SiteEnergy(greenShareBP: 0, pueMilli: 1500, gridGramsPerKWh: 600, hourlyGramsPerKWh: hourly),
            priceBook: PriceBook(
                prices: [Mesh.a100: ClassPrice(flat: 1000, peak: 1500, valley: 500)],
                periods: [
                    TariffPeriod(kind: .valley, startMinute: 23 * 60, endMinute: 7 * 60),
                    TariffPeriod(kind: .peak, startMinute: 8 * 60, endMinute: 23 * 60),
                ]),
            pools: [Mesh.pool(Mesh.a100, 16)])
    }

    static func deferrable(_ id: JobID, count: Int = 8, deadline: Int64, preference: PlacementPreference? = nil) -> SchedulerJob {
        Mesh.job(id, count: count, walltime: 7200, preference: preference, deferral: Deferral(deadlineMs: deadline, deferrable: true))
    }

    @Test("pools that first appear in a capacity report are priced for deferral too")
    func poolsFromReports() throws {
        var site = Self.touSite()
        let pools = site.pools
        site.pools = []
        var scheduler = Mesh.scheduler([site])
        scheduler.updatePools(site: "a", pools: pools)
        scheduler.enqueue(Self.deferrable("night", deadline: Self.evening + 12 * Mesh.hourMs))
        let pass = scheduler.schedule(nowMs: Self.evening)
        #expect(pass.placements.isEmpty)
        #expect(pass.deferred.first?.reason == "deferred to 23:00 local for valley price (240.00 → 80.00 CNY)")
    }

    @Test("start times and deadlines at the ends of the integer range neither trap nor start a job early")
    func extremeTimes() throws {
        var scheduler = Mesh.scheduler([Self.touSite()])
        scheduler.enqueue(Mesh.job("late", deferral: Deferral(notBeforeMs: .max - 1)))
        scheduler.enqueue(Mesh.job("forever", walltime: .max, deferral: Deferral(deadlineMs: .max, deferrable: true)))
        scheduler.enqueue(Mesh.job("far", deferral: Deferral(notBeforeMs: 0, deadlineMs: .max, deferrable: true)))
        let pass = scheduler.schedule(nowMs: Self.evening)
        #expect(pass.placement("late") == nil)
        let late = try #require(pass.deferred.first { $0.job == "late" })
        #expect(late.untilMs == Int64.max - 1)
        // A deadline that never comes: the cheapest start is the next valley.
        #expect(pass.deferred.first { $0.job == "far" }?.untilMs == Self.evening + 3 * Mesh.hourMs)
        for id: JobID in ["late", "forever", "far"] {
            _ = try #require(scheduler.explain(id, nowMs: Self.evening))
            _ = scheduler.explain(job: Mesh.job(id, deferral: Deferral(notBeforeMs: .max, deadlineMs: .max, deferrable: true)), nowMs: Self.evening)
        }
    }

    @Test("a deferrable job waits for the valley price and still meets its deadline")
    func valleyPrice() throws {
        var scheduler = Mesh.scheduler([Self.touSite()])
        let deadline = Self.evening + 12 * Mesh.hourMs  // 08:00 tomorrow
        scheduler.enqueue(Self.deferrable("night", deadline: deadline))
        let pass = scheduler.schedule(nowMs: Self.evening)
        #expect(pass.placements.isEmpty)
        let deferment = try #require(pass.deferred.first)
        #expect(deferment.untilMs == Self.evening + 3 * Mesh.hourMs)
        #expect(deferment.reason == "deferred to 23:00 local for valley price (240.00 → 80.00 CNY)")
        #expect(scheduler.explain("night", nowMs: Self.evening)?.verdict == .deferred(untilMs: deferment.untilMs, reason: deferment.reason))

        #expect(scheduler.schedule(nowMs: Self.evening + 2 * Mesh.hourMs).deferred.first?.untilMs == deferment.untilMs)
        let placement = try #require(scheduler.schedule(nowMs: deferment.untilMs).placement("night"))
        #expect(placement.units == 8)
        #expect(deferment.untilMs + 7_200_000 <= deadline)
    }

    @Test(
        "no deferral when waiting saves nothing or the latest start is near",
        arguments: [
            Self.evening + 2 * Mesh.hourMs + 30_000,  // latest start in 30 s
            Self.evening + 2 * Mesh.hourMs + 30 * 60_000,  // only peak hours before the deadline
        ])
    func placesNow(deadline: Int64) {
        var scheduler = Mesh.scheduler([Self.touSite()])
        scheduler.enqueue(Self.deferrable("j", deadline: deadline))
        let pass = scheduler.schedule(nowMs: Self.evening)
        #expect(pass.deferred.isEmpty)
        #expect(pass.placedJobs == ["j"])
    }

    @Test("a greenest deferrable job waits for the low-carbon hours")
    func lowCarbon() throws {
        let hourly = (0..<24).map { $0 < 6 ? 100 : 600 }
        var scheduler = Mesh.scheduler([Self.touSite(hourly: hourly)])
        scheduler.enqueue(Self.deferrable("green", count: 1, deadline: Self.evening + 12 * Mesh.hourMs, preference: .greenest))
        let deferment = try #require(scheduler.schedule(nowMs: Self.evening).deferred.first)
        #expect(deferment.untilMs == Self.evening + 4 * Mesh.hourMs)
        // 400 W × PUE 1.5 × 2 h: 600 g/kWh now, 100 g/kWh after midnight.
        #expect(deferment.reason == "deferred to 00:00 local for lower carbon (0.7 → 0.1 kg CO2)")
    }

    @Test("not_before holds a job until its time")
    func notBefore() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)])])
        scheduler.enqueue(Mesh.job("later", deferral: Deferral(notBeforeMs: Mesh.noon + Mesh.hourMs)))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.deferred == [Deferment(job: "later", untilMs: Mesh.noon + Mesh.hourMs, reason: "not before its start time, in 1 h")])
        #expect(scheduler.schedule(nowMs: Mesh.noon + Mesh.hourMs - 1).placements.isEmpty)
        #expect(scheduler.schedule(nowMs: Mesh.noon + Mesh.hourMs).placedJobs == ["later"])
    }
}
