import EstuaryLedger
import EstuaryModel
import EstuaryStore
import EstuaryWire
import Foundation
import Logging
import Synchronization
import Testing

@testable import EstuaryCoordinator

/// The money path through the coordinator core (no sockets) over a real SQLite store, with a
/// clock the test moves: usage rated and posted in the upstream transaction, admission holds,
/// settlement of a period, and the ledger reloaded after a restart.
@Suite("Coordinator metering")
struct MeterTests {
    final class Clock: Sendable {
        let now: Mutex<Int64>
        init(_ ms: Int64) { now = Mutex(ms) }
        func set(_ ms: Int64) { now.withLock { $0 = ms } }
        func read() -> Int64 { now.withLock { $0 } }
    }

    final class Fixture: Sendable {
        let directory: String
        let store: CoordinatorStore
        let core: CoordinatorCore
        let clock: Clock
        var money: LiveMoney { LiveMoney(core: core, store: store, clock: { [clock] in clock.read() }) }

        /// 2026-11-30 12:00 China time.
        static let november30: Int64 = 1_796_011_200_000

        init(directory: String? = nil, clock: Clock = Clock(Fixture.november30), lostAfterMs: Int64 = 10 * 60 * 1000) async throws {
            self.directory =
                directory
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("estuary-meter-\(UUID().uuidString)").path
            self.clock = clock
            store = try CoordinatorStore(directory: self.directory, logger: Logger(label: "test"))
            var configuration = CoordinatorConfiguration(dataDirectory: self.directory)
            configuration.metering.platformFee = PlatformFee(basisPoints: 200)
            configuration.lostAfterMs = lostAfterMs
            core = CoordinatorCore(
                store: store, configuration: configuration, logger: Logger(label: "test"), clock: { [clock] in clock.read() },
                onFatal: { error in Issue.record("fatal store error: \(error)") })
            try await core.bootstrap()
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        /// Connects a site with 8 units of `pool`, by default `gz` with CPUs priced at 3,600 fen
        /// per unit-hour (1 fen a unit-second).
        /// With `price` nil the site announces no prices at all.
        func connect(_ site: String = "gz", pool: String = "cpu-x86-64", price: Int64? = 3_600) async throws -> SiteLink {
            let link = SiteLink(sessionID: "s-\(site)")
            var hello = Estuary_V1_Hello()
            hello.site = .with { $0.id = site; $0.region = "test"; $0.driver = "process" }
            hello.outboxEpoch = "e1"
            let descriptor = SiteDescriptor(
                id: SiteID(rawValue: site), displayName: site, region: "test", zones: [], driver: "process",
                priceBook: PriceBook(prices: price.map { [AcceleratorClass(rawValue: pool): ClassPrice(flat: $0)] } ?? [:]))
            _ = try await core.attach(hello: hello, descriptor: descriptor, link: link)
            await core.capacity(site: SiteID(rawValue: site), link: link, report: .with {
                $0.full = true
                $0.pools = [.with { $0.acceleratorClass = pool; $0.count = 8; $0.free = 8 }]
            })
            return link
        }

        func submit(tenant: TenantID, units: Int = 2, walltimeSeconds: Int = 540) async throws -> JobID {
            let spec = JobSpec(
                name: "j", tenant: tenant, command: ["/bin/true"],
                resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: units), walltimeSeconds: walltimeSeconds)
            return try await core.submit(spec).job.id
        }

        func state(_ id: JobID) async throws -> JobState? {
            try await store.read { tx in try tx.job(id)?.state }
        }

        /// The envelope a site sends for `job`'s usage: `units` units for `seconds`, ending now.
        func usage(_ job: JobID, units: Int = 2, seconds: Int64, seq: UInt64) -> Estuary_V1_Envelope {
            let end = clock.read()
            return Estuary_V1_Envelope(seq: seq, body: .usage(.with {
                $0.records = [.with {
                    $0.recordID = UsageRecordID.forJob(job, attempt: 1).rawValue
                    $0.jobID = job.rawValue
                    $0.acceleratorClass = "cpu-x86-64"
                    $0.units = UInt32(units)
                    $0.startedAtMs = end - seconds * 1000
                    $0.endedAtMs = end
                }]
            }))
        }
    }

