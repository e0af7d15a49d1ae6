import EstuaryLedger
import EstuaryModel
import Testing

private let offset = 480  // UTC+8
private func start(_ year: Int) -> Int64 { (try? LocalYear.startMs(of: year, utcOffsetMinutes: offset)) ?? 0 }
private let mid2026 = start(2026) + 180 * 86_400_000

/// A small programme so that caps and budgets are reached in a few charges.
private func program(
    rounding: RoundingRule = .halfUp, coverage: Int = 3_000, domestic: Int? = nil, budget: Fen = 1_000_000,
    cap: Fen = 100_000, categoryCaps: [String: Fen] = ["multimodal-foundation": 300_000],
    approved: Set<String>? = nil, id: VoucherProgramID = "test"
) -> VoucherProgram {
    VoucherProgram(
        id: id, name: "test programme", validFromMs: start(2026), validUntilMs: start(2028), annualBudget: budget,
        coverageBasisPoints: coverage, domesticCoverageBasisPoints: domestic, tenantAnnualCap: cap,
        categoryCaps: categoryCaps, approvedProviders: approved, rounding: rounding, utcOffsetMinutes: offset)
}

private let acme = TenantProfile(tenant: "acme", organisation: "Acme AI", affiliates: ["Acme Cloud"])
private let gpu = BillableItem.compute(.gpu, domestic: false)

private func charge(
    _ id: String, _ amount: Fen, tenant: TenantID = "acme", item: BillableItem = gpu,
    provider: String = "Pearl River Compute",
    at: Int64 = mid2026, site: SiteID = "gz-1"
) -> VoucherCharge {
    VoucherCharge(
        id: id, tenant: tenant, site: site, providerOrganisation: provider, item: item, amount: amount, atMs: at)
}

@Suite("Voucher eligibility")
struct VoucherEligibilityTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var item: BillableItem = .compute(.gpu, domestic: false)
        var provider = "Pearl River Compute"
        var atMs: Int64 = mid2026
        var approved: Set<String>? = nil
        var expected: VoucherIneligibility?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "GPU from an unrelated provider", expected: nil),
        Case(name: "NPU", item: .compute(.npu, domestic: true), expected: nil),
        Case(name: "DCU counts as GPU-like", item: .compute(.dcu, domestic: true), expected: nil),
        Case(name: "CPU never", item: .compute(.cpu, domestic: false), expected: .kindNotEligible(.cpu)),
        Case(name: "storage never", item: .storage, expected: .notCompute(.storage)),
        Case(name: "network never", item: .network, expected: .notCompute(.network)),
        Case(name: "security never", item: .security, expected: .notCompute(.security)),
        Case(name: "the tenant's own organisation", provider: "Acme AI", expected: .affiliatedProvider("Acme AI")),
        Case(
            name: "a declared affiliate, case and spaces aside", provider: " acme CLOUD ",
            expected: .affiliatedProvider(" acme CLOUD ")),
        Case(name: "an unknown provider", provider: "  ", expected: .providerUnknown),
        Case(name: "on the approved list", approved: ["pearl river compute"], expected: nil),
        Case(name: "off the approved list", approved: ["Other"], expected: .providerNotApproved("Pearl River Compute")),
        Case(
            name: "one millisecond before validity", atMs: start(2026) - 1,
            expected: .beforeValidity(startsAtMs: start(2026))),
        Case(name: "the first millisecond of validity", atMs: start(2026), expected: nil),
        Case(name: "the last millisecond of validity", atMs: start(2028) - 1, expected: nil),
        Case(name: "at the end of validity", atMs: start(2028), expected: .expired(endedAtMs: start(2028))),
    ]

    @Test("eligibility follows the measures", arguments: cases)
    func eligibility(_ c: Case) {
        let redemption = program(approved: c.approved).redemption(
            for: 10_000, item: c.item, providerOrganisation: c.provider, tenant: acme, atMs: c.atMs,
            budgetLeft: 1_000_000, tenantCapLeft: 100_000)
        #expect(redemption.reason == c.expected)
        #expect(redemption.amount == (c.expected == nil ? 3_000 : 0))
    }

    @Test("a programme that lists CPU, or is otherwise wrong, reports every problem")
    func validation() {
        var bad = program(coverage: 10_001, domestic: -1, budget: 0, cap: -5, approved: [])
        bad.eligibleKinds = [.cpu]
        bad.validUntilMs = bad.validFromMs
        bad.name = ""
        bad.utcOffsetMinutes = 5_000
        let problems = bad.problems
        #expect(problems.count == 9, "\(problems)")
        #expect(throws: LedgerError.self) { try bad.validate() }
        #expect(program().problems.isEmpty)
    }

    @Test("the Guangzhou example carries the measures' figures")
    func guangzhou() throws {
        let gz = VoucherProgram.guangzhouExample
        #expect(gz.problems.isEmpty)
        #expect(gz.annualBudget == 10_000_000_000)
        #expect(gz.annualCap(for: nil) == 300_000_000)
        #expect(gz.annualCap(for: "multimodal-foundation") == 1_000_000_000)
        #expect(gz.validFromMs == start(2026))
        #expect(gz.validUntilMs == start(2029))
        #expect(!gz.eligibleKinds.contains(.cpu))
    }
}

