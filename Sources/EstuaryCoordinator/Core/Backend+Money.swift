import EstuaryLedger
import EstuaryModel
import EstuaryStore
import Foundation

/// The ledger's routes over the coordinator's meter and store. Changes go through the store's
/// writer (where the meter changes), reads through the meter or a read snapshot.
struct LiveMoney: MoneyBackend {
    let core: CoordinatorCore
    let store: CoordinatorStore
    let clock: @Sendable () -> Int64

    var meter: Meter { core.meter }
    var settings: MeterSettings { core.meter.settings }

    func tenants() async throws -> TenantListView {
        TenantListView(tenants: meter.tenantViews())
    }

    func tenant(_ id: TenantID) async throws -> TenantView? {
        guard id.isWellFormed else { return nil }
        return meter.tenantView(id)
    }

    func upsertTenant(_ request: TenantRequest) async throws -> (view: TenantView, created: Bool) {
        let now = clock()
        let meter = self.meter
        // Decided in the write, so two concurrent creates cannot both answer 201.
        let upserted = try await store.write { tx in try meter.upsertTenant(request, nowMs: now, tx: tx) }
        await core.pricesChanged()
        return upserted
    }

    func topUp(_ tenant: TenantID, _ request: TopUpRequest) async throws -> TenantView {
        let now = clock()
        let meter = self.meter
        return try await store.write { tx in try meter.topUp(tenant: tenant, request, nowMs: now, tx: tx) }
    }

    func voucherBalance(_ tenant: TenantID) async throws -> VoucherBalanceView {
        guard tenant.isWellFormed else { throw BackendError.notFound("tenant \(tenant)") }
        return meter.voucherBalance(tenant: tenant, nowMs: clock())
    }

    func prices(_ site: SiteID) async throws -> PriceHistoryView? {
        guard site.isWellFormed else { return nil }
        return meter.priceHistory(site: site, nowMs: clock())
    }

    func setPrices(_ site: SiteID, _ request: PriceSetRequest) async throws -> PriceVersion {
        let now = clock()
        let meter = self.meter
        let version = try await store.write { tx in try meter.setPrices(site: site, request, nowMs: now, tx: tx) }
        await core.syncScheduler(site: site)
        return version
    }

    func programs() async throws -> ProgramListView {
        ProgramListView(programs: meter.programViews())
    }

    func program(_ id: VoucherProgramID) async throws -> ProgramView? {
        guard id.isWellFormed else { return nil }
        return meter.programView(id)
    }

    func createProgram(_ program: VoucherProgram) async throws -> (view: ProgramView, created: Bool) {
        let now = clock()
        let meter = self.meter
        let created = try await store.write { tx in try meter.createProgram(program, nowMs: now, tx: tx) }
        guard let view = meter.programView(program.id) else { throw BackendError.notFound("voucher program \(program.id)") }
        return (view, created)
    }

    func grant(_ program: VoucherProgramID, _ request: GrantRequest) async throws -> TenantView {
        guard program.isWellFormed else { throw BackendError.notFound("voucher program \(program)") }
        guard request.tenant.isWellFormed else {
            throw BackendError.invalid([FieldError(field: "tenant", message: "must be a tenant id")])
        }
        let now = clock()
        let meter = self.meter
        let view = try await store.write { tx in try meter.grant(program: program, tenant: request.tenant, nowMs: now, tx: tx) }
        await core.pricesChanged()
        return view
    }

    func meteredUsage(_ query: UsageQuery) async throws -> MeteredUsageView {
        try await store.read { tx in
            let records = try tx.usage(job: query.job, site: query.site, tenant: query.tenant)
            let ids = records.map(\.id)
            let charges = try tx.charges(for: ids)
            let unrated = try tx.unratedReasons(for: ids)
            var tenants: [JobID: TenantID] = [:]
            var metered: [MeteredUsage] = []
            metered.reserveCapacity(records.count)
            for record in records {
                let tenant: TenantID
                if let charge = charges[record.id] {
                    tenant = charge.tenant
                } else if let known = tenants[record.jobID] {
                    tenant = known
                } else {
                    tenant = try tx.job(record.jobID)?.spec.tenant ?? TenantID(rawValue: "unknown")
                }
                tenants[record.jobID] = tenant
                metered.append(MeteredUsage(record: record, tenant: tenant, charge: charges[record.id], unrated: unrated[record.id]))
            }
            return MeteredUsageView(records: records, metered: metered)
        }
    }

