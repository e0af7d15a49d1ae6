import EstuaryLedger
import EstuaryModel
import Testing

/// A small period built with the real ledger and rater: two tenants (acme with a voucher
/// programme, lab without), two sites, compute on two classes, a storage charge, top-ups, a
/// platform fee of 2 %, a reversed charge and a payout.
struct SettlementFixture {
    static let period = try! BillingPeriod(year: 2026, month: 3)
    static let offset = 480
    static let periodStart = try! period.startMs(utcOffsetMinutes: offset)
    static let hourMs: Int64 = 3_600_000

    static let nansha: SiteID = "gz-nansha"
    static let bay: SiteID = "sz-bay"
    static let organisations: [SiteID: String] = [nansha: "Pearl River Compute", bay: "Shenzhen Bay Cloud"]
    static let h100: AcceleratorClass = "nvidia-h100"
    static let ascend: AcceleratorClass = "ascend-910b"
    static let storage: ServiceID = "obj-storage"

    static let specs: [AcceleratorClass: AcceleratorSpec] = [
        h100: AcceleratorSpec(
            name: h100, vendor: "NVIDIA", model: "H100", kind: .gpu, domestic: false, fp16TFLOPS: 989, fp32TFLOPS: 67,
            fp64TFLOPS: 34, memoryGiB: 80, powerWatts: 700),
        ascend: AcceleratorSpec(
            name: ascend, vendor: "Huawei", model: "Ascend 910B", kind: .npu, domestic: true, fp16TFLOPS: 320,
            fp32TFLOPS: 0, fp64TFLOPS: 0, memoryGiB: 64, powerWatts: 400),
    ]
    static let energy = SiteEnergy(greenShareBP: 0, pueMilli: 1000, gridGramsPerKWh: 500)
    static let fee = PlatformFee(basisPoints: 200)

    static let acme = TenantProfile(tenant: "acme", organisation: "Acme AI")
    static let lab = TenantProfile(tenant: "lab", organisation: "Lab Inc")

    static let program = VoucherProgram(
        id: "gz-test", name: "test vouchers", validFromMs: try! LocalYear.startMs(of: 2026, utcOffsetMinutes: 480),
        validUntilMs: try! LocalYear.startMs(of: 2028, utcOffsetMinutes: 480), annualBudget: 1_000_000,
        coverageBasisPoints: 3_000, tenantAnnualCap: 100_000, rounding: .halfUp, utcOffsetMinutes: 480)

    static func history(_ site: SiteID, h100Price: Int64 = 1200, ascendPrice: Int64 = 900) -> PriceHistory {
        let book = PriceBook(
            prices: [h100: ClassPrice(flat: h100Price), ascend: ClassPrice(flat: ascendPrice)], utcOffsetMinutes: offset
        )
        let services = [storage: ServicePrice(kind: .storage, unit: "GiB-hour", priceFen: 10)]
        return try! PriceHistory(
            site: site, versions: [PriceVersion(version: 3, effectiveFromMs: 0, book: book, services: services)])
    }

    var ledger = Ledger()
    var charges: [String: PostedCharge] = [:]

    /// Rates `units` of `cls` for `hours` (from `startHour` after the period's start) and posts
    /// the charge, with the voucher decided by the ledger.
    @discardableResult
    mutating func compute(
        _ record: UsageRecordID, _ tenant: TenantProfile, at site: SiteID, _ cls: AcceleratorClass, units: Int,
        fromHour startHour: Int64, hours: Int64, program: VoucherProgram?, history: PriceHistory? = nil,
        fee: PlatformFee = SettlementFixture.fee
    ) throws -> PostedCharge {
        let start = Self.periodStart + startHour * Self.hourMs
        let end = start + hours * Self.hourMs
        let usage = UsageToRate(
            recordID: record, job: JobID(rawValue: "job-\(record)"), tenant: tenant.tenant, site: site, cls: cls,
            units: units, startMs: start, endMs: end)
        let lines = try Rater.rate(
            usage, history: history ?? Self.history(site), energy: Self.energy, spec: Self.specs[cls], rule: .halfUp)
        let spec = Self.specs[cls]!
        return try post(
            record, tenant, site, cls: cls, lines: lines, item: .compute(spec.kind, domestic: spec.domestic),
            atMs: end, program: program, fee: fee)
    }