@Suite("Voucher coverage and rounding")
struct VoucherCoverageTests {
    @Test(
        "coverage rounds by the programme's rule",
        arguments: [
            // (charge, bp, rule, expected)
            (Fen(1_234), 3_000, RoundingRule.halfUp, Fen(370)),  // 370.2
            (1_234, 3_000, .truncate, 370),
            (1_235, 3_000, .halfUp, 371),  // 370.5 rounds up
            (1_235, 3_000, .truncate, 370),  // Nanning keeps the half fen with the tenant
            (1_239, 6_000, .halfUp, 743),  // 743.4
            (1_239, 2_000, .truncate, 247),  // 247.8
            (1, 3_000, .halfUp, 0),  // 0.3 rounds to nothing
        ])
    func rounding(amount: Fen, basisPoints: Int, rule: RoundingRule, expected: Fen) {
        let redemption = program(rounding: rule, coverage: basisPoints).redemption(
            for: amount, item: gpu, providerOrganisation: "P", tenant: acme, atMs: mid2026, budgetLeft: .max,
            tenantCapLeft: .max)
        #expect(redemption.amount == expected)
        if expected == 0 { #expect(redemption.reason == .coverageRoundsToZero) }
    }

    @Test("domestic accelerators get the domestic rate (Hangzhou: 30 % vs 20 %)")
    func domesticRate() {
        let hangzhou = program(coverage: 2_000, domestic: 3_000)
        func covered(_ domestic: Bool) -> Fen {
            hangzhou.redemption(
                for: 10_000, item: .compute(.npu, domestic: domestic), providerOrganisation: "P", tenant: acme,
                atMs: mid2026,
                budgetLeft: .max, tenantCapLeft: .max
            ).amount
        }
        #expect(covered(true) == 3_000)
        #expect(covered(false) == 2_000)
        #expect(
            program(coverage: 2_000).redemption(
                for: 10_000, item: .compute(.npu, domestic: true), providerOrganisation: "P", tenant: acme,
                atMs: mid2026,
                budgetLeft: .max, tenantCapLeft: .max
            ).amount == 2_000)
    }

