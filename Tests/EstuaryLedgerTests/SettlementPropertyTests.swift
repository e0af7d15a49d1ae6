import EstuaryLedger
import EstuaryModel
import Testing

@Suite("Settlement properties over random periods")
struct SettlementPropertyTests {
    typealias F = SettlementFixture

    static let sites: [SiteID] = ["s-a", "s-b", "s-c", "s-d"]
    static let tenants: [TenantID] = ["t-1", "t-2", "t-3", "t-4", "t-5"]
    static let classes: [AcceleratorClass] = [F.h100, F.ascend]
    static let programs: [VoucherProgram] = ["p-gz", "p-sz"].map { id in
        var program = F.program
        program.id = VoucherProgramID(rawValue: id)
        return program
    }
    /// Workday valley 23:00–07:00 and peak 10:00–12:00, so a long record is cut into several lines.
    static let periods = [
        TariffPeriod(kind: .valley, days: .workday, startMinute: 23 * 60, endMinute: 7 * 60),
        TariffPeriod(kind: .peak, days: .workday, startMinute: 10 * 60, endMinute: 12 * 60),
    ]

    /// What rating said, summed independently of the accumulator.
    struct Expected {
        var gross: [String: Int128] = [:]
        var voucher: [String: Int128] = [:]
        var fee: [String: Int128] = [:]
        mutating func add(_ charge: PostedCharge) {
            for key in ["", "site:\(charge.site)", "tenant:\(charge.tenant)"] {
                gross[key, default: 0] += Int128(charge.grossFen)
                voucher[key, default: 0] += Int128(charge.voucherFen)
                fee[key, default: 0] += Int128(charge.feeFen)
            }
            if let program = charge.voucherProgram {
                voucher["program:\(program)", default: 0] += Int128(charge.voucherFen)
            }
        }
    }

    /// A random period: charges rated by the real rater and posted by the real `ChargePosting`,
    /// with random voucher draws and fees, top-ups, budget openings, reversals and payouts.
    static func period(seed: UInt64, steps: Int) throws -> (
        stream: [(LedgerTransaction, PostedCharge?)], expected: Expected
    ) {
        var random = SplitMix64(seed: seed)
        var stream: [(LedgerTransaction, PostedCharge?)] = []
        var expected = Expected()
        var reversible: [LedgerTransaction] = []
        var opened: Set<VoucherProgramID> = []
        for step in 0..<steps {
            let roll = random.below(100)
            if roll < 8 {
                let tenant = random.pick(tenants)
                let amount = Fen(random.int(in: 1...1_000_000))
                stream.append((try LedgerTransaction.topUp(id: "topup:\(step)", tenant: tenant, amount: amount), nil))
            } else if roll < 14, !reversible.isEmpty {
                let original = reversible.remove(at: random.below(reversible.count))
                stream.append((try original.reversal(id: "reversal:\(original.id)"), nil))
            } else if roll < 18 {
                let amount = Fen(random.int(in: 1...50_000))
                let payout = LedgerTransaction(
                    id: "payout:\(step)", kind: .payout,
                    postings: [Posting(.siteReceivable(random.pick(sites)), -amount), Posting(.external, amount)])
                stream.append((payout, nil))
            } else if roll < 20 {
                let program = random.pick(programs)
                if opened.insert(program.id).inserted { stream.append((program.budgetOpening(year: 2026), nil)) }
            } else if let (transaction, charge) = try randomCharge(step: step, random: &random) {
                stream.append((transaction, charge))
                expected.add(charge)
                reversible.append(transaction)
            }
        }
        return (stream, expected)
    }