    /// Rates and posts `gib` GiB-hours of storage.
    @discardableResult
    mutating func storage(_ record: UsageRecordID, _ tenant: TenantProfile, at site: SiteID, gibHours: Int64)
        throws -> PostedCharge
    {
        let at = Self.periodStart + 100 * Self.hourMs
        let usage = ServiceUsage(
            recordID: record, job: JobID(rawValue: "job-\(record)"), tenant: tenant.tenant, site: site,
            service: Self.storage, quantity: gibHours, startMs: at - Self.hourMs, endMs: at)
        let lines = try Rater.rate(usage, history: Self.history(site), rule: .halfUp)
        return try post(
            record, tenant, site, cls: nil, lines: lines, item: .storage, atMs: at, program: Self.program, fee: Self.fee
        )
    }

    mutating func post(
        _ record: UsageRecordID, _ tenant: TenantProfile, _ site: SiteID, cls: AcceleratorClass?, lines: [ChargeLine],
        item: BillableItem, atMs: Int64, program: VoucherProgram?, fee: PlatformFee
    ) throws -> PostedCharge {
        let gross = lines.reduce(Fen(0)) { $0 + $1.amountFen }
        let rated = VoucherCharge(
            id: record.rawValue, tenant: tenant.tenant, site: site,
            providerOrganisation: Self.organisations[site] ?? "",
            item: item, amount: gross, atMs: atMs)
        let outcome = try ledger.postCharge(rated, tenant: tenant, program: program, fee: fee)
        let paid = outcome.voucherAmount > 0
        let charge = PostedCharge(
            recordID: record, job: JobID(rawValue: "job-\(record)"), tenant: tenant.tenant, site: site, cls: cls,
            lines: lines, grossFen: gross, voucherFen: outcome.voucherAmount, voucherProgram: paid ? program?.id : nil,
            voucherYear: paid ? try program?.year(atMs: atMs) : nil, feeFen: try fee.fee(on: gross), atMs: atMs)
        charges[outcome.transaction.id] = charge
        return charge
    }

    /// The period's transactions in posting order, each with its rated record.
    var stream: [(LedgerTransaction, PostedCharge?)] { ledger.journal.map { ($0, charges[$0.id]) } }

    func settle(
        extra: [(LedgerTransaction, PostedCharge?)] = [], usageWithoutCharge: [UsageRecordID] = [],
        chargesWithoutUsage: [UsageRecordID] = []
    ) throws -> SettlementReport {
        var accumulator = SettlementAccumulator(period: Self.period)
        for (transaction, charge) in stream + extra { accumulator.add(transaction, charge: charge) }
        return try accumulator.finish(usageWithoutCharge: usageWithoutCharge, chargesWithoutUsage: chargesWithoutUsage)
    }

    /// The hand-made period of the table tests; the expected figures are worked out in them.
    static func handMade() throws -> SettlementFixture {
        var fixture = SettlementFixture()
        try fixture.ledger.apply(LedgerTransaction.topUp(id: "topup:acme:1", tenant: "acme", amount: 100_000))
        try fixture.ledger.apply(LedgerTransaction.topUp(id: "topup:lab:1", tenant: "lab", amount: 50_000))
        // 2 × 3 h × 12.00 = 72.00; voucher 30 % = 21.60; fee 2 % = 1.44.
        try fixture.compute("u-c1", acme, at: nansha, h100, units: 2, fromHour: 10, hours: 3, program: program)
        // 1 × 2 h × 9.00 = 18.00; voucher 5.40; fee 0.36.
        try fixture.compute("u-c2", acme, at: bay, ascend, units: 1, fromHour: 20, hours: 2, program: program)
        // lab has no programme: 1 × 3 h × 6.00 (a cheaper price at the site) = 18.00, fee 0.36.
        try fixture.compute(
            "u-c3", lab, at: nansha, h100, units: 1, fromHour: 30, hours: 3, program: nil,
            history: history(nansha, h100Price: 600))
        // 50 GiB-hours × 0.10 = 5.00: storage never draws a voucher; fee 0.10.
        try fixture.storage("u-c4", lab, at: bay, gibHours: 50)
        // 1 × 1 h × 12.00, voucher 3.60, fee 0.24; then reversed.
        try fixture.compute("u-c5", acme, at: nansha, h100, units: 1, fromHour: 40, hours: 1, program: program)
        try fixture.ledger.reverse(id: "usage:u-c5")
        try fixture.ledger.apply(
            LedgerTransaction(
                id: "payout:gz-nansha:1", kind: .payout,
                postings: [Posting(.siteReceivable(nansha), -5_000), Posting(.external, 5_000)]))
        return fixture
    }
}