    @Test("the voucher is the least of coverage, the cap left and the budget left")
    func capsInRedemption() {
        let p = program()
        func redeem(budget: Fen, cap: Fen) -> Redemption {
            p.redemption(
                for: 10_000, item: gpu, providerOrganisation: "P", tenant: acme, atMs: mid2026, budgetLeft: budget,
                tenantCapLeft: cap)
        }
        #expect(redeem(budget: 5_000, cap: 5_000) == Redemption(amount: 3_000, covered: 3_000, reason: nil))
        #expect(
            redeem(budget: 5_000, cap: 2_999)
                == Redemption(amount: 2_999, covered: 3_000, reason: .tenantCapReached(left: 2_999)))
        #expect(
            redeem(budget: 1, cap: 2_999) == Redemption(amount: 1, covered: 3_000, reason: .budgetExhausted(left: 1)))
        #expect(redeem(budget: -7, cap: 2_999).amount == 0)
    }

    @Test("a charge's transaction balances, with the fee truncated on the gross charge")
    func chargeTransaction() throws {
        let c = charge("r1", 10_001)
        let fee = PlatformFee(basisPoints: 250)  // 250.025 fen → 250
        let t = try ChargePosting.transaction(
            for: c, voucher: VoucherDraw(program: "test", year: 2026, amount: 3_000), fee: fee)
        try t.validate()
        #expect(t.id == "usage:r1")
        #expect(
            Set(t.postings) == [
                Posting(.wallet("acme"), -7_001), Posting(.voucherBudget("test", year: 2026), -3_000),
                Posting(.voucherAllowance("test", "acme", year: 2026), -3_000), Posting(.voucherQuota("test"), 3_000),
                Posting(.siteReceivable("gz-1"), 9_751), Posting(.platformFee, 250),
            ])
        #expect(try PlatformFee(basisPoints: 250, rounding: .halfUp).fee(on: 10_020) == 251)  // 250.5
        #expect(throws: LedgerError.self) {
            try ChargePosting.transaction(for: charge("r2", 0), voucher: nil, fee: fee)
        }
        #expect(throws: LedgerError.self) {
            try ChargePosting.transaction(
                for: c, voucher: VoucherDraw(program: "test", year: 2026, amount: 10_002), fee: fee)
        }
        #expect(throws: LedgerError.self) { try PlatformFee(basisPoints: 10_001).fee(on: 1) }
    }
}

@Suite("Voucher caps in the ledger")
struct VoucherCapTests {
    private func fundedLedger(_ tenants: [TenantID] = ["acme", "beta", "gamma"]) throws -> Ledger {
        var ledger = Ledger()
        for tenant in tenants {
            try ledger.apply(LedgerTransaction.topUp(id: "topup:\(tenant)", tenant: tenant, amount: 100_000_000))
        }
        return ledger
    }

    @Test("the tenant cap is reached exactly and never passed by one fen")
    func tenantCap() throws {
        var ledger = try fundedLedger()
        let p = program(cap: 10_000)
        var paid: Fen = 0
        for i in 0..<20 {
            paid += try ledger.postCharge(charge("r\(i)", 3_333), tenant: acme, program: p, fee: .none).voucherAmount
        }
        #expect(paid == 10_000)
        #expect(ledger.balance(.voucherAllowance("test", "acme", year: 2026)) == 0)
        #expect(ledger.balance(.voucherBudget("test", year: 2026)) == 1_000_000 - 10_000)
    }

    @Test("a category override replaces the default cap")
    func categoryCap() throws {
        var ledger = try fundedLedger()
        let p = program(cap: 10_000, categoryCaps: ["multimodal-foundation": 25_000])
        let foundation = TenantProfile(
            tenant: "beta", organisation: "Beta Labs", category: "multimodal-foundation")
        var paid: Fen = 0
        for i in 0..<40 {
            paid += try ledger.postCharge(
                charge("b\(i)", 3_333, tenant: "beta"), tenant: foundation, program: p, fee: .none
            ).voucherAmount
        }
        #expect(paid == 25_000)
    }

    @Test("the programme budget is shared and never overspent by one fen")
    func budget() throws {
        var ledger = try fundedLedger()
        let p = program(budget: 7_777, cap: 5_000)
        let tenants = ["acme", "beta", "gamma"].map {
            TenantProfile(tenant: TenantID(rawValue: $0), organisation: "Org \($0)")
        }
        var paid: Fen = 0
        for i in 0..<30 {
            let tenant = tenants[i % 3]
            paid += try ledger.postCharge(
                charge("c\(i)", 999, tenant: tenant.tenant), tenant: tenant, program: p, fee: .none
            ).voucherAmount
        }
        #expect(paid == 7_777)
        #expect(ledger.balance(.voucherBudget("test", year: 2026)) == 0)
        #expect(ledger.sumOfBalances == 0)
    }