    static func randomCharge(step: Int, random: inout SplitMix64) throws -> (LedgerTransaction, PostedCharge)? {
        let site = random.pick(sites)
        let tenant = random.pick(tenants)
        let cls = random.pick(classes)
        let record = UsageRecordID(rawValue: "u-\(step)")
        let book = PriceBook(
            prices: [
                cls: ClassPrice(
                    flat: Int64(random.int(in: 1...5_000)), peak: Int64(random.int(in: 1...8_000)),
                    valley: Int64(random.int(in: 0...2_000)))
            ], periods: periods, utcOffsetMinutes: F.offset)
        let history = try PriceHistory(
            site: site, versions: [PriceVersion(version: random.int(in: 1...9), effectiveFromMs: 0, book: book)])
        let start = F.periodStart + Int64(random.int(in: 0...(25 * 24 * 60))) * 60_000
        let end = start + Int64(random.int(in: 1...(48 * 60))) * 60_000
        let usage = UsageToRate(
            recordID: record, job: JobID(rawValue: "job-\(step)"), tenant: tenant, site: site, cls: cls,
            units: random.int(in: 1...16), startMs: start, endMs: end)
        let rule = random.pick(RoundingRule.allCases)
        let lines = try Rater.rate(usage, history: history, energy: F.energy, spec: F.specs[cls], rule: rule)
        let gross = lines.reduce(Fen(0)) { $0 + $1.amountFen }
        guard gross > 0 else { return nil }

        var draw: VoucherDraw?
        if random.chance(0.6) {
            let program = random.pick(programs)
            let amount = Fen(random.int(in: 0...Int(gross)))
            if amount > 0 { draw = VoucherDraw(program: program.id, year: try program.year(atMs: end), amount: amount) }
        }
        let fee = PlatformFee(basisPoints: random.int(in: 0...1_000), rounding: random.pick(RoundingRule.allCases))
        let rated = VoucherCharge(
            id: record.rawValue, tenant: tenant, site: site, providerOrganisation: "provider",
            item: .compute(.gpu, domestic: false),
            amount: gross, atMs: end)
        let transaction = try ChargePosting.transaction(for: rated, voucher: draw, fee: fee)
        let charge = PostedCharge(
            recordID: record, job: usage.job, tenant: tenant, site: site, cls: cls, lines: lines, grossFen: gross,
            voucherFen: draw?.amount ?? 0, voucherProgram: draw?.program, voucherYear: draw?.year,
            feeFen: try fee.fee(on: gross), atMs: end)
        return (transaction, charge)
    }

    static func settle(_ stream: [(LedgerTransaction, PostedCharge?)]) throws -> SettlementReport {
        var accumulator = SettlementAccumulator(period: F.period)
        for (transaction, charge) in stream { accumulator.add(transaction, charge: charge) }
        return try accumulator.finish(usageWithoutCharge: [], chargesWithoutUsage: [])
    }