    func bill(tenant: TenantID, period: BillingPeriod) async throws -> TenantInvoice {
        let report = try await partReport(period, tenant: tenant, site: nil)
        guard let invoice = report.invoices.first(where: { $0.tenant == tenant }) else {
            throw BackendError.notFound("a bill for tenant \(tenant) in \(period) (nothing was charged or paid)")
        }
        return invoice
    }

    func statement(period: BillingPeriod, site: SiteID) async throws -> SiteStatement {
        let report = try await partReport(period, tenant: nil, site: site)
        guard let statement = report.statements.first(where: { $0.site == site }) else {
            throw BackendError.notFound("a statement for site \(site) in \(period) (nothing was charged there)")
        }
        return statement
    }

    /// The stored report of a closed period; for an open one, the report of only the rows of
    /// `tenant` or `site`, so that one bill does not decode the whole month's journal.
    private func partReport(_ period: BillingPeriod, tenant: TenantID?, site: SiteID?) async throws -> SettlementReport {
        if let stored = try await storedSettlement(period) { return stored.report }
        return try await store.read { tx in try Meter.partial(period, tenant: tenant, site: site, tx: tx) }
    }

    func settle(_ period: BillingPeriod) async throws -> (view: SettlementView, created: Bool) {
        let now = clock()
        let end = try period.endMs(utcOffsetMinutes: settings.utcOffsetMinutes)
        guard now >= end else {
            throw BackendError.conflict(
                "period \(period) is still open until \(SettlementCSV.isoUTC(ms: end)); it can be closed once it has ended")
        }
        let meter = self.meter
        for _ in 0..<3 {
            if let stored = try await storedSettlement(period) { return (stored, false) }
            let (report, unrated) = try await store.read { tx in try Meter.report(period, tx: tx) }
            let closed = try await store.write { tx -> Bool in
                if try tx.periodReport(period) != nil { return false }
                return try meter.close(period, report: report, nowMs: now, tx: tx)
            }
            if closed { return (SettlementView(period: period, closed: true, closedAtMs: now, report: report, unrated: unrated), true) }
        }
        throw BackendError.unavailable("period \(period) kept changing while it was being closed; try again")
    }

    func settlement(_ period: BillingPeriod) async throws -> SettlementView {
        if let stored = try await storedSettlement(period) { return stored }
        let (report, unrated) = try await store.read { tx in try Meter.report(period, tx: tx) }
        return SettlementView(period: period, closed: false, closedAtMs: nil, report: report, unrated: unrated)
    }

    private func storedSettlement(_ period: BillingPeriod) async throws -> SettlementView? {
        let stored = try await store.read { tx -> (String, Int64, [UnratedUsage])? in
            guard let (text, closedAt) = try tx.periodReport(period) else { return nil }
            return (text, closedAt, try tx.unratedUsage(period: period).map { UnratedUsage(record: $0.0, reason: $0.1) })
        }
        guard let (text, closedAt, unrated) = stored else { return nil }
        let report: SettlementReport
        do {
            report = try JSONDecoder().decode(SettlementReport.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(table: "billing_periods", key: period.description, reason: "\(error)")
        }
        return SettlementView(period: period, closed: true, closedAtMs: closedAt, report: report, unrated: unrated)
    }

    func settlements() async throws -> SettlementListView {
        let periods = try await store.read { tx in try tx.closedPeriods() }
        return SettlementListView(periods: periods.map { SettlementListView.Entry(period: $0.0, closedAtMs: $0.1) })
    }

    func statementCSV(period: BillingPeriod, site: SiteID) async throws -> String {
        try await store.read { tx in
            var text = SettlementCSV.line(SettlementCSV.chargeHeader)
            try tx.forEachCharge(period: period, site: site) { charge in
                text += SettlementCSV.line(SettlementCSV.chargeRow(charge))
            }
            return text
        }
    }

    func currentPeriod() async throws -> BillingPeriod {
        try BillingPeriod.containing(ms: clock(), utcOffsetMinutes: settings.utcOffsetMinutes)
    }
}

extension LiveBackend {
    var money: (any MoneyBackend)? { LiveMoney(core: core, store: store, clock: core.clock) }
}

extension CoordinatorCore {
    /// Vouchers or enrolments changed: the scheduler re-reads effective prices next pass.
    func pricesChanged() {
        scheduler.pricesChanged()
        requestPlacement()
    }
}