    @Test("a new local year gives a fresh budget and resets the tenant cap")
    func yearBoundary() throws {
        var ledger = try fundedLedger()
        let p = program(cap: 1_000)
        let lastMs2026 = start(2027) - 1
        let r1 = try ledger.postCharge(charge("late", 10_000, at: lastMs2026), tenant: acme, program: p, fee: .none)
        let r2 = try ledger.postCharge(charge("later", 10_000, at: lastMs2026), tenant: acme, program: p, fee: .none)
        let r3 = try ledger.postCharge(
            charge("new-year", 10_000, at: start(2027)), tenant: acme, program: p, fee: .none)
        #expect([r1.voucherAmount, r2.voucherAmount, r3.voucherAmount] == [1_000, 0, 1_000])
        #expect(r2.redemption?.reason == .tenantCapReached(left: 0))
        #expect(ledger.balance(.voucherAllowance("test", "acme", year: 2027)) == 0)
        #expect(ledger.balance(.voucherBudget("test", year: 2027)) == 1_000_000 - 1_000)
    }

    @Test(
        "year boundaries follow local time",
        arguments: [(Int64, Int)]([
            (Int64(1_767_196_800_000) - 1, 2025),  // 2025-12-31T23:59:59.999+08:00
            (1_767_196_800_000, 2026),  // 2026-01-01T00:00+08:00 = 2025-12-31T16:00Z
            (0, 1970), (-28_800_001, 1969), (-28_800_000, 1970), (951_782_400_000, 2000),
            (-62_135_596_800_000 - 28_800_000, 1),
        ]))
    func localYear(ms: Int64, year: Int) throws {
        #expect(try LocalYear.year(containing: ms, utcOffsetMinutes: 480) == year)
    }

    @Test("instants outside years 1 to 9999 are refused, not trapped")
    func yearRange() {
        #expect(throws: LedgerError.self) { try LocalYear.year(containing: .max, utcOffsetMinutes: 480) }
        #expect(throws: LedgerError.self) { try LocalYear.year(containing: .min, utcOffsetMinutes: -480) }
        #expect(throws: LedgerError.self) { try LocalYear.startMs(of: 10_000, utcOffsetMinutes: 0) }
    }

