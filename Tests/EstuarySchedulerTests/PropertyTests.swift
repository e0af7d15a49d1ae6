import EstuaryModel
import EstuaryScheduler
import Testing

/// Random meshes and job streams from a seed; every placement is re-checked here against the
/// job's rules and an independent model of the pools. A failure names its seed.
@Suite struct PropertyTests {
    static let seeds: [UInt64] = Array(1...200)

    static let classes: [AcceleratorClass] = [Mesh.a100, Mesh.a800, Mesh.h100, Mesh.ascend, Mesh.v100m16, "cpu-x86-64"]
    static let regions = ["shenzhen", "shaoguan", "beijing", "hongkong", "lhasa"]
    static let zones = ["gba", "mainland", "hk", "overseas"]

    struct World {
        var policy: SchedulerPolicy
        var sites: [SchedulerSite]
        var tenants: [TenantID]
    }

    static func world(_ rng: inout SplitMix64) -> World {
        var latency = LatencyMatrix(sameRegionMs: 1)
        for a in regions {
            for b in regions where a < b && rng.chance(70) { latency.set(a, b, ms: rng.int(1...60)) }
        }
        var tenants: [TenantID: TenantPolicy] = [:]
        let names = (0..<rng.int(1...4)).map { TenantID(rawValue: "t\($0)") }
        for name in names {
            var quotas: [AcceleratorClass: Int] = [:]
            if rng.chance(30) { quotas[rng.pick(classes)] = rng.int(0...24) }
            tenants[name] = TenantPolicy(weight: rng.int(1...3), quotas: quotas)
        }
        let policy = SchedulerPolicy(
            latency: latency, tenants: tenants, defaultPreference: rng.pick(PlacementPreference.allCases), holdTimeoutMs: 60_000,
            reservationDepth: rng.int(0...4))
        var sites: [SchedulerSite] = []
        for index in 0..<rng.int(2...8) {
            var pools: [SchedulerPool] = []
            var prices: [AcceleratorClass: ClassPrice] = [:]
            for cls in classes.shuffled(using: &rng).prefix(rng.int(1...3)) {
                let count = rng.int(1...32)
                pools.append(SchedulerPool(cls: cls, count: count, reportedFree: rng.chance(70) ? count : rng.int(0...count)))
                if rng.chance(85) {
                    let flat = Int64(rng.int(100...5000))
                    prices[cls] = ClassPrice(flat: flat, peak: flat * 3 / 2, valley: flat / 2)
                }
            }
            let periods =
                rng.chance(50)
                ? [
                    TariffPeriod(kind: .valley, startMinute: 23 * 60, endMinute: 7 * 60),
                    TariffPeriod(kind: .peak, startMinute: 9 * 60, endMinute: 21 * 60),
                ]
                : []
            let hourly = rng.chance(30) ? (0..<24).map { _ in rng.int(50...900) } : []
            sites.append(
                SchedulerSite(
                    id: SiteID(rawValue: "site-\(index)"), region: rng.pick(regions),
                    zones: Set(zones.filter { _ in rng.chance(50) }),
                    energy: SiteEnergy(
                        greenShareBP: rng.int(0...10_000), pueMilli: rng.int(1000...2000), gridGramsPerKWh: rng.int(100...900),
                        hourlyGramsPerKWh: hourly),
                    priceBook: PriceBook(prices: prices, periods: periods),
                    status: rng.chance(85) ? .available : rng.pick([.draining, .unreachable]),
                    pools: pools))
        }
        return World(policy: policy, sites: sites, tenants: names + ["nobody"])
    }

