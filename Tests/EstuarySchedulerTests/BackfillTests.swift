import EstuaryModel
import EstuaryScheduler
import Testing

@Suite struct BackfillTests {
    /// A pool of 10 with 6 units running until noon + 1 h: 4 free now, 10 at the shadow time.
    static func busyPool() -> Scheduler {
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, 10, free: 4)])])
        scheduler.restore(Mesh.job("running", count: 6, walltime: 3600), site: "a", cls: Mesh.a100, heldAtMs: Mesh.noon, confirmed: true)
        return scheduler
    }

    @Test("backfill fills idle units with short jobs but never delays the reserved head job")
    func backfillKeepsTheReservation() throws {
        var scheduler = Self.busyPool()
        scheduler.enqueue(Mesh.job("head", count: 8, walltime: 7200, priority: 10))
        scheduler.enqueue(Mesh.job("long-1", count: 2, walltime: 3 * 3600, priority: 5, submitted: 1))
        scheduler.enqueue(Mesh.job("long-2", count: 2, walltime: 3 * 3600, priority: 5, submitted: 2))
        scheduler.enqueue(Mesh.job("short", count: 2, walltime: 1800, priority: 5, submitted: 3))
        let pass = scheduler.schedule(nowMs: Mesh.noon)

        let reservation = try #require(pass.reservations.first)
        #expect(pass.reservations.count == 1)
        #expect(reservation.job == "head")
        #expect(reservation.site == "a")
        #expect(reservation.units == 8)
        #expect(reservation.startMs == Mesh.noon + Mesh.hourMs)
        // long-1 leaves 8 units for the head at the shadow time (2 free + 6 released);
        // long-2 would leave 6; short ends before the shadow time.
        #expect(pass.placedJobs == ["long-1", "short"])
        let head = try #require(scheduler.explain("head", nowMs: Mesh.noon))
        #expect(head.verdict == .waitingForCapacity(reservation: reservation))
        #expect(head.verdict.description == "waiting for capacity: 8 nvidia-a100 at a reserved for job head, expected to start in ~1 h")

        // The short job and the running one end on time: the head starts at the shadow time.
        scheduler.confirm("long-1", atMs: Mesh.noon)
        scheduler.confirm("short", atMs: Mesh.noon)
        scheduler.release("short")
        scheduler.release("running")
        scheduler.updatePools(site: "a", pools: [Mesh.pool(Mesh.a100, 10, free: 8)])
        let later = scheduler.schedule(nowMs: Mesh.noon + Mesh.hourMs)
        #expect(later.placedJobs == ["head"])
    }

    @Test("without a reservation the same jobs would take the head's units")
    func depthZeroDisablesReservations() {
        var scheduler = Self.busyPool()
        scheduler.policy.reservationDepth = 0
        scheduler.enqueue(Mesh.job("head", count: 8, walltime: 7200, priority: 10))
        scheduler.enqueue(Mesh.job("long-1", count: 2, walltime: 3 * 3600, priority: 5, submitted: 1))
        scheduler.enqueue(Mesh.job("long-2", count: 2, walltime: 3 * 3600, priority: 5, submitted: 2))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.reservations.isEmpty)
        #expect(pass.placedJobs == ["long-1", "long-2"])
    }

    @Test("a job no site can ever run blocks nothing")
    func unplaceableHeadBlocksNothing() {
        var scheduler = Self.busyPool()
        scheduler.enqueue(Mesh.job("giant", count: 1000, priority: 100))
        scheduler.enqueue(Mesh.job("nowhere", classes: [Mesh.h100], priority: 100))
        scheduler.enqueue(Mesh.job("small", count: 4, walltime: 10 * 3600))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.reservations.isEmpty)
        #expect(pass.placedJobs == ["small"])
        #expect(scheduler.explain("giant", nowMs: Mesh.noon)?.verdict == .unplaceable)
    }

    @Test("reservations go to other pools' jobs untouched and explain names the holder")
    func otherPoolsUnaffected() throws {
        var scheduler = Self.busyPool()
        scheduler.upsertSite(Mesh.site("b", pools: [Mesh.pool(Mesh.h100, 4)]))
        scheduler.enqueue(Mesh.job("head", count: 8, walltime: 7200, priority: 10))
        scheduler.enqueue(Mesh.job("long", count: 4, walltime: 3 * 3600, submitted: 1))
        scheduler.enqueue(Mesh.job("h100", tenant: "other", classes: [Mesh.h100], count: 4, walltime: 3 * 3600, submitted: 2))
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placedJobs == ["h100"])
        let long = try #require(scheduler.explain("long", nowMs: Mesh.noon))
        #expect(long.reasons(at: "a") == ["busy: free nvidia-a100 reserved for job head, which should start in ~1 h"])
        guard case .waitingForCapacity(let holder) = long.verdict else {
            Issue.record("\(long.verdict)")
            return
        }
        #expect(holder?.job == "head")
    }
}
