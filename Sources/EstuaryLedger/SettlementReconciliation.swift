import EstuaryModel

/// The proof that a period's reports can be trusted: every posting in the period sums to zero,
/// every transaction balances on its own, every charge's postings are exactly what its rated
/// usage record says, every usage record has a charge and every charge a usage record, and the
/// reports' totals tie to the rated totals.
///
/// **Bounded lists.** So that settling ten million postings takes memory in proportion to the
/// parties, not the postings, each problem list keeps at most `listLimit` entries (the first ones
/// met, in posting order, or as the store gave them) while its `…_count` counts every one. `ok`
/// looks at the counts, so a truncated list never hides a problem.
public struct Reconciliation: Sendable, Hashable, Codable {
    /// The most entries any problem list keeps.
    public static let listLimit = 1_000

    public var period: BillingPeriod
    /// Transactions and postings settled.
    public var transactions: Int
    public var postings: Int
    /// The sum of every posting in the period, taken in 128 bits. Must be 0.
    public var sumFen: Fen
    /// Transactions whose own postings do not sum to zero (the first `listLimit`).
    public var unbalanced: [String]
    public var unbalancedCount: Int
    /// Charges whose postings, lines or identity disagree with their rated usage record.
    public var chargeMismatches: [ChargeMismatch]
    public var chargeMismatchCount: Int
    /// Usage records of the period with no charge, and charges with no usage record, as the
    /// store found them.
    public var usageWithoutCharge: [UsageRecordID]
    public var usageWithoutChargeCount: Int
    public var chargesWithoutUsage: [UsageRecordID]
    public var chargesWithoutUsageCount: Int
    /// The sum of every charge's gross: what rating said the period's usage cost.
    public var ratedGrossFen: Fen
    /// Σ over site statements of owed + fee. Must equal `ratedGrossFen`.
    public var owedPlusFeeFen: Fen
    /// Σ over tenant invoices of payable + voucher. Must equal `ratedGrossFen`.
    public var payablePlusVoucherFen: Fen
    /// The sum of every charge's voucher part.
    public var ratedVoucherFen: Fen
    /// Σ over programme disbursements. Must equal `ratedVoucherFen`.
    public var disbursedFen: Fen
    /// True iff the sum is 0, every problem count is 0 and every total ties.
    public var ok: Bool

    enum CodingKeys: String, CodingKey {
        case period, transactions, postings
        case sumFen = "sum_fen"
        case unbalanced
        case unbalancedCount = "unbalanced_count"
        case chargeMismatches = "charge_mismatches"
        case chargeMismatchCount = "charge_mismatch_count"
        case usageWithoutCharge = "usage_without_charge"
        case usageWithoutChargeCount = "usage_without_charge_count"
        case chargesWithoutUsage = "charges_without_usage"
        case chargesWithoutUsageCount = "charges_without_usage_count"
        case ratedGrossFen = "rated_gross_fen"
        case owedPlusFeeFen = "owed_plus_fee_fen"
        case payablePlusVoucherFen = "payable_plus_voucher_fen"
        case ratedVoucherFen = "rated_voucher_fen"
        case disbursedFen = "disbursed_fen"
        case ok
    }
}

/// A charge transaction that does not match its rated usage record, and every way it does not.
public struct ChargeMismatch: Sendable, Hashable, Codable {
    public var transaction: String
    /// What is wrong, each problem separated by "; ".
    public var reason: String

    public init(transaction: String, reason: String) {
        self.transaction = transaction
        self.reason = reason
    }
}

/// The first `Reconciliation.listLimit` items appended, and how many were.
struct CappedList<Element: Sendable>: Sendable {
    private(set) var items: [Element] = []
    private(set) var count = 0

    init() {}

    init(_ all: [Element]) {
        items = Array(all.prefix(Reconciliation.listLimit))
        count = all.count
    }

    mutating func append(_ item: Element) {
        count += 1
        if items.count < Reconciliation.listLimit { items.append(item) }
    }
}