    static func job(_ id: Int, _ rng: inout SplitMix64, world: World, nowMs: Int64) -> SchedulerJob {
        let resources: ResourceRequest
        if rng.chance(20) {
            resources = ResourceRequest(
                classes: [], minFP16TFLOPS: rng.chance(60) ? Double(rng.int(100...400)) : nil,
                minMemoryGiB: rng.chance(50) ? Double(rng.int(8...80)) : nil,
                count: rng.int(1...8), tasks: rng.int(1...3))
        } else {
            let chosen = Array(Set((0..<rng.int(1...2)).map { _ in rng.pick(Self.classes) })).sorted()
            resources = ResourceRequest(classes: chosen, count: rng.int(1...8), tasks: rng.int(1...3))
        }
        var constraints = PlacementConstraints()
        if rng.chance(20) { constraints.dataZone = rng.pick(zones) }
        if rng.chance(15) { constraints.residency = rng.pick(zones) }
        if rng.chance(15) { constraints.domesticOnly = true }
        if rng.chance(40) { constraints.fromRegion = rng.pick(regions) }
        if rng.chance(20) {
            constraints.maxLatencyMs = rng.int(0...40)
            constraints.fromRegion = constraints.fromRegion ?? rng.pick(regions)
        }
        if rng.chance(15) { constraints.minGreenShareBP = rng.int(0...9000) }
        if rng.chance(20) { constraints.maxPricePerHourFen = Int64(rng.int(1000...60_000)) }
        if rng.chance(15) { constraints.allowSites = world.sites.filter { _ in rng.chance(50) }.map(\.id) }
        if rng.chance(15) { constraints.denySites = world.sites.filter { _ in rng.chance(30) }.map(\.id) }
        if rng.chance(20) { constraints.dataRegion = rng.pick(regions) }
        var deferral: Deferral?
        let walltime = rng.int(60...4 * 3600)
        if rng.chance(10) { deferral = Deferral(notBeforeMs: nowMs + Int64(rng.int(0...7200)) * 1000) }
        if rng.chance(10) { deferral = Deferral(deadlineMs: nowMs + Int64(walltime + rng.int(0...24 * 3600)) * 1000, deferrable: true) }
        return SchedulerJob(
            id: JobID(rawValue: "j\(id)"), tenant: rng.pick(world.tenants), priority: rng.int(-2...2),
            submittedAtMs: nowMs - Int64(rng.int(0...1000)),
            resources: resources, walltimeSeconds: walltime, constraints: constraints,
            preference: rng.chance(30) ? nil : rng.pick(PlacementPreference.allCases), deferral: deferral)
    }

    /// Everything a placement must satisfy, checked from the job and the site alone.
    /// Whether only sites the job excludes (after rejections) pass its rules: then it may go
    /// back to one of them.
    static func excludedOnly(_ job: SchedulerJob, sites: [SchedulerSite], policy: SchedulerPolicy, nowMs: Int64) -> Bool {
        var open = job
        open.excludedSites = []
        open.deferral = nil
        let units = job.resources.count * job.resources.tasks
        for site in sites where !job.excludedSites.contains(site.id) {
            for pool in site.pools {
                let candidate = Placement(job: job.id, site: site.id, cls: pool.cls, units: units, score: 0, reason: "", holdExpiresAtMs: 0)
                if violations(candidate, job: open, site: site, sites: sites, policy: policy, nowMs: nowMs).isEmpty { return false }
            }
        }
        return true
    }

    static func violations(
        _ p: Placement, job: SchedulerJob, site: SchedulerSite?, sites: [SchedulerSite], policy: SchedulerPolicy, nowMs: Int64
    ) -> [String] {
        guard let site else { return ["placed at an unknown site"] }
        var problems: [String] = []
        let c = job.constraints
        if site.status != .available { problems.append("status \(site.status)") }
        if !c.allowSites.isEmpty && !c.allowSites.contains(site.id) { problems.append("not allowed") }
        if c.denySites.contains(site.id) { problems.append("denied") }
        if job.excludedSites.contains(site.id) && !excludedOnly(job, sites: sites, policy: policy, nowMs: nowMs) {
            problems.append("excluded while another site could run it")
        }
        if let zone = c.dataZone, !site.zones.contains(zone) { problems.append("data zone") }
        if let zone = c.residency, !site.zones.contains(zone) { problems.append("residency") }
        if job.resources.classes.isEmpty {
            guard let spec = Mesh.catalog[p.cls] else { return problems + ["capability matched a class outside the catalog"] }
            if let minimum = job.resources.minFP16TFLOPS, spec.fp16TFLOPS < minimum { problems.append("tflops") }
            if let minimum = job.resources.minMemoryGiB, spec.memoryGiB < minimum { problems.append("memory") }
        } else if !job.resources.classes.contains(p.cls) {
            problems.append("class \(p.cls) not requested")
        }
        if c.domesticOnly && Mesh.catalog[p.cls]?.domestic != true { problems.append("not domestic") }
        if let maxMs = c.maxLatencyMs {
            guard let from = c.fromRegion, let ms = policy.latency.ms(from: from, to: site.region), ms <= maxMs else {
                return problems + ["latency"]
            }
        }
        if let minimum = c.minGreenShareBP, site.energy.greenShareBP < minimum { problems.append("green") }
        if let maxPrice = c.maxPricePerHourFen {
            guard let price = site.priceBook.fenPerUnitHour(p.cls, atMs: nowMs), price * Int64(p.units) <= maxPrice else {
                return problems + ["price"]
            }
        }
        if p.units != job.resources.count * job.resources.tasks { problems.append("gang split: \(p.units) units") }
        guard let pool = site.pools.first(where: { $0.cls == p.cls }), pool.count >= p.units else {
            return problems + ["no pool big enough"]
        }
        if let notBefore = job.deferral?.notBeforeMs, notBefore > nowMs { problems.append("before not_before") }
        return problems
    }