@Suite("Settlement of a hand-made period")
struct SettlementTests {
    typealias F = SettlementFixture

    @Test("each site's statement says what it is owed, voucher-funded part included")
    func statements() throws {
        let report = try F.handMade().settle()
        #expect(report.statements.map(\.site) == [F.nansha, F.bay].sorted())
        let nansha = try #require(report.statements.first { $0.site == F.nansha })
        #expect(nansha.period == F.period)
        #expect(nansha.charges == 3)
        #expect(
            nansha.byClass == [
                .init(cls: F.h100, service: nil, unitMs: (6 + 3 + 1) * F.hourMs, grossFen: 7_200 + 1_800 + 1_200)
            ])
        #expect(nansha.grossFen == 10_200)
        #expect(nansha.feeFen == 144 + 36 + 24)
        #expect(nansha.owedFen == 10_200 - 204)
        #expect(nansha.voucherFundedFen == 2_160 + 360)
        #expect(nansha.tenantPaidFen == 10_200 - 2_520)
        #expect(nansha.energyWh == 2 * 700 * 3 + 700 * 3 + 700)
        #expect(nansha.gramsCO2 == nansha.energyWh / 2)  // 500 g/kWh, PUE 1, no green share
        #expect(nansha.adjustmentsFen == -(1_200 - 24) - 5_000)  // the reversal and the payout
        #expect(nansha.netChangeFen == nansha.owedFen + nansha.adjustmentsFen)