/// Checks one charge transaction against the usage record it was rated from.
enum ChargeAudit {
    /// Every way `transaction` and `charge` disagree; empty when they agree. Never throws: a
    /// figure that cannot even be recomputed is itself a problem to report.
    static func problems(of charge: PostedCharge, postedAs transaction: LedgerTransaction) -> [String] {
        var problems: [String] = []
        if transaction.id != charge.transactionID {
            problems.append(
                "posted as \(transaction.id) but record \(charge.recordID) is charged as \(charge.transactionID)")
        }

        var linesSum: Int128 = 0
        var foreign: String?
        var misrated = 0
        var firstMisrated = ""
        for line in charge.lines {
            linesSum += Int128(line.amountFen)
            if foreign == nil {
                if line.recordID != charge.recordID {
                    foreign = "line \(line.index) is of record \(line.recordID)"
                } else if line.job != charge.job {
                    foreign = "line \(line.index) is for job \(line.job), the charge for \(charge.job)"
                } else if line.tenant != charge.tenant {
                    foreign = "line \(line.index) is for tenant \(line.tenant), the charge for \(charge.tenant)"
                } else if line.site != charge.site {
                    foreign = "line \(line.index) is at site \(line.site), the charge at \(charge.site)"
                } else if line.cls != charge.cls {
                    foreign =
                        "line \(line.index) is for class \(line.cls?.rawValue ?? "none"), the charge for \(charge.cls?.rawValue ?? "none")"
                }
            }
            do throws(LedgerError) {
                let again = try line.recomputedAmount()
                if again != line.amountFen {
                    misrated += 1
                    if misrated == 1 {
                        firstMisrated = "line \(line.index): \(line.amountFen) fen, recomputed \(again)"
                    }
                }
            } catch {
                misrated += 1
                if misrated == 1 { firstMisrated = "line \(line.index) cannot be recomputed: \(error)" }
            }
        }
        if let foreign { problems.append(foreign) }
        if linesSum != Int128(charge.grossFen) {
            problems.append("its lines sum to \(linesSum) fen, not its gross of \(charge.grossFen) fen")
        }
        if misrated > 0 {
            problems.append("\(misrated) line(s) differ from their own figures (first: \(firstMisrated))")
        }

        var rebuildable = true
        if !(0...max(0, charge.grossFen)).contains(charge.voucherFen) {
            problems.append("voucher part \(charge.voucherFen) fen is outside 0…\(charge.grossFen)")
            rebuildable = false
        }
        if !(0...max(0, charge.grossFen)).contains(charge.feeFen) {
            problems.append("fee \(charge.feeFen) fen is outside 0…\(charge.grossFen)")
            rebuildable = false
        }
        if charge.voucherFen > 0, charge.voucherProgram == nil || charge.voucherYear == nil {
            problems.append("a voucher part of \(charge.voucherFen) fen names no programme and year")
            rebuildable = false
        }
        if charge.voucherFen == 0, charge.voucherProgram != nil || charge.voucherYear != nil {
            problems.append("it names a voucher programme and year but the voucher paid nothing")
        }
        if rebuildable {
            if charge.grossFen > 0, samePostings(transaction.postings, quickPostings(for: charge)) {
                #if DEBUG
                    // Debug builds (the tests) hold the quick rule to `ChargePosting` on every charge.
                    if (try? expectedTransaction(for: charge).fingerprint) != transaction.fingerprint {
                        problems.append("settlement's quick posting rule disagrees with ChargePosting: fix ChargeAudit")
                    }
                #endif
            } else {
                do throws(LedgerError) {
                    let expected = try expectedTransaction(for: charge).fingerprint
                    if expected != transaction.fingerprint {
                        problems.append(
                            "postings [\(text(transaction.fingerprint))] are not those of gross \(charge.grossFen), voucher \(charge.voucherFen) and fee \(charge.feeFen) fen: [\(text(expected))]"
                        )
                    }
                } catch {
                    problems.append("its postings cannot be rebuilt: \(error)")
                }
            }
        }
        return problems
    }

    /// The postings `expectedTransaction` gives, for a positive gross and a voucher and fee within
    /// it, without building a transaction: its memo formats the charge's item by reflection and
    /// its fingerprint sorts by account text, which together cost most of the time of settling
    /// millions of charges. Only a match is taken from here; any difference is judged again by
    /// `expectedTransaction`, so the quick rule can never invent a mismatch.
    static func quickPostings(for charge: PostedCharge) -> [Posting] {
        var postings: [Posting] = []
        postings.reserveCapacity(6)
        let (gross, voucher, fee) = (charge.grossFen, charge.voucherFen, charge.feeFen)
        if gross - voucher > 0 { postings.append(Posting(.wallet(charge.tenant), -(gross - voucher))) }
        if voucher > 0, let program = charge.voucherProgram, let year = charge.voucherYear {
            postings.append(Posting(.voucherBudget(program, year: year), -voucher))
            postings.append(Posting(.voucherAllowance(program, charge.tenant, year: year), -voucher))
            postings.append(Posting(.voucherQuota(program), voucher))
        }
        if gross - fee > 0 { postings.append(Posting(.siteReceivable(charge.site), gross - fee)) }
        if fee > 0 { postings.append(Posting(.platformFee, fee)) }
        return postings
    }

    /// Whether `a` and `b` hold the same postings in any order, as equal fingerprints say,
    /// without sorting: each posting of `a` is matched to a distinct equal one of `b`.
    static func samePostings(_ a: [Posting], _ b: [Posting]) -> Bool {
        guard a.count == b.count else { return false }
        guard b.count <= 64 else { return a.sorted(by: precedes) == b.sorted(by: precedes) }
        var matched: UInt64 = 0
        for posting in a {
            guard let index = b.indices.first(where: { matched & (1 << $0) == 0 && b[$0] == posting }) else {
                return false
            }
            matched |= 1 << index
        }
        return true
    }

    private static func precedes(_ a: Posting, _ b: Posting) -> Bool { (a.account, a.amount) < (b.account, b.amount) }

    /// The transaction `ChargePosting` builds for the charge's gross, voucher draw and fee.
    /// A posted charge keeps the fee it came to, not the rate: the transaction is built without a
    /// fee and the fee then moved from the site's line to the platform's, exactly as a rate
    /// giving that fee would have split it.
    static func expectedTransaction(for charge: PostedCharge) throws(LedgerError) -> LedgerTransaction {
        var draw: VoucherDraw?
        if charge.voucherFen > 0, let program = charge.voucherProgram, let year = charge.voucherYear {
            draw = VoucherDraw(program: program, year: year, amount: charge.voucherFen)
        }
        let rated = VoucherCharge(
            id: charge.recordID.rawValue, tenant: charge.tenant, site: charge.site, providerOrganisation: "",
            item: .other("settlement"), amount: charge.grossFen, atMs: charge.atMs)
        var transaction = try ChargePosting.transaction(for: rated, voucher: draw, fee: .none)
        if charge.feeFen > 0 {
            transaction.postings = transaction.postings.compactMap { posting in
                guard case .siteReceivable = posting.account else { return posting }
                let owed = posting.amount - charge.feeFen
                return owed > 0 ? Posting(posting.account, owed) : nil
            }
            transaction.postings.append(Posting(.platformFee, charge.feeFen))
        }
        return transaction
    }

    private static func text(_ postings: [Posting]) -> String {
        postings.map { "\($0.account.text) \($0.amount)" }.joined(separator: ", ")
    }
}