    struct Held {
        var site: SiteID
        var cls: AcceleratorClass
        var units: Int
        var confirmed: Bool
    }

    /// Runs one random mesh through several passes and events; returns the placements as text.
    static func run(seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var world = world(&rng)
        var scheduler = Scheduler(catalog: Mesh.catalog, policy: world.policy)
        for site in world.sites { scheduler.upsertSite(site) }
        var now = Mesh.noon + Int64(rng.int(0...24)) * Mesh.hourMs
        var jobs: [JobID: SchedulerJob] = [:]
        var held: [JobID: Held] = [:]
        var log: [String] = []
        var nextJob = 0
        func addJobs(_ count: Int, _ rng: inout SplitMix64) {
            for _ in 0..<count {
                let job = job(nextJob, &rng, world: world, nowMs: now)
                nextJob += 1
                jobs[job.id] = job
                scheduler.enqueue(job)
            }
        }
        addJobs(rng.int(10...50), &rng)

        for _ in 0..<6 {
            let unplaceable = Set(jobs.keys.filter { held[$0] == nil && scheduler.explain($0, nowMs: now)?.verdict == .unplaceable })
            let pass = scheduler.schedule(nowMs: now, limit: rng.chance(20) ? rng.int(1...5) : .max)
            for placement in pass.placements {
                let job = jobs[placement.job]!
                let site = scheduler.sites[placement.site]
                let problems = violations(
                    placement, job: job, site: site, sites: Array(scheduler.sites.values), policy: world.policy, nowMs: now)
                #expect(problems.isEmpty, "seed \(seed): \(placement.job) at \(placement.site): \(problems)")
                #expect(!unplaceable.contains(placement.job), "seed \(seed): \(placement.job) was explained as unplaceable")
                #expect(held[placement.job] == nil, "seed \(seed): \(placement.job) placed twice")
                // Never over-committed: all held units within the pool, new holds within what the site reports free.
                let pool = site?.pools.first { $0.cls == placement.cls }
                let before = held.values.filter { $0.site == placement.site && $0.cls == placement.cls }
                let allocated = before.reduce(0) { $0 + $1.units } + placement.units
                let unconfirmed = before.filter { !$0.confirmed }.reduce(0) { $0 + $1.units } + placement.units
                #expect(allocated <= pool?.count ?? 0, "seed \(seed): \(placement.site) \(placement.cls) over-committed")
                #expect(unconfirmed <= pool?.reportedFree ?? 0, "seed \(seed): holds beyond the reported free units")
                held[placement.job] = Held(site: placement.site, cls: placement.cls, units: placement.units, confirmed: false)
                log.append(
                    "\(now) \(placement.job) \(placement.site) \(placement.cls) \(placement.units) \(placement.score) \(placement.reason)")
            }
            for deferment in pass.deferred {
                #expect(deferment.untilMs > now, "seed \(seed)")
                log.append("\(now) defer \(deferment.job) \(deferment.untilMs)")
            }

            // The scheduler's books match the model.
            for site in world.sites {
                for cls in classes {
                    let expected = held.values.filter { $0.site == site.id && $0.cls == cls }.reduce(0) { $0 + $1.units }
                    #expect(scheduler.allocatedUnits(site: site.id, cls: cls) == expected, "seed \(seed): books of \(site.id) \(cls)")
                }
            }

            // Events.
            now += Int64(rng.int(1...90)) * 60_000
            for id in held.keys.sorted() {
                switch rng.int(0...9) {
                case 0...3:
                    if !held[id]!.confirmed {
                        scheduler.confirm(id, atMs: now)
                        held[id]!.confirmed = true
                    }
                case 4...5:
                    scheduler.release(id)
                    held[id] = nil
                    jobs[id] = nil
                case 6:
                    scheduler.requeue(id, excluding: held[id]!.site, atMs: now)
                    jobs[id]!.excludedSites.insert(held[id]!.site)
                    held[id] = nil
                default: break
                }
            }
            for index in world.sites.indices where rng.chance(25) {
                let pools = world.sites[index].pools.compactMap { pool -> SchedulerPool? in
                    guard rng.chance(90) else { return nil }
                    let count = max(0, pool.count + rng.int(-4...4))
                    return SchedulerPool(cls: pool.cls, count: count, reportedFree: rng.int(0...count))
                }
                world.sites[index].pools = pools
                scheduler.updatePools(site: world.sites[index].id, pools: pools)
            }
            if rng.chance(20) {
                let index = rng.int(0...(world.sites.count - 1))
                world.sites[index].status = rng.pick([.available, .draining, .unreachable])
                scheduler.setStatus(world.sites[index].status, site: world.sites[index].id)
            }
            for id in jobs.keys.sorted() where held[id] == nil && rng.chance(5) {
                scheduler.dequeue(id)
                jobs[id] = nil
            }
            addJobs(rng.int(0...10), &rng)
        }

        for id in jobs.keys { scheduler.release(id) }
        for site in world.sites {
            for cls in classes { #expect(scheduler.allocatedUnits(site: site.id, cls: cls) == 0, "seed \(seed): leaked at \(site.id)") }
        }
        #expect(scheduler.queuedCount == 0, "seed \(seed)")
        #expect(scheduler.tenantShares().isEmpty, "seed \(seed)")
        return log
    }

    @Test("random meshes: rules hold, pools are never over-committed, gangs stay whole, nothing leaks", arguments: seeds)
    func randomMesh(seed: UInt64) {
        _ = Self.run(seed: seed)
    }

    @Test("the same seed gives the same placements", arguments: [7, 42, 99, 1234] as [UInt64])
    func deterministic(seed: UInt64) {
        let first = Self.run(seed: seed)
        #expect(!first.isEmpty)
        #expect(first == Self.run(seed: seed))
    }

    @Test("dominant shares converge to the weights", arguments: Array(1...30) as [UInt64])
    func sharesConverge(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let weights = (0..<rng.int(2...4)).map { _ in rng.int(1...4) }
        let total = weights.reduce(0, +) * rng.int(5...20)
        var tenants: [TenantID: TenantPolicy] = [:]
        for (index, weight) in weights.enumerated() { tenants[TenantID(rawValue: "t\(index)")] = TenantPolicy(weight: weight) }
        var scheduler = Mesh.scheduler([Mesh.site("a", pools: [Mesh.pool(Mesh.a100, total)])], policy: Mesh.policy(tenants: tenants))
        for index in 0..<total {
            for tenant in weights.indices {
                scheduler.enqueue(
                    Mesh.job(JobID(rawValue: "t\(tenant)-\(index)"), tenant: TenantID(rawValue: "t\(tenant)"), submitted: Int64(index)))
            }
        }
        let pass = scheduler.schedule(nowMs: Mesh.noon)
        #expect(pass.placements.count == total)
        let fair = Double(total) / Double(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            let units = pass.placements.filter { $0.job.rawValue.hasPrefix("t\(index)-") }.count
            #expect(
                abs(Double(units) - fair * Double(weight)) <= 1, "seed \(seed): tenant \(index) weight \(weight) got \(units) of \(total)")
        }
    }
}
