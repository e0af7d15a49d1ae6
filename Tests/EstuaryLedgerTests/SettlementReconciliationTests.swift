import EstuaryLedger
import EstuaryModel
import Testing

@Suite("Settlement reconciliation catches what does not add up")
struct SettlementReconciliationTests {
    typealias F = SettlementFixture

    /// The hand-made period with the first charge (u-c1, 72.00 at gz-nansha, 21.60 from the
    /// voucher, fee 1.44) replaced by what `tamper` makes of it.
    static func settle(
        tampering tamper: (inout LedgerTransaction, inout PostedCharge?) -> Void
    ) throws -> Reconciliation {
        let fixture = try F.handMade()
        var stream = fixture.stream
        let index = try #require(stream.firstIndex { $0.0.id == "usage:u-c1" })
        var (transaction, charge) = stream[index]
        tamper(&transaction, &charge)
        stream[index] = (transaction, charge)
        var accumulator = SettlementAccumulator(period: F.period)
        for (transaction, charge) in stream { accumulator.add(transaction, charge: charge) }
        return try accumulator.finish(usageWithoutCharge: [], chargesWithoutUsage: []).reconciliation
    }

    struct Tampering: Sendable, CustomTestStringConvertible {
        var name: String
        /// Phrases the mismatch's reason must contain.
        var says: [String]
        var tamper: @Sendable (inout LedgerTransaction, inout PostedCharge?) -> Void
        var testDescription: String { name }

        init(
            _ name: String, says: [String],
            tamper: @escaping @Sendable (inout LedgerTransaction, inout PostedCharge?) -> Void
        ) {
            self.name = name
            self.says = says
            self.tamper = tamper
        }
    }

    static let tamperings: [Tampering] = [
        Tampering(
            "postings moved from the site to the platform",
            says: ["postings [", "are not those of gross 7200, voucher 2160 and fee 144 fen"]
        ) { transaction, _ in
            transaction.postings = transaction.postings.map { posting in
                switch posting.account {
                case .siteReceivable: Posting(posting.account, posting.amount - 100)
                case .platformFee: Posting(posting.account, posting.amount + 100)
                default: posting
                }
            }
        },
        Tampering("a voucher part the postings do not show", says: ["are not those of gross 7200, voucher 2000"]) {
            _, charge in
            charge?.voucherFen = 2_000
        },
        Tampering(
            "lines that do not sum to the gross (each line still recomputes)",
            says: ["its lines sum to 2400 fen, not its gross of 7200 fen"]
        ) { _, charge in
            charge?.lines[0].quantity = 2 * 3_600_000
            charge?.lines[0].amountFen = 2_400
        },
        Tampering(
            "a line whose amount is not its own figures",
            says: ["1 line(s) differ from their own figures (first: line 0: 7201 fen, recomputed 7200)", "sum to 7201"]
        ) { _, charge in
            charge?.lines[0].amountFen += 1
        },
        Tampering("a voucher part without a programme", says: ["a voucher part of 2160 fen names no programme"]) {
            _, charge in
            charge?.voucherProgram = nil
        },
        Tampering("a voucher part without a year", says: ["names no programme and year"]) { _, charge in
            charge?.voucherYear = nil
        },
        Tampering("the record of another tenant", says: ["line 0 is for tenant acme, the charge for lab", "postings"]) {
            _, charge in
            charge?.tenant = "lab"
        },
        Tampering("the record of another site", says: ["line 0 is at site gz-nansha, the charge at sz-bay"]) {
            _, charge in
            charge?.site = "sz-bay"
        },
        Tampering("posted under another record's id", says: ["posted as usage:u-other but record u-c1 is charged as"]) {
            transaction, _ in
            transaction.id = "usage:u-other"
        },
        Tampering("a fee beyond the gross", says: ["fee 9000 fen is outside 0…7200"]) { _, charge in
            charge?.feeFen = 9_000
        },
        Tampering("a charge without its rated record", says: ["a charge without its rated usage record"]) { _, charge in
            charge = nil
        },
        Tampering("a rated record on a payout", says: ["a payout transaction came with the rated record u-c1"]) {
            transaction, _ in
            transaction.kind = .payout
        },
    ]