    @Test("a resent charge keeps the voucher it got and posts once")
    func resentCharge() throws {
        var ledger = try fundedLedger()
        let p = program(cap: 1_000)
        let first = try ledger.postCharge(charge("r1", 10_000), tenant: acme, program: p, fee: .none)
        let after = ledger
        let again = try ledger.postCharge(charge("r1", 10_000), tenant: acme, program: p, fee: .none)
        #expect(again.applied == .alreadyApplied)
        #expect(again.voucherAmount == first.voucherAmount)
        #expect(ledger == after)
        #expect(throws: LedgerError.conflictingRepeat(transaction: "usage:r1")) {
            try ledger.postCharge(charge("r1", 10_001), tenant: acme, program: p, fee: .none)
        }
    }

    @Test("a tenant without a known organisation cannot prove non-affiliation")
    func unknownTenantOrganisation() {
        let anonymous = TenantProfile(tenant: "anon", organisation: " ")
        let redemption = program().redemption(
            for: 10_000, item: gpu, providerOrganisation: "P", tenant: anonymous, atMs: mid2026, budgetLeft: .max,
            tenantCapLeft: .max)
        #expect(redemption.reason == .tenantOrganisationUnknown)
    }

    @Test("a charge at an absurd instant is posted without a voucher, not refused")
    func absurdInstant() throws {
        var ledger = try fundedLedger()
        let outcome = try ledger.postCharge(
            charge("far", 10_000, at: .max), tenant: acme, program: program(), fee: .none)
        #expect(outcome.voucherAmount == 0)
        #expect(outcome.redemption?.reason == .expired(endedAtMs: start(2028)))
    }

    @Test("a charge the wallet cannot pay opens no budget and draws no voucher")
    func refusedChargeLeavesNoTrace() throws {
        var ledger = Ledger()
        let before = ledger
        #expect(throws: LedgerError.self) {
            try ledger.postCharge(charge("r1", 10_000), tenant: acme, program: program(), fee: .none)
        }
        #expect(ledger == before)
    }

    @Test("a charge drawn against a job's hold settles from it")
    func chargeAgainstHold() throws {
        var ledger = try fundedLedger(["acme"])
        try ledger.hold(job: "j1", tenant: "acme", amount: 100_000_000, expiresAtMs: 0)
        try ledger.postCharge(charge("r1", 10_000), tenant: acme, program: program(), fee: .none, drawingOnHoldOf: "j1")
        let left: Fen = 100_000_000 - 7_000
        #expect(ledger.holds["j1"]?.amount == left)
        #expect(ledger.release(job: "j1")?.amount == left)
    }

    /// The coordinator's owner of the ledger, for the concurrency test.
    actor LedgerOwner {
        var ledger: Ledger
        init(_ ledger: Ledger) { self.ledger = ledger }
        func post(_ c: VoucherCharge, _ t: TenantProfile, _ p: VoucherProgram) throws(LedgerError) -> Fen {
            try ledger.postCharge(c, tenant: t, program: p, fee: PlatformFee(basisPoints: 300)).voucherAmount
        }
    }

    @Test("concurrent rating never overspends the budget or a cap")
    func concurrentRating() async throws {
        let owner = LedgerOwner(try fundedLedger())
        let p = program(budget: 50_000, cap: 20_000)
        let tenants = ["acme", "beta", "gamma"].map {
            TenantProfile(tenant: TenantID(rawValue: $0), organisation: "Org \($0)")
        }
        let paid = try await withThrowingTaskGroup(of: Fen.self) { group in
            for i in 0..<300 {
                let tenant = tenants[i % 3]
                group.addTask {
                    try await owner.post(charge("c\(i)", 1_000 + Fen(i), tenant: tenant.tenant), tenant, p)
                }
            }
            return try await group.reduce(0, +)
        }
        let ledger = await owner.ledger
        #expect(paid == 50_000)
        #expect(ledger.balance(.voucherBudget("test", year: 2026)) == 0)
        for tenant in tenants {
            #expect(ledger.balance(.voucherAllowance("test", tenant.tenant, year: 2026)) >= 0)
        }
        #expect(ledger.sumOfBalances == 0)
    }
}

@Suite("Ledger properties over random charge streams")
struct LedgerPropertyTests {
    static let programs = [
        program(
            rounding: .halfUp, coverage: 3_000, domestic: 5_000, budget: 40_000, cap: 9_000,
            categoryCaps: ["multimodal-foundation": 15_000], id: "p-half"),
        program(
            rounding: .truncate, coverage: 6_000, budget: 25_000, cap: 6_000, categoryCaps: [:],
            approved: ["Org Site0", "Org Site1", "org site2"], id: "p-trunc"),
    ]
    static let tenants = [
        TenantProfile(tenant: "t0", organisation: "Org T0", affiliates: ["Org Site0"]),
        TenantProfile(tenant: "t1", organisation: "Org Site1", category: "multimodal-foundation"),
        TenantProfile(tenant: "t2", organisation: "Org T2", category: "multimodal-foundation"),
        TenantProfile(tenant: "t3", organisation: "Org T3", affiliates: ["org site3 "]),
    ]
    static let sites: [(SiteID, String)] = [
        ("s0", "Org Site0"), ("s1", "Org Site1"), ("s2", "Org Site2"), ("s3", "Org Site3"),
    ]
    static let items: [BillableItem] = [
        .compute(.gpu, domestic: false), .compute(.npu, domestic: true), .compute(.dcu, domestic: true),
        .compute(.gpu, domestic: true), .compute(.cpu, domestic: false), .storage, .network, .security,
        .other("energy"),
    ]