        let bay = try #require(report.statements.first { $0.site == F.bay })
        #expect(bay.charges == 2)
        #expect(
            bay.byClass == [
                .init(cls: F.ascend, service: nil, unitMs: 2 * F.hourMs, grossFen: 1_800),
                .init(cls: nil, service: F.storage, unitMs: 0, grossFen: 500),
            ])
        #expect(bay.grossFen == 2_300)
        #expect(bay.feeFen == 36 + 10)
        #expect(bay.owedFen == 2_254)
        #expect(bay.voucherFundedFen == 540)
        #expect(bay.tenantPaidFen == 1_760)
        #expect(bay.energyWh == 800)
        #expect(bay.gramsCO2 == 400)
        #expect(bay.adjustmentsFen == 0)
        #expect(bay.netChangeFen == 2_254)
    }

    @Test("each tenant's invoice has its charges by site and class, top-ups and other wallet movements")
    func invoices() throws {
        let report = try F.handMade().settle()
        #expect(report.invoices.map(\.tenant) == ["acme", "lab"])
        let acme = report.invoices[0]
        #expect(acme.charges == 3)
        #expect(acme.grossFen == 10_200)
        #expect(acme.voucherFen == 3_060)
        #expect(acme.payableFen == 7_140)
        #expect(acme.energyWh == 4_200 + 800 + 700)
        #expect(acme.gramsCO2 == (4_200 + 800 + 700) / 2)
        #expect(
            acme.lines
                == [
                    .init(
                        site: F.nansha, cls: F.h100, service: nil, charges: 2, unitMs: 7 * F.hourMs, grossFen: 8_400,
                        voucherFen: 2_520, payableFen: 5_880),
                    .init(
                        site: F.bay, cls: F.ascend, service: nil, charges: 1, unitMs: 2 * F.hourMs, grossFen: 1_800,
                        voucherFen: 540, payableFen: 1_260),
                ].sorted { $0.site < $1.site })
        #expect(acme.topUpsFen == 100_000)
        #expect(acme.otherFen == 1_200 - 360)  // the reversal gives the wallet back its part
        #expect(acme.walletNetChangeFen == 100_000 - 7_140 + 840)

        let lab = report.invoices[1]
        #expect(lab.charges == 2)
        #expect(lab.grossFen == 2_300)
        #expect(lab.voucherFen == 0)
        #expect(lab.payableFen == 2_300)
        #expect(
            lab.lines
                == [
                    .init(
                        site: F.nansha, cls: F.h100, service: nil, charges: 1, unitMs: 3 * F.hourMs, grossFen: 1_800,
                        voucherFen: 0, payableFen: 1_800),
                    .init(
                        site: F.bay, cls: nil, service: F.storage, charges: 1, unitMs: 0, grossFen: 500, voucherFen: 0,
                        payableFen: 500),
                ].sorted { $0.site < $1.site })
        #expect(lab.topUpsFen == 50_000)
        #expect(lab.otherFen == 0)
        #expect(lab.walletNetChangeFen == 47_700)
    }

    @Test("the programme's disbursement says by year, tenant and site where its money went")
    func disbursements() throws {
        let report = try F.handMade().settle()
        #expect(report.disbursements.count == 1)
        let gz = try #require(report.disbursements.first)
        #expect(gz.program == F.program.id)
        #expect(gz.charges == 3)
        #expect(gz.voucherFen == 3_060)
        #expect(gz.years == [.init(year: 2026, voucherFen: 3_060)])
        #expect(gz.tenants == [.init(tenant: "acme", voucherFen: 3_060)])
        #expect(
            gz.sites
                == [.init(site: F.nansha, voucherFen: 2_520), .init(site: F.bay, voucherFen: 540)].sorted {
                    $0.site < $1.site
                })
        #expect(gz.budgetOpeningsFen == 1_000_000)
        #expect(gz.budgetAdjustmentsFen == 360)  // the reversed charge's draw, given back
    }

    @Test("the period reconciles: every posting sums to zero and the totals tie")
    func reconciliation() throws {
        let report = try F.handMade().settle()
        let r = report.reconciliation
        // 2 top-ups, budget and allowance openings, 5 charges, a reversal, a payout.
        #expect(r.transactions == 11)
        #expect(r.postings == 2 * 2 + 2 + 2 + 6 + 6 + 3 + 3 + 6 + 6 + 2)
        #expect(r.sumFen == 0)
        #expect(r.unbalanced.isEmpty && r.unbalancedCount == 0)
        #expect(r.chargeMismatches.isEmpty && r.chargeMismatchCount == 0)
        #expect(r.ratedGrossFen == 12_500)
        #expect(r.owedPlusFeeFen == 12_500)
        #expect(r.payablePlusVoucherFen == 12_500)
        #expect(r.ratedVoucherFen == 3_060)
        #expect(r.disbursedFen == 3_060)
        #expect(r.ok)
        #expect(
            report.totals
                == SettlementTotals(
                    charges: 5, grossFen: 12_500, voucherFen: 3_060, feeFen: 250, payableFen: 9_440, owedFen: 12_250))
    }

    @Test("settling the same postings again gives the same report")
    func idempotent() throws {
        let fixture = try F.handMade()
        #expect(try fixture.settle() == fixture.settle())
    }

    @Test("an empty period settles to empty reports that reconcile")
    func emptyPeriod() throws {
        let report = try SettlementAccumulator(period: F.period).finish(usageWithoutCharge: [], chargesWithoutUsage: [])
        #expect(report.statements.isEmpty && report.invoices.isEmpty && report.disbursements.isEmpty)
        #expect(report.reconciliation.ok)
        #expect(
            report.totals
                == SettlementTotals(charges: 0, grossFen: 0, voucherFen: 0, feeFen: 0, payableFen: 0, owedFen: 0))
    }
}