    @Test("usage is charged once in the upstream transaction; the job's hold is drawn on and released")
    func chargedOnce() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let link = try await fixture.connect()
        _ = try await fixture.money.upsertTenant(TenantRequest(tenant: "acme", organisation: "acme-ai", creditLimitFen: 0))
        _ = try await fixture.money.topUp("acme", TopUpRequest(amountFen: 10_000, reference: "p1"))
        // A payment credits one registered wallet once: not a mistyped tenant, not a second tenant.
        await #expect(throws: BackendError.self) { try await fixture.money.topUp("acme-typo", TopUpRequest(amountFen: 1, reference: "p2")) }
        _ = try await fixture.money.upsertTenant(TenantRequest(tenant: "beta", organisation: "beta-org", creditLimitFen: 0))
        await #expect(throws: BackendError.conflict(
            "top-up reference p1 was already used (for another tenant or amount); a payment credits one wallet once")) {
            try await fixture.money.topUp("beta", TopUpRequest(amountFen: 10_000, reference: "p1"))
        }
        let job = try await fixture.submit(tenant: "acme")
        await fixture.core.placeQueued()
        #expect(try await fixture.state(job) == .placed)
        // 2 units × 3,600 fen/h × (540 s + 60 s overrun) = 1,200 fen held.
        #expect(fixture.core.meter.tenantView("acme")?.heldFen == 1_200)

        let usage = fixture.usage(job, seconds: 100, seq: 1)
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [usage])
        // The same envelope resent (at or below the cursor) and the same record in a later
        // envelope (an agent that re-sent it) both post nothing.
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [usage])
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [fixture.usage(job, seconds: 100, seq: 2)])

        let tenant = try #require(fixture.core.meter.tenantView("acme"))
        #expect(tenant.balanceFen == 10_000 - 200, "2 units × 100 s × 1 fen charged once")
        #expect(tenant.heldFen == 0)
        #expect(fixture.core.meter.balance(.siteReceivable("gz")) == 196)  // 2 % fee, truncated
        #expect(fixture.core.meter.balance(.platformFee) == 4)
        #expect(fixture.core.meter.sumOfBalances == 0)
        let view = try await fixture.money.meteredUsage(UsageQuery(job: job))
        #expect(view.metered?.count == 1 && view.metered?.first?.charge?.grossFen == 200)
    }

    /// `count` jobs that ran at `gz` on 2 CPUs for 10…(10 + count) s, ending now, and their records.
    static func ranAtGZ(_ count: Int, tenant: TenantID, endMs: Int64) -> ([JobID: JobRecord], [UsageRecord]) {
        var jobs: [JobID: JobRecord] = [:]
        var records: [UsageRecord] = []
        for index in 0..<count {
            let id = JobID(rawValue: "j-batch-\(index)")
            jobs[id] = JobRecord(
                id: id,
                spec: JobSpec(
                    name: "b", tenant: tenant, command: ["/bin/true"],
                    resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: 2), walltimeSeconds: 600),
                state: .succeeded, siteID: "gz", attempt: 1, createdAtMs: endMs - 600_000, updatedAtMs: endMs,
                placedClass: "cpu-x86-64")
            records.append(
                UsageRecord(
                    id: .forJob(id, attempt: 1), jobID: id, siteID: "gz", acceleratorClass: "cpu-x86-64", units: 2,
                    startedAtMs: endMs - Int64(10 + index) * 1000, endedAtMs: endMs))
        }
        return (jobs, records)
    }

    /// A connected site gz with `count` finished jobs of acme, and their usage checked and rated.
    struct Batch {
        var meter: Meter
        var end: Int64
        var jobs: [JobID: JobRecord]
        var records: [UsageRecord]
        var prepared: PreparedUsage
    }

    static func batch(_ count: Int, on fixture: Fixture) async throws -> Batch {
        _ = try await fixture.connect()
        let meter = fixture.core.meter
        let end = fixture.clock.read()
        let (jobs, records) = ranAtGZ(count, tenant: "acme", endMs: end)
        let prepared = meter.prepareUsage(records, site: "gz", jobs: jobs, energy: .unstated, nowMs: end)
        return Batch(meter: meter, end: end, jobs: jobs, records: records, prepared: prepared)
    }

    @Test("a batch of many chunks is posted on the poster while the writer inserts: every record charged once, to the fen")
    func pipelinedBatch() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let batch = try await Self.batch(300, on: fixture)
        let (meter, prepared) = (batch.meter, batch.prepared)
        let posted = try await fixture.store.write { tx in try meter.postUsage(prepared, tx: tx) }
        #expect(posted.charged == 300 && posted.duplicates == 0 && posted.skipped == 0 && posted.unrated == 0)
        // 2 units × (10 + i) s × 1 fen for i in 0..<300.
        let gross = Int64((0..<300).reduce(0) { $0 + 2 * (10 + $1) })
        #expect(meter.balance(.wallet("acme")) == -gross)
        #expect(meter.sumOfBalances == 0)
        let (rows, stored) = try await fixture.store.read { tx -> (Int, [AccountID: Fen]) in
            var rows = 0
            try tx.forEachLedgerTransaction(period: try BillingPeriod(year: 2026, month: 11)) { _ in rows += 1 }
            return (rows, try tx.ledgerBalances())
        }
        #expect(rows == 300, "one journal row per charge, in a period of its own here")
        #expect(stored[.wallet("acme")] == -gross && stored.values.reduce(0, +) == 0)
        let again = try await fixture.store.write { tx in try meter.postUsage(prepared, tx: tx) }
        #expect(again.charged == 0 && again.duplicates == 300)
        #expect(meter.balance(.wallet("acme")) == -gross)
    }

    @Test("usage for a job the coordinator no longer holds in memory is checked against the stored job and charged once")
    func usageForAStoredJob() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let link = try await fixture.connect()
        let end = fixture.clock.read()
        // A job that ended before a restart: in the store, in no in-memory map.
        let (jobs, _) = Self.ranAtGZ(1, tenant: "acme", endMs: end)
        let job = try #require(jobs.values.first)
        try await fixture.store.write { tx in try tx.insertJob(job) }
        let usage = fixture.usage(job.id, seconds: 100, seq: 1)
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [usage])
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [fixture.usage(job.id, seconds: 100, seq: 2)])
        #expect(fixture.core.meter.balance(.wallet("acme")) == -200, "2 units × 100 s × 1 fen, once")
        // A record for a stored job that ran elsewhere is refused, not charged.
        let other = JobRecord(
            id: "j-elsewhere", spec: job.spec, state: .succeeded, siteID: "sz", attempt: 1, createdAtMs: 0, updatedAtMs: 0,
            placedClass: "cpu-x86-64")
        try await fixture.store.write { tx in try tx.insertJob(other) }
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [fixture.usage(other.id, seconds: 100, seq: 3)])
        #expect(fixture.core.meter.balance(.wallet("acme")) == -200)
        #expect(fixture.core.meter.sumOfBalances == 0)
    }

    @Test("a journal write that fails after the poster posted stops the meter; a restart reloads what was committed")
    func failurePartWayStopsTheMeter() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let batch = try await Self.batch(200, on: fixture)
        let (meter, end, records, prepared) = (batch.meter, batch.end, batch.records, batch.prepared)
        // A row already holding the journal id of the 150th charge: its INSERT must fail.
        try await fixture.store.write { tx in
            try tx.insertLedgerTransaction(
                try LedgerTransaction.topUp(id: "usage:\(records[150].id.rawValue)", tenant: "other", amount: 1),
                period: try BillingPeriod(year: 2026, month: 11), atMs: end, charge: nil)
        }
        await #expect(throws: (any Error).self) { try await fixture.store.write { tx in try meter.postUsage(prepared, tx: tx) } }
        // Memory had the charges, the store does not.
        try await Self.expectStoppedWithNothingCommitted(fixture)
    }

    /// The meter refuses every further change, and a restart finds nothing of acme's usage.
    static func expectStoppedWithNothingCommitted(_ fixture: Fixture) async throws {
        await #expect(throws: (any Error).self) {
            try await fixture.money.upsertTenant(TenantRequest(tenant: "acme", organisation: "acme-ai", creditLimitFen: nil))
        }
        let restarted = try await Fixture(directory: fixture.directory, clock: fixture.clock)
        #expect(restarted.core.meter.balance(.wallet("acme")) == 0, "nothing of the failed write was committed")
        #expect(restarted.core.meter.sumOfBalances == 0)
    }

    struct AfterPosting: Error {}

    @Test("a write that throws after posting usage stops the meter and leaves nothing of the batch on disk")
    func writeFailingAfterPosting() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let batch = try await Self.batch(200, on: fixture)
        let (meter, prepared) = (batch.meter, batch.prepared)
        // The unit's savepoint is rolled back after its postings were handed to the poster (and
        // before their journal rows were written, which happens at commit). The meter stops, so
        // the whole transaction fails with its error.
        await #expect(throws: MeterError.self) {
            try await fixture.store.write { tx in
                _ = try meter.postUsage(prepared, tx: tx)
                throw AfterPosting()
            }
        }
        let (usage, journal) = try await fixture.store.read { tx -> (Int, Int) in
            (try tx.usage(job: nil).count, try tx.ledgerTransactionCount(period: try BillingPeriod(year: 2026, month: 11)))
        }
        #expect(usage == 0 && journal == 0)
        try await Self.expectStoppedWithNothingCommitted(fixture)
    }

    @Test("a change after a usage posting in the same write comes after it, in memory and on disk")
    func changeAfterPostingInOneWrite() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let batch = try await Self.batch(100, on: fixture)
        let (meter, end, jobs, records, prepared) = (batch.meter, batch.end, batch.jobs, batch.records, batch.prepared)
        let held = try #require(jobs[records[99].jobID])
        // The last job holds money; its usage (its current attempt) releases the hold, and a
        // new hold for it (a retry, say) is taken in the same write, after the posting.
        let first = try await fixture.store.write { tx in
            try meter.hold(job: held, site: "gz", cls: "cpu-x86-64", units: 2, nowMs: end, tx: tx)
        }
        #expect(first == nil)
        let again = try await fixture.store.write { tx -> HoldRefusal? in
            let posted = try meter.postUsage(prepared, tx: tx)
            #expect(posted.charged == 100)
            return try meter.hold(job: held, site: "gz", cls: "cpu-x86-64", units: 2, nowMs: end, tx: tx)
        }
        #expect(again == nil)
        let (holds, journal, balances) = try await fixture.store.read { tx in
            (try tx.holds(), try tx.ledgerTransactionCount(period: try BillingPeriod(year: 2026, month: 11)), try tx.ledgerBalances())
        }
        #expect(holds.map(\.job) == [held.id], "the new hold is stored; the posting's release came before it")
        #expect(holds.map(\.amount) == [meter.state.withLock { $0.ledger.holds[held.id]?.amount }])
        #expect(journal == 100)
        #expect(balances[.wallet("acme")] == meter.balance(.wallet("acme")) && balances.values.reduce(0, +) == 0)
    }

    @Test("a rating made before the write is redone when the site's prices changed in between; a record twice in a batch is charged once")
    func ratedBeforeTheWrite() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.connect(price: nil)
        let job = try await fixture.submit(tenant: "acme")
        await fixture.core.placeQueued()
        let stored = try #require(try await fixture.store.read { try $0.job(job) })
        let end = fixture.clock.read()
        let record = UsageRecord(
            id: .forJob(job, attempt: 1), jobID: job, siteID: "gz", acceleratorClass: "cpu-x86-64", units: 2,
            startedAtMs: end - 100_000, endedAtMs: end)
        let meter = fixture.core.meter
        // Prepared while the site has no prices: the record would be unrated ...
        let prepared = meter.prepareUsage([record, record], site: "gz", jobs: [job: stored], energy: .unstated, nowMs: end)
        // ... but the site's first book (which applies from the beginning of time) is adopted by
        // a write that runs before the posting.
        let adopted = try await fixture.store.write { tx in
            try meter.observeAgentPrices(
                site: "gz", book: PriceBook(prices: ["cpu-x86-64": ClassPrice(flat: 3_600)]), nowMs: end, tx: tx)
        }
        #expect(adopted)
        let posted = try await fixture.store.write { tx in try meter.postUsage(prepared, tx: tx) }
        #expect(posted.charged == 1 && posted.duplicates == 1 && posted.unrated == 0 && posted.skipped == 0)
        #expect(meter.balance(.wallet("acme")) == -200, "2 units × 100 s × 1 fen, once")
        #expect(meter.sumOfBalances == 0)
        // Balances are written at the end of the commit: what is stored is what memory holds.
        let storedBalances = try await fixture.store.read { try $0.ledgerBalances() }
        #expect(storedBalances[.wallet("acme")] == -200)
        #expect(storedBalances.values.reduce(0, +) == 0)
        // The same batch again (a resend) stores and charges nothing.
        let again = try await fixture.store.write { tx in try meter.postUsage(prepared, tx: tx) }
        #expect(again.charged == 0 && again.duplicates == 2)
        #expect(meter.balance(.wallet("acme")) == -200)
    }

    @Test("a job the tenant cannot cover fails at placement with the figures, and its site never hears of it")
    func refusedAtAdmission() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let link = try await fixture.connect()
        _ = try await fixture.money.upsertTenant(TenantRequest(tenant: "poor", organisation: "poor-co", creditLimitFen: 500))
        let job = try await fixture.submit(tenant: "poor")
        await fixture.core.placeQueued()
        #expect(try await fixture.state(job) == .failed)
        let events = try await fixture.store.read { tx in try tx.events(job: job) }
        #expect(events.last?.cause.contains("cannot cover 1200 fen: 500 fen available") == true, "\(events.last?.cause ?? "-")")
        #expect(await CoreTests.next(link) == nil, "no JobAssign for a refused job")
        #expect(fixture.core.meter.tenantView("poor")?.heldFen == 0)
        // A postpaid tenant nobody registered is never refused (the coordinator's default).
        let other = try await fixture.submit(tenant: "walk-in")
        await fixture.core.placeQueued()
        #expect(try await fixture.state(other) == .placed)
    }

    @Test("the cheapest preset ranks sites by the price after the tenant's voucher")
    func cheapestSeesVouchers() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        // A lists 10,000 fen/h and earns a 30 % voucher (7,000 after it); B lists 8,000 but is
        // run by the tenant's affiliate, so no voucher pays there.
        _ = try await fixture.connect("site-a", pool: "nvidia-a100", price: 10_000)
        _ = try await fixture.connect("site-b", pool: "nvidia-a100", price: 8_000)
        fixture.core.meter.setProvider(site: "site-a", organisation: "pearl-river-compute")
        fixture.core.meter.setProvider(site: "site-b", organisation: "acme-cloud")
        let program = VoucherProgram.guangzhouExample
        _ = try await fixture.money.createProgram(program)
        for tenant in ["acme", "plain"] {
            _ = try await fixture.money.upsertTenant(
                TenantRequest(tenant: TenantID(rawValue: tenant), organisation: "acme-ai", affiliates: ["acme-cloud"], creditLimitFen: nil))
        }
        _ = try await fixture.money.grant(program.id, GrantRequest(tenant: "acme"))
        func place(_ tenant: TenantID) async throws -> SiteID? {
            let spec = JobSpec(
                name: "cheap", tenant: tenant, command: ["/bin/true"],
                resources: ResourceRequest(acceleratorClass: "nvidia-a100", count: 1), walltimeSeconds: 60,
                preference: .cheapest)
            let id = try await fixture.core.submit(spec).job.id
            await fixture.core.placeQueued()
            return try await fixture.store.read { tx in try tx.job(id)?.siteID }
        }
        #expect(try await place("acme") == "site-a", "7,000 after the voucher beats 8,000")
        #expect(try await place("plain") == "site-b", "without a voucher the list price decides")
    }

    @Test("a hold that never settles lapses at its expiry")
    func holdExpires() async throws {
        // The site stays silent for hours and its job is not declared lost: only the hold lapses.
        let fixture = try await Fixture(lostAfterMs: 24 * 3_600_000)
        defer { fixture.remove() }
        let link = try await fixture.connect()
        let job = try await fixture.submit(tenant: "acme", walltimeSeconds: 60)
        await fixture.core.placeQueued()
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [CoreTests.update(job, .running, seq: 1)])
        #expect(try await fixture.state(job) == .running)
        // 2 units × 3,600 fen/h × (60 s walltime + 60 s overrun) = 240 fen.
        #expect(fixture.core.meter.tenantView("acme")?.heldFen == 240)
        // placement + 60 s walltime + 60 s overrun + 1 h grace
        fixture.clock.set(Fixture.november30 + 120_000 + 3_600_000 - 1)
        await fixture.core.sweep()
        #expect(fixture.core.meter.tenantView("acme")?.heldFen == 240)
        fixture.clock.set(Fixture.november30 + 120_000 + 3_600_000)
        await fixture.core.sweep()
        #expect((fixture.core.meter.tenantView("acme")?.heldFen ?? 0) == 0)
        #expect(try await fixture.state(job) == .running, "the job itself is untouched")
    }

    @Test("a period closes once it has ended, answers the same report again, and is frozen")
    func settlement() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let link = try await fixture.connect()
        let job = try await fixture.submit(tenant: "acme")
        await fixture.core.placeQueued()
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [fixture.usage(job, seconds: 50, seq: 1)])
        let november = try BillingPeriod(year: 2026, month: 11)

        // While open, a site's statement and a tenant's bill read only their own rows, and agree
        // with the whole period's report.
        let open = try await fixture.money.settlement(november)
        #expect(try await fixture.money.statement(period: november, site: "gz") == open.report.statements.first)
        #expect(try await fixture.money.bill(tenant: "acme", period: november) == open.report.invoices.first)
        await #expect(throws: BackendError.self) { try await fixture.money.settle(november) }
        fixture.clock.set(try november.endMs(utcOffsetMinutes: 480))
        let (closed, created) = try await fixture.money.settle(november)
        #expect(created && closed.closed)
        let report = closed.report
        #expect(report.reconciliation.ok, "\(report.reconciliation)")
        #expect(report.totals.grossFen == 100)
        #expect(report.statements.first?.owedFen == 98 && report.statements.first?.feeFen == 2)
        #expect(report.invoices.first?.payableFen == 100)
        let (again, createdAgain) = try await fixture.money.settle(november)
        #expect(!createdAgain && again.report == report)

        // The store refuses any posting into the closed month; the meter posts a late one into December.
        await #expect(throws: StoreError.self) {
            try await fixture.store.write { tx in
                try tx.insertLedgerTransaction(
                    try LedgerTransaction.topUp(id: "late", tenant: "acme", amount: 1), period: november, atMs: 0, charge: nil)
            }
        }
        fixture.clock.set(Fixture.november30)  // a clock that stepped back into the closed month
        _ = try await fixture.money.upsertTenant(TenantRequest(tenant: "acme", organisation: "acme-ai", creditLimitFen: nil))
        _ = try await fixture.money.topUp("acme", TopUpRequest(amountFen: 7, reference: "late"))
        let december = try await fixture.money.settlement(try BillingPeriod(year: 2026, month: 12))
        #expect(december.report.invoices.first?.topUpsFen == 7)
        #expect(try await fixture.money.settlement(november).report == report)
    }

    @Test("the cache of ended jobs keeps the newest and forgets the oldest first")
    func recentJobs() {
        var recent = RecentJobs(capacity: 3)
        func job(_ id: String) -> JobRecord {
            JobRecord(
                id: JobID(rawValue: id), spec: JobSpec(name: id, tenant: "t", command: ["/bin/true"],
                    resources: ResourceRequest(acceleratorClass: "cpu-x86-64"), walltimeSeconds: 60),
                state: .succeeded, createdAtMs: 0, updatedAtMs: 0)
        }
        for id in ["a", "b", "c", "b", "d", "e"] { recent.insert(job(id)) }
        #expect(recent["a"] == nil && recent["b"] == nil)
        #expect(recent["c"]?.id == "c" && recent["d"]?.id == "d" && recent["e"]?.id == "e")
    }

    @Test("a restarted coordinator reloads the ledger, and refuses one whose balances do not sum to zero")
    func reload() async throws {
        let first = try await Fixture()
        defer { first.remove() }
        _ = try await first.money.upsertTenant(TenantRequest(tenant: "acme", organisation: "acme-ai", creditLimitFen: 1_000))
        _ = try await first.money.topUp("acme", TopUpRequest(amountFen: 2_500, reference: "p1"))
        let again = try await Fixture(directory: first.directory, clock: first.clock)
        let view = try #require(again.core.meter.tenantView("acme"))
        #expect(view.balanceFen == 2_500 && view.creditLimitFen == 1_000 && view.registered)

        try await again.store.write { tx in try tx.setBalances([(.platformFee, 1)]) }
        await #expect(throws: LedgerError.self) { _ = try await Fixture(directory: first.directory, clock: first.clock) }
    }
}