    @Test(
        "settled totals equal rated totals, the period sums to zero and every report ties",
        arguments: [1, 2, 3, 7, 42, 2026, 0xDEAD_BEEF] as [UInt64])
    func totalsTie(seed: UInt64) throws {
        let context = Comment(rawValue: "seed \(seed)")
        let (stream, expected) = try Self.period(seed: seed, steps: 400)
        let report = try Self.settle(stream)
        let r = report.reconciliation
        #expect(r.ok, context)
        #expect(r.sumFen == 0, context)
        #expect(r.transactions == stream.count, context)
        #expect(r.postings == stream.reduce(0) { $0 + $1.0.postings.count }, context)
        #expect(r.chargeMismatchCount == 0, "seed \(seed): \(r.chargeMismatches.prefix(3))")

        let charges = stream.compactMap(\.1)
        // The generator exercises what it should: vouchers, reversals, payouts, multi-line records.
        #expect(charges.count > 250 && charges.contains { $0.lines.count > 1 }, context)
        #expect(report.disbursements.count == Self.programs.count, context)
        #expect(report.invoices.contains { $0.otherFen != 0 }, context)
        #expect(report.statements.contains { $0.adjustmentsFen != 0 }, context)
        #expect(report.totals.charges == charges.count, context)
        #expect(Int128(report.totals.grossFen) == expected.gross[""] ?? 0, context)
        #expect(Int128(report.totals.voucherFen) == expected.voucher[""] ?? 0, context)
        #expect(Int128(report.totals.feeFen) == expected.fee[""] ?? 0, context)
        #expect(report.totals.payableFen == report.totals.grossFen - report.totals.voucherFen, context)
        #expect(report.totals.owedFen == report.totals.grossFen - report.totals.feeFen, context)

        let owedPlusFee = report.statements.reduce(Int128(0)) { $0 + Int128($1.owedFen) + Int128($1.feeFen) }
        #expect(owedPlusFee == Int128(report.totals.grossFen), context)
        let payablePlusVoucher = report.invoices.reduce(Int128(0)) {
            $0 + Int128($1.payableFen) + Int128($1.voucherFen)
        }
        #expect(payablePlusVoucher == Int128(report.totals.grossFen), context)
        let disbursed = report.disbursements.reduce(Int128(0)) { $0 + Int128($1.voucherFen) }
        #expect(disbursed == Int128(report.totals.voucherFen), context)

        for statement in report.statements {
            let key = "site:\(statement.site)"
            #expect(Int128(statement.grossFen) == expected.gross[key] ?? 0, context)
            #expect(Int128(statement.voucherFundedFen) == expected.voucher[key] ?? 0, context)
            #expect(Int128(statement.feeFen) == expected.fee[key] ?? 0, context)
            #expect(statement.byClass.reduce(0) { $0 + $1.grossFen } == statement.grossFen, context)
            #expect(statement.netChangeFen == statement.owedFen + statement.adjustmentsFen, context)
            #expect(statement.voucherFundedFen + statement.tenantPaidFen == statement.grossFen, context)
        }
        for invoice in report.invoices {
            let key = "tenant:\(invoice.tenant)"
            #expect(Int128(invoice.grossFen) == expected.gross[key] ?? 0, context)
            #expect(Int128(invoice.voucherFen) == expected.voucher[key] ?? 0, context)
            #expect(invoice.payableFen + invoice.voucherFen == invoice.grossFen, context)
            #expect(invoice.lines.reduce(0) { $0 + $1.grossFen } == invoice.grossFen, context)
            #expect(invoice.lines.reduce(0) { $0 + $1.payableFen } == invoice.payableFen, context)
            #expect(invoice.lines.reduce(0) { $0 + $1.charges } == invoice.charges, context)
            #expect(invoice.walletNetChangeFen == invoice.topUpsFen + invoice.otherFen - invoice.payableFen, context)
        }
        for disbursement in report.disbursements {
            let total = disbursement.voucherFen
            #expect(Int128(total) == expected.voucher["program:\(disbursement.program)"] ?? 0, context)
            #expect(disbursement.years.reduce(0) { $0 + $1.voucherFen } == total, context)
            #expect(disbursement.tenants.reduce(0) { $0 + $1.voucherFen } == total, context)
            #expect(disbursement.sites.reduce(0) { $0 + $1.voucherFen } == total, context)
        }
        #expect(report.statements.map(\.site) == report.statements.map(\.site).sorted(), context)
        #expect(report.invoices.map(\.tenant) == report.invoices.map(\.tenant).sorted(), context)

        // Totals do not depend on the order the store reads the period in.
        var random = SplitMix64(seed: seed ^ 0x5EED)
        #expect(try Self.settle(stream.shuffled(using: &random)) == report, context)
    }

    @Test(
        "one fen moved in one random charge is caught and named",
        arguments: [1, 2, 3, 7, 42, 2026, 0xDEAD_BEEF] as [UInt64])
    func oneFenMoved(seed: UInt64) throws {
        let context = Comment(rawValue: "seed \(seed)")
        var (stream, _) = try Self.period(seed: seed, steps: 200)
        var random = SplitMix64(seed: seed ^ 0x7A3E)
        let candidates = stream.indices.filter { index in
            stream[index].1 != nil
                && stream[index].0.postings.contains {
                    if case .siteReceivable = $0.account { $0.amount > 1 } else { false }
                }
        }
        let index = try #require(candidates.isEmpty ? nil : random.pick(candidates), context)
        let victim = stream[index].0.id
        stream[index].0.postings =
            stream[index].0.postings.map { posting in
                if case .siteReceivable = posting.account { return Posting(posting.account, posting.amount - 1) }
                return posting
            } + [Posting(.platformFee, 1)]
        let r = try Self.settle(stream).reconciliation
        #expect(!r.ok, context)
        #expect(r.sumFen == 0, context)
        #expect(r.chargeMismatchCount == 1, context)
        #expect(r.chargeMismatches.first?.transaction == victim, context)
    }
}