    struct Posted {
        var charge: VoucherCharge
        var tenant: TenantProfile
        var program: VoucherProgram?
        var reversed = false
    }

    @Test(
        "every transaction balances, caps and budgets hold, duplicates post once",
        arguments: [1, 2, 3, 7, 42, 2026, 0xDEAD_BEEF] as [UInt64])
    func randomStreams(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var ledger = Ledger()
        for (i, tenant) in Self.tenants.enumerated() {
            try ledger.apply(
                LedgerTransaction.topUp(id: "topup:\(tenant.tenant):0", tenant: tenant.tenant, amount: 200_000))
            try ledger.setCreditLimit(Fen(i) * 10_000, for: tenant.tenant)
        }
        var posted: [Posted] = []
        var drawn = 0
        var limited = 0
        var refused = 0
        var repeats = 0
        let span = start(2028) + 30 * 86_400_000 - (start(2026) - 30 * 86_400_000)

        for step in 0..<500 {
            let context = Comment(rawValue: "seed \(seed) step \(step)")
            let before = ledger
            let roll = Int.random(in: 0..<100, using: &rng)
            if roll < 65 || posted.isEmpty {
                let tenant = Self.tenants.randomElement(using: &rng)!
                let (site, organisation) = Self.sites.randomElement(using: &rng)!
                let item = Self.items.randomElement(using: &rng)!
                let program = Int.random(in: 0..<3, using: &rng) == 0 ? nil : Self.programs.randomElement(using: &rng)!
                let at = start(2026) - 30 * 86_400_000 + Int64.random(in: 0..<span, using: &rng)
                let c = VoucherCharge(
                    id: "r\(step)", tenant: tenant.tenant, site: site, providerOrganisation: organisation, item: item,
                    amount: Fen.random(in: 1...20_000, using: &rng), atMs: at)
                do {
                    // A charge for a tenant with a running job is paid out of that job's hold.
                    let job = ledger.holds.values.filter { $0.tenant == tenant.tenant }.map(\.job).min()
                    let outcome = try ledger.postCharge(
                        c, tenant: tenant, program: program, fee: PlatformFee(basisPoints: 275), drawingOnHoldOf: job)
                    posted.append(Posted(charge: c, tenant: tenant, program: program))
                    #expect(outcome.voucherAmount >= 0 && outcome.voucherAmount <= c.amount, context)
                    if outcome.voucherAmount > 0 { drawn += 1 }
                    switch outcome.redemption?.reason {
                    case .tenantCapReached, .budgetExhausted: limited += 1
                    default: break
                    }
                    let eligible: Bool
                    if case .compute(let kind, _) = item, kind != .cpu, !tenant.isAffiliated(with: organisation) {
                        eligible = true
                    } else {
                        eligible = false
                    }
                    if !eligible || program == nil {
                        #expect(outcome.voucherAmount == 0, context)
                        #expect(
                            !outcome.transaction.postings.contains {
                                if case .voucherBudget = $0.account { true } else { false }
                            }, context)
                    }
                } catch {
                    guard case .limitExceeded(let account, _, _, _) = error, account.hasPrefix("wallet:") else {
                        Issue.record(Comment(rawValue: "unexpected \(error); \(context.rawValue)"))
                        return
                    }
                    #expect(ledger == before, context)
                    refused += 1
                }
            } else if roll < 80 {
                // A duplicate: the same usage resent.
                let earlier = posted.randomElement(using: &rng)!
                let outcome = try ledger.postCharge(
                    earlier.charge, tenant: earlier.tenant, program: earlier.program, fee: PlatformFee(basisPoints: 275)
                )
                #expect(outcome.applied == .alreadyApplied, context)
                #expect(ledger == before, context)
                repeats += 1
            } else if roll < 87 {
                // t0 is never topped up, so its wallet runs dry and its charges start being refused.
                let tenant = Self.tenants.dropFirst().randomElement(using: &rng)!.tenant
                try ledger.apply(
                    LedgerTransaction.topUp(
                        id: "topup:\(tenant):\(step)", tenant: tenant, amount: Fen.random(in: 1...300_000, using: &rng))
                )
            } else if roll < 93 {
                let tenant = Self.tenants.randomElement(using: &rng)!.tenant
                let amount = Fen.random(in: 1...60_000, using: &rng)
                let available = try #require(ledger.available(to: tenant), context)
                do {
                    try ledger.hold(
                        job: JobID(rawValue: "j\(step)"), tenant: tenant, amount: amount,
                        expiresAtMs: Int64(step + Int.random(in: 0...50, using: &rng)))
                    #expect(Int128(amount) <= available, context)
                } catch {
                    #expect(
                        error
                            == .insufficientFunds(
                                tenant: tenant, requested: amount, available: Fen(available),
                                balance: ledger.balance(.wallet(tenant)),
                                held: ledger.held(by: tenant), creditLimit: ledger.creditLimits[tenant] ?? 0), context)
                    #expect(ledger == before, context)
                }
            } else if roll < 96 {
                let expired = ledger.expireHolds(nowMs: Int64(step))
                #expect(expired.allSatisfy { $0.expiresAtMs <= Int64(step) }, context)
                #expect(ledger.holds.values.allSatisfy { $0.expiresAtMs > Int64(step) }, context)
            } else {
                let index = Int.random(in: 0..<posted.count, using: &rng)
                guard !posted[index].reversed else { continue }
                // A refund only raises the wallet, so a charge reversal cannot be refused.
                try ledger.reverse(id: ChargePosting.transactionID(for: posted[index].charge))
                posted[index].reversed = true
            }
            try checkInvariants(ledger, context)
        }
        // The stream must reach the interesting cases, or it proves little.
        #expect(
            drawn > 0 && limited > 0 && refused > 0 && repeats > 0,
            "seed \(seed): \(drawn) draws, \(limited) limited, \(refused) refused, \(repeats) repeats")
    }

    private func checkInvariants(_ ledger: Ledger, _ context: Comment) throws {
        try #require(ledger.sumOfBalances == 0, context)
        for tenant in Self.tenants.map(\.tenant) {
            let held = ledger.holds.values.filter { $0.tenant == tenant }.reduce(Fen(0)) { $0 + $1.amount }
            try #require(ledger.held(by: tenant) == held, context)
            // Credit limits are never lowered here, so holds never exceed what the wallet can pay.
            try #require(try #require(ledger.available(to: tenant), context) >= 0, context)
        }
        try #require(Set(ledger.journal.map(\.id)).count == ledger.journal.count, context)
        var drawnFromBudget: [AccountID: Int128] = [:]
        var drawnFromAllowance: [AccountID: Int128] = [:]
        for transaction in ledger.journal {
            try transaction.validate()
            guard transaction.kind != .voucherBudgetOpening, transaction.kind != .voucherAllowanceOpening else {
                continue
            }
            for posting in transaction.postings {
                switch posting.account {
                case .voucherBudget: drawnFromBudget[posting.account, default: 0] -= Int128(posting.amount)
                case .voucherAllowance: drawnFromAllowance[posting.account, default: 0] -= Int128(posting.amount)
                default: break
                }
            }
        }
        for (account, balance) in ledger.balances {
            switch account {
            case .wallet(let tenant): try #require(balance >= -(ledger.creditLimits[tenant] ?? 0), context)
            case .voucherBudget(let id, _):
                let program = try #require(Self.programs.first { $0.id == id })
                let drawn = drawnFromBudget[account] ?? 0
                try #require(balance >= 0 && drawn <= Int128(program.annualBudget), context)
                try #require(Int128(program.annualBudget) - drawn == Int128(balance), context)
            case .voucherAllowance(let id, let tenantID, _):
                let program = try #require(Self.programs.first { $0.id == id })
                let tenant = try #require(Self.tenants.first { $0.tenant == tenantID })
                let cap = Int128(program.annualCap(for: tenant.category))
                let drawn = drawnFromAllowance[account] ?? 0
                try #require(balance >= 0 && drawn <= cap && cap - drawn == Int128(balance), context)
            default: break
            }
        }
    }
}