    @Test("a charge that does not match its rated usage record is a mismatch", arguments: tamperings)
    func tamperedCharge(_ c: Tampering) throws {
        let r = try Self.settle(tampering: c.tamper)
        #expect(!r.ok)
        #expect(r.chargeMismatchCount == 1)
        let mismatch = try #require(r.chargeMismatches.first)
        for phrase in c.says { #expect(mismatch.reason.contains(phrase), "\(mismatch.reason)") }
    }

    @Test("the untouched period has no mismatch, so the tamperings above are what the audit sees")
    func untouched() throws {
        let r = try Self.settle { _, _ in }
        #expect(r.ok)
        #expect(r.chargeMismatchCount == 0)
    }

    @Test("an unbalanced transaction is named and the period's sum is off by its imbalance")
    func unbalanced() throws {
        let fixture = try F.handMade()
        let bad = LedgerTransaction(
            id: "adjustment:oops", kind: .adjustment,
            postings: [Posting(.wallet("acme"), 100), Posting(.external, -99)])
        let r = try fixture.settle(extra: [(bad, nil)]).reconciliation
        #expect(r.sumFen == 1)
        #expect(r.unbalanced == ["adjustment:oops"])
        #expect(r.unbalancedCount == 1)
        #expect(!r.ok)
    }

    @Test("usage without a charge and charges without usage are reported as given and fail the period")
    func orphans() throws {
        let fixture = try F.handMade()
        let r = try fixture.settle(usageWithoutCharge: ["u-lost"], chargesWithoutUsage: ["u-c2"]).reconciliation
        #expect(r.usageWithoutCharge == ["u-lost"] && r.usageWithoutChargeCount == 1)
        #expect(r.chargesWithoutUsage == ["u-c2"] && r.chargesWithoutUsageCount == 1)
        #expect(r.sumFen == 0)
        #expect(!r.ok)
    }

    @Test("problem lists keep the first thousand entries and count them all")
    func boundedLists() throws {
        var accumulator = SettlementAccumulator(period: F.period)
        let count = Reconciliation.listLimit + 5
        for i in 0..<count {
            accumulator.add(
                LedgerTransaction(id: "adjustment:\(i)", kind: .adjustment, postings: [Posting(.external, 1)]),
                charge: nil)
            accumulator.add(
                LedgerTransaction(id: "usage:\(i)", kind: .charge, postings: [Posting(.external, -1)]), charge: nil)
        }
        let usage = (0..<count).map { UsageRecordID(rawValue: "u-\($0)") }
        let r = try accumulator.finish(usageWithoutCharge: usage, chargesWithoutUsage: usage).reconciliation
        #expect(r.sumFen == 0)
        #expect(r.unbalanced.count == Reconciliation.listLimit && r.unbalancedCount == 2 * count)
        #expect(r.unbalanced.first == "adjustment:0")
        #expect(r.chargeMismatches.count == Reconciliation.listLimit && r.chargeMismatchCount == count)
        #expect(r.usageWithoutCharge.count == Reconciliation.listLimit && r.usageWithoutChargeCount == count)
        #expect(r.chargesWithoutUsage.count == Reconciliation.listLimit && r.chargesWithoutUsageCount == count)
        #expect(!r.ok)
    }

    @Test("a sum beyond Int64 fen is an overflow error, never a clamped figure")
    func overflow() {
        var accumulator = SettlementAccumulator(period: F.period)
        for i in 0..<3 {
            accumulator.add(
                LedgerTransaction(
                    id: "topup:\(i)", kind: .topUp,
                    postings: [Posting(.external, -.max), Posting(.wallet("acme"), .max)]),
                charge: nil)
        }
        let error = #expect(throws: LedgerError.self) {
            _ = try accumulator.finish(usageWithoutCharge: [], chargesWithoutUsage: [])
        }
        guard case .overflow(let what) = error else {
            Issue.record("expected an overflow, got \(String(describing: error))")
            return
        }
        #expect(what.contains("acme"))
    }
}
