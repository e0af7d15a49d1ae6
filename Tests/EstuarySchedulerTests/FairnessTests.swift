import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct FairnessTests {
    @Test("a gang takes all its units from one pool or waits")
    func gangAllOrNone() throws {
        var scheduler = Mesh.scheduler([
            Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 32, free: 24)]),
            Mesh.site("b", pools: [Mesh.pool(Mesh.a100, 32, free: 16)]),
        ])
        scheduler.enqueue(Mesh.job("gang", count: 8, tasks: 4))
        #expect(scheduler.schedule(nowMs: Mesh.noon).placements.isEmpty)
        #expect(scheduler.allocatedUnits(site: "a", cls: Mesh.a100) == 0)
        #expect(scheduler.allocatedUnits(site: "b", cls: Mesh.a100) == 0)
        let explanation = try #require(scheduler.explain("gang", nowMs: Mesh.noon))
        #expect(explanation.reasons(at: "a") == ["busy: needs 32 free nvidia-a100, 24 free"])
        #expect(explanation.reasons(at: "b") == ["busy: needs 32 free nvidia-a100, 16 free"])

        scheduler.updatePools(site: "b", pools: [Mesh.pool(Mesh.a100, 32)])
        let placement = try #require(scheduler.schedule(nowMs: Mesh.noon + 1000).placement("gang"))
        #expect(placement.site == "b")
        #expect(placement.units == 32)
        #expect(scheduler.allocatedUnits(site: "b", cls: Mesh.a100) == 32)
    }

    @Test("within a tenant, higher priority first, then earlier submission")
    func queueOrder() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 2)])])
        scheduler.enqueue(Mesh.job("late-low", submitted: 30))
        scheduler.enqueue(Mesh.job("early-low", submitted: 10))
        scheduler.enqueue(Mesh.job("high", priority: 5, submitted: 40))
        #expect(scheduler.queuedCount == 3)
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placedJobs == ["high", "early-low"])
        #expect(scheduler.queuedCount == 1)
        scheduler.enqueue(Mesh.job("high", priority: 99, submitted: 0))  // same id: ignored
        scheduler.dequeue("late-low")
        scheduler.dequeue("unknown")
        #expect(scheduler.queuedCount == 0)
    }

    @Test("a tenant's quota caps the units of a class it holds; the rest waits for quota")
    func quota() throws {
        let policy = Mesh.policy(tenants: ["acme": TenantPolicy(quotas: [Mesh.a100: 16])])
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 64), Mesh.pool(Mesh.h100, 8)])], policy: policy)
        for index in 0..<3 { scheduler.enqueue(Mesh.job(JobID(rawValue: "j\(index)"), count: 8, submitted: Int64(index))) }
        scheduler.enqueue(Mesh.job("other-class", classes: [Mesh.h100], count: 8, submitted: 9))
        scheduler.enqueue(Mesh.job("other-tenant", tenant: "beta", count: 8, submitted: 10))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(Set(pass.placedJobs) == ["j0", "j1", "other-class", "other-tenant"])
        let explanation = try #require(scheduler.explain("j2", nowMs: Mesh.noon))
        #expect(explanation.verdict.description == "waiting for quota: quota: tenant acme holds 16 of 16 nvidia-a100")
        scheduler.release("j0")
        #expect(scheduler.schedule(nowMs: Mesh.noon + 1000).placedJobs == ["j2"])
    }

    @Test("weighted dominant resource fairness: weights 1 and 2 on one pool converge to 1:2")
    func weightedDRF() {
        let policy = Mesh.policy(tenants: ["t1": TenantPolicy(weight: 1), "t2": TenantPolicy(weight: 2)])
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 300)])], policy: policy)
        for index in 0..<300 {
            scheduler.enqueue(Mesh.job(JobID(rawValue: "a\(index)"), tenant: "t1", submitted: Int64(index)))
            scheduler.enqueue(Mesh.job(JobID(rawValue: "b\(index)"), tenant: "t2", submitted: Int64(index)))
        }
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placements.count == 300)
        let t1 = pass.placements.filter { $0.job.rawValue.hasPrefix("a") }.count
        #expect(t1 == 100)
        let shares = scheduler.tenantShares()
        #expect(abs(shares["t1"]! - 1.0 / 3) < 1e-9)
        #expect(abs(shares["t2"]! - 1.0 / 3) < 1e-9)
    }

    @Test("fair share spans classes: a tenant heavy on one class waits behind a light one")
    func dominantShareAcrossClasses() {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10), Mesh.pool(Mesh.h100, 100)])])
        // heavy already holds half the A100s: dominant share 0.5.
        scheduler.restore(Mesh.job("held", tenant: "heavy", count: 5), site: "a", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: true)
        for index in 0..<5 {
            scheduler.enqueue(Mesh.job(JobID(rawValue: "h\(index)"), tenant: "heavy", classes: [Mesh.h100], count: 10))
            scheduler.enqueue(Mesh.job(JobID(rawValue: "l\(index)"), tenant: "light", classes: [Mesh.h100], count: 10))
        }
        let pass = scheduler.schedule(nowMs: Mesh.noon, limit: 6)
        // light goes first until its H100 share (50 %) reaches heavy's A100 share.
        #expect(pass.placedJobs.prefix(5).allSatisfy { $0.rawValue.hasPrefix("l") })
        #expect(pass.placements.count == 6)
    }
}