@Suite("The ledger as the coordinator runs it: credit lines, overdraft, no journal")
struct LedgerOwnerModeTests {
    @Test("a tenant without a limit can always be held for; the default limit applies to unset tenants")
    func unlimitedCredit() throws {
        var ledger = Ledger()
        #expect(ledger.available(to: "acme") == 0)
        ledger.defaultCreditLimit = nil
        #expect(ledger.available(to: "acme") == nil)
        try ledger.hold(job: "j1", tenant: "acme", amount: 5_000_000_000, expiresAtMs: 1)
        try ledger.setCreditLimit(100, for: "beta")
        #expect(ledger.available(to: "beta") == 100)
        #expect(throws: HoldRefusal.self) { try ledger.hold(job: "j2", tenant: "beta", amount: 101, expiresAtMs: 1) }
        try ledger.setCreditLimit(nil, for: "beta")
        try ledger.hold(job: "j2", tenant: "beta", amount: 101, expiresAtMs: 1)
        try ledger.setCreditLimit(0, for: "gamma")
        #expect(ledger.available(to: "gamma") == 0)
    }

    @Test("usage is posted past the credit line with overdraft, refused without, and then blocks holds")
    func overdraft() throws {
        var ledger = Ledger()
        try ledger.apply(LedgerTransaction.topUp(id: "t1", tenant: "acme", amount: 5_000))
        #expect(throws: LedgerError.self) {
            try ledger.postCharge(charge("r1", 8_000), tenant: acme, program: nil, fee: .none)
        }
        try ledger.postCharge(charge("r1", 8_000), tenant: acme, program: nil, fee: .none, overdraft: true)
        #expect(ledger.balance(.wallet("acme")) == -3_000)
        #expect(ledger.available(to: "acme") == -3_000)
        #expect(throws: HoldRefusal.self) { try ledger.hold(job: "j1", tenant: "acme", amount: 1, expiresAtMs: 1) }
        #expect(ledger.sumOfBalances == 0)
    }

    @Test("without a journal, openings are found from balances and reported once; a restore checks the sum")
    func noJournal() throws {
        var ledger = Ledger(retainingJournal: false)
        try ledger.apply(LedgerTransaction.topUp(id: "t1", tenant: "acme", amount: 1_000_000))
        let first = try ledger.postCharge(charge("r1", 10_000), tenant: acme, program: program(), fee: .none)
        #expect(first.openings.map(\.kind) == [.voucherBudgetOpening, .voucherAllowanceOpening])
        #expect(first.voucherAmount == 3_000)
        let second = try ledger.postCharge(charge("r2", 10_000), tenant: acme, program: program(), fee: .none)
        #expect(second.openings.isEmpty)
        #expect(ledger.journal.isEmpty)
        #expect(ledger.balance(.voucherAllowance("test", "acme", year: 2026)) == 100_000 - 6_000)

        try ledger.hold(job: "j1", tenant: "acme", amount: 500, expiresAtMs: 9)
        let restored = try Ledger(
            balances: ledger.balances, creditLimits: ["acme": 0], defaultCreditLimit: nil, holds: Array(ledger.holds.values))
        #expect(restored.balances == ledger.balances)
        #expect(restored.held(by: "acme") == 500)
        var skewed = ledger.balances
        skewed[.platformFee, default: 0] += 1
        #expect(throws: LedgerError.self) {
            try Ledger(balances: skewed, creditLimits: [:], defaultCreditLimit: nil, holds: [])
        }
    }
}
