import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct HoldTests {
    static func twoSites() -> Scheduler {
        Mesh.scheduler([
            Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 100]),
            Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 8)]),
        ])
    }

    @Test("an unconfirmed hold expires; requeued, the job goes elsewhere and the units come back")
    func holdExpiry() throws {
        var scheduler = Self.twoSites()
        scheduler.enqueue(Mesh.job("j", count: 4))
        scheduler.enqueue(Mesh.job("i", count: 2))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        let placement = try #require(pass.placement("j"))
        #expect(placement.site == "a")
        #expect(placement.holdExpiresAtMs == Mesh.noon + 60_000)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 6)
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 2)
        #expect(
            scheduler.explain("j", nowMs: Mesh.noon)?.verdict
                == .held(site: "a", cls: Mesh.a100, confirmed: false, expiresAtMs: Mesh.noon + 60_000))

        #expect(scheduler.expiredHolds(nowMs: Mesh.noon + 59_999).isEmpty)
        #expect(scheduler.expiredHolds(nowMs: Mesh.noon + 60_000) == ["i", "j"])
        scheduler.confirm("i", atMs: Mesh.noon + 60_000)
        #expect(scheduler.expiredHolds(nowMs: Mesh.noon + 10 * Mesh.hourMs) == ["j"])

        scheduler.requeue("j", excluding: "a", atMs: Mesh.noon + 60_000)
        #expect(scheduler.expiredHolds(nowMs: Mesh.noon + 10 * Mesh.hourMs).isEmpty)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 2)
        #expect(scheduler.queuedCount == 1)
        let again = scheduler.schedule(nowMs: Mesh.noon + 61_000)
        #expect(again.placement("j")?.site == "b")
        #expect(again.placement("j")?.holdExpiresAtMs == Mesh.noon + 121_000)
    }

    @Test("a site that rejected a job is avoided while another can run it, and tried again when none can")
    func exclusionFallback() throws {
        var scheduler = Mesh.scheduler([
            Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 8)], prices: [Mesh.a100: 100]),
            Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 2)]),
        ])
        scheduler.enqueue(Mesh.job("small", count: 2))
        scheduler.enqueue(Mesh.job("big", count: 4))
        let first = scheduler.schedule(nowMs: Mesh.noon)
        #expect(first.placement("small")?.site == "a")
        #expect(first.placement("big")?.site == "a")

        // b can run the small job: it goes there, not back to a.
        scheduler.requeue("small", excluding: "a", atMs: Mesh.noon + 1000)
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placement("small")?.site == "b")

        // Only a has a pool big enough for the big job: excluding it would strand the job.
        scheduler.requeue("big", excluding: "a", atMs: Mesh.noon + 2000)
        let again = scheduler.schedule(nowMs: Mesh.noon + 2000)
        #expect(again.placement("big")?.site == "a")

        // A job that no site can run stays unplaceable, exclusions or not.
        scheduler.enqueue(Mesh.job("huge", count: 16))
        _ = scheduler.schedule(nowMs: Mesh.noon + 3000)
        #expect(scheduler.explain("huge", nowMs: Mesh.noon + 3000)?.verdict == .unplaceable)
    }

    @Test("a shrunken or vanished pool takes no new work until its allocations fit again")
    func shrinkAndVanish() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10), Mesh.pool(Mesh.h100, 4)])])
        scheduler.enqueue(Mesh.job("big", count: 8))
        scheduler.enqueue(Mesh.job("fast", classes: [Mesh.h100], count: 4))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placements.count == 2)
        scheduler.confirm("big", atMs: Mesh.noon)

        // Half the A100 nodes went down; the H100 pool disappeared from the report.
        scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 4, free: 0)])
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 8)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.h100) == 4)
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 0)
        #expect(scheduler.sites["a"]?.pools.count == 1)
        scheduler.enqueue(Mesh.job("small", count: 1))
        scheduler.enqueue(Mesh.job("fast-2", classes: [Mesh.h100], count: 1))
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placements.isEmpty)
        #expect(scheduler.explain("fast-2", nowMs: Mesh.noon + 1000)?.verdict == .unplaceable)

        scheduler.release("big")
        scheduler.release("fast")
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.h100) == 0)
        #expect(scheduler.schedule(nowMs: Mesh.noon + 2000).placements.isEmpty, "the site still reports nothing free")
        scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 4), Mesh.pool(Mesh.h100, 4)])
        #expect(Set(scheduler.schedule(nowMs: Mesh.noon + 3000).placedJobs) == ["small", "fast-2"])
    }

    @Test("holds count against the reported free units until the site confirms")
    func holdsAgainstReportedFree() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10, free: 6)])])
        scheduler.enqueue(Mesh.job("j", count: 4))
        _ = scheduler.schedule(nowMs: Mesh.noon)
        // Held 4 of the 6 the site sees free: 2 left, although count − allocated is 6.
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 2)
        // The site accepted it and now reports it running.
        scheduler.confirm("j", atMs: Mesh.noon + 500)
        scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 10, free: 2)])
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 2)
        // A stale report (before the job started) cannot over-commit the pool.
        scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 10, free: 10)])
        #expect(scheduler.freeUnits(site: "a", cls: Mesh.a100) == 6)
    }

    @Test("restored jobs hold their units, even before their site is known again")
    func restore() {
        var scheduler = Mesh.scheduler([])
        scheduler.restore(Mesh.job("running", count: 8), site: "x", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: true)
        scheduler.restore(Mesh.job("placed", count: 1), site: "x", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: false)
        #expect(scheduler.allocatedUnits(site: "x", cls: Mesh.a100) == 9)
        #expect(scheduler.expiredHolds(nowMs: Mesh.noon + 60_000) == ["placed"])
        scheduler.upsertSite(Mesh.site("x", pools: [Mesh.pool(Mesh.a100, 12, free: 4)]))
        #expect(scheduler.freeUnits(site: "x", cls: Mesh.a100) == 3)
        scheduler.enqueue(Mesh.job("four", count: 4))
        scheduler.enqueue(Mesh.job("three", count: 3, submitted: 1))
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placedJobs == ["three"])
        scheduler.removeSite("x")
        #expect(scheduler.allocatedUnits(site: "x", cls: Mesh.a100) == 12)
        #expect(scheduler.sites["x"] == nil)
        scheduler.upsertSite(Mesh.site("x", pools: [Mesh.pool(Mesh.a100, 12)]))
        #expect(scheduler.allocatedUnits(site: "x", cls: Mesh.a100) == 12)
    }

    @Test("after every job is released nothing stays allocated")
    func nothingLeaks() {
        var scheduler = Self.twoSites()
        scheduler.upsertSite(Mesh.site("c", pools: [Mesh.pool(Mesh.h100, 4)]))
        for index in 0..<40 {
            scheduler.enqueue(
                Mesh.job(JobID(rawValue: "j\(index)"), classes: index % 3 == 0 ? [Mesh.h100] : [Mesh.a100], count: 1 + index % 3))
        }
        var now = Mesh.noon
        var placed: [JobID] = []
        for round in 0..<12 {
            now += 1000
            let pass = scheduler.schedule(nowMs: now)
            placed += pass.placedJobs
            for (index, placement) in pass.placements.enumerated() {
                switch (round + index) % 4 {
                case 0: scheduler.confirm(placement.job, atMs: now)
                case 1: scheduler.requeue(placement.job, excluding: placement.site, atMs: now)
                case 2: scheduler.release(placement.job)
                default: break
                }
            }
            if round == 6 { scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 2)]) }
            if round == 8 { scheduler.setStatus(.draining, site: "b") }
        }
        for index in 0..<40 { scheduler.release(JobID(rawValue: "j\(index)")) }
        for site in ["a", "b", "c"] as [SiteID] {
            for cls in [Mesh.a100, Mesh.h100] { #expect(scheduler.allocatedUnits(site: site, cls: cls) == 0) }
        }
        #expect(scheduler.queuedCount == 0)
        #expect(scheduler.expiredHolds(nowMs: .max).isEmpty)
        #expect(scheduler.tenantShares().isEmpty)
        #expect(!placed.isEmpty)
    }
}
