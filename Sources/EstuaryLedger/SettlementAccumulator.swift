import EstuaryModel

/// Settles one billing period from a stream of its transactions.
///
/// The store reads the period's transactions in posting order and passes each one once, with
/// the rated usage record of a charge; `finish` then gives every report and the reconciliation.
/// It keeps running sums per site, tenant (per site and class), programme (per year, tenant and
/// site), and the first `Reconciliation.listLimit` problems of each kind: its memory grows with
/// the parties, never with the number of transactions, so a period of ten million postings
/// settles in the space of its price list. Sums are taken in 128 bits and only brought back to
/// Int64 fen at the end, where one that does not fit is `LedgerError.overflow`, never clamped.
///
/// The same transactions in the same order give the same report, so closing a period again is
/// harmless. Seeing each transaction once is the store's part: the accumulator remembers no
/// transaction ids, and the store's anti-joins name usage records without charges and charges
/// without usage records.
public struct SettlementAccumulator: Sendable {
    public let period: BillingPeriod

    private var sites: [SiteID: SiteTally] = [:]
    private var tenants: [TenantID: TenantTally] = [:]
    private var programs: [VoucherProgramID: ProgramTally] = [:]
    private var peers: [CoordinatorID: (transfers: Int, net: Int128)] = [:]
    private var totals = ChargeTally()
    private var transactions = 0
    private var postings = 0
    private var sum: Int128 = 0
    private var unbalanced = CappedList<String>()
    private var mismatches = CappedList<ChargeMismatch>()

    public init(period: BillingPeriod) {
        self.period = period
    }

    /// Adds one transaction posted in the period. `charge` is the rated usage record of a
    /// `.charge` transaction and nil for every other kind; a charge without one, or another kind
    /// with one, is reported as a charge mismatch (and its postings still count).
    public mutating func add(_ transaction: LedgerTransaction, charge: PostedCharge?) {
        transactions += 1
        let tiedToCharge = transaction.kind == .charge && charge != nil
        var own: Int128 = 0
        for posting in transaction.postings {
            postings += 1
            own += Int128(posting.amount)
            book(posting, kind: transaction.kind, tiedToCharge: tiedToCharge)
        }
        sum += own
        if own != 0 { unbalanced.append(transaction.id) }

        switch (transaction.kind, charge) {
        case (.charge, let charge?):
            let problems = ChargeAudit.problems(of: charge, postedAs: transaction)
            if !problems.isEmpty {
                mismatches.append(ChargeMismatch(transaction: transaction.id, reason: problems.joined(separator: "; ")))
            }
            tally(charge)
        case (.charge, nil):
            mismatches.append(
                ChargeMismatch(
                    transaction: transaction.id,
                    reason: "a charge without its rated usage record: nothing ties it to usage"))
        case (let kind, let charge?):
            mismatches.append(
                ChargeMismatch(
                    transaction: transaction.id,
                    reason:
                        "a \(kind.rawValue) transaction came with the rated record \(charge.recordID); only charges have one"
                ))
        case (_, nil):
            break
        }
    }

    /// The period's reports. `usageWithoutCharge` and `chargesWithoutUsage` come from the store
    /// and are kept as given (the first `Reconciliation.listLimit` of each, and their counts).
    /// Throws `LedgerError.overflow` when a sum does not fit in Int64 fen.
    public func finish(usageWithoutCharge: [UsageRecordID], chargesWithoutUsage: [UsageRecordID]) throws(LedgerError)
        -> SettlementReport
    {
        let statements = try sites.sorted { $0.key < $1.key }.map { site, tally throws(LedgerError) in
            try tally.statement(period: period, site: site)
        }
        let invoices = try tenants.sorted { $0.key < $1.key }.map { tenant, tally throws(LedgerError) in
            try tally.invoice(period: period, tenant: tenant)
        }
        let disbursements = try programs.sorted { $0.key < $1.key }.map { program, tally throws(LedgerError) in
            try tally.disbursement(period: period, program: program)
        }

        let peerStatements = try peers.sorted { $0.key < $1.key }.map { peer, tally throws(LedgerError) in
            PeerStatement(
                period: period, peer: peer, transfers: tally.transfers,
                netFen: try fen(tally.net, "net with peer \(peer) in \(period)"))
        }

        let owedPlusFee = statements.reduce(Int128(0)) { $0 + Int128($1.owedFen) + Int128($1.feeFen) }
        let payablePlusVoucher = invoices.reduce(Int128(0)) { $0 + Int128($1.payableFen) + Int128($1.voucherFen) }
        let disbursed = disbursements.reduce(Int128(0)) { $0 + Int128($1.voucherFen) }
        let usageWithout = CappedList(usageWithoutCharge)
        let chargesWithout = CappedList(chargesWithoutUsage)
        let ok =
            sum == 0 && unbalanced.count == 0 && mismatches.count == 0 && usageWithout.count == 0
            && chargesWithout.count == 0 && owedPlusFee == totals.gross && payablePlusVoucher == totals.gross
            && disbursed == totals.voucher
        let reconciliation = Reconciliation(
            period: period, transactions: transactions, postings: postings,
            sumFen: try fen(sum, "sum of the postings of \(period)"), unbalanced: unbalanced.items,
            unbalancedCount: unbalanced.count, chargeMismatches: mismatches.items,
            chargeMismatchCount: mismatches.count,
            usageWithoutCharge: usageWithout.items, usageWithoutChargeCount: usageWithout.count,
            chargesWithoutUsage: chargesWithout.items, chargesWithoutUsageCount: chargesWithout.count,
            ratedGrossFen: try fen(totals.gross, "rated gross of \(period)"),
            owedPlusFeeFen: try fen(owedPlusFee, "owed plus fee of \(period)"),
            payablePlusVoucherFen: try fen(payablePlusVoucher, "payable plus voucher of \(period)"),
            ratedVoucherFen: try fen(totals.voucher, "voucher total of \(period)"),
            disbursedFen: try fen(disbursed, "disbursed total of \(period)"), ok: ok)
        return SettlementReport(
            period: period, statements: statements, invoices: invoices, disbursements: disbursements,
            peers: peerStatements, reconciliation: reconciliation, totals: try totals.settlementTotals(period: period))
    }

    // MARK: Streaming

    /// Books one posting to the party whose account it moves. Postings of a charge tied to its
    /// rated record are counted from the record (`tally`); here they only move net changes.
    private mutating func book(_ posting: Posting, kind: TransactionKind, tiedToCharge: Bool) {
        let amount = Int128(posting.amount)
        switch posting.account {
        case .siteReceivable(let site):
            sites[site, default: SiteTally()].netChange += amount
            if !tiedToCharge { sites[site, default: SiteTally()].adjustments += amount }
        case .wallet(let tenant):
            tenants[tenant, default: TenantTally()].walletNet += amount
            if kind == .topUp {
                tenants[tenant, default: TenantTally()].topUps += amount
            } else if !tiedToCharge {
                tenants[tenant, default: TenantTally()].other += amount
            }
        case .voucherBudget(let program, _):
            if kind == .voucherBudgetOpening {
                programs[program, default: ProgramTally()].budgetOpenings += amount
            } else if !tiedToCharge {
                programs[program, default: ProgramTally()].budgetAdjustments += amount
            } else if programs[program] == nil {
                programs[program] = ProgramTally()
            }
        case .voucherAllowance(let program, _, _), .voucherFunding(let program), .voucherQuota(let program):
            if programs[program] == nil { programs[program] = ProgramTally() }
        case .peerCoordinator(let peer):
            peers[peer, default: (0, 0)].net += amount
            if kind == .interRegion { peers[peer, default: (0, 0)].transfers += 1 }
        case .platformFee, .external:
            break
        }
    }

    /// Adds a rated charge to its site, tenant, programme and the totals.
    private mutating func tally(_ charge: PostedCharge) {
        var figures = ChargeTally(charge)
        var unitMs: Int128 = 0
        for line in charge.lines {
            if let ms = line.unitMilliseconds { unitMs += Int128(ms) }
            figures.energy += Int128(line.energyWh ?? 0)
            figures.grams += Int128(line.gramsCO2 ?? 0)
        }
        let item = ItemKey(cls: charge.cls, service: charge.cls == nil ? charge.lines.first?.service : nil)

        sites[charge.site, default: SiteTally()].add(figures, item: item, unitMs: unitMs)
        tenants[charge.tenant, default: TenantTally()].add(
            figures, line: LineKey(site: charge.site, item: item), unitMs: unitMs)
        if charge.voucherFen != 0, let program = charge.voucherProgram, let year = charge.voucherYear {
            programs[program, default: ProgramTally()].add(figures.voucher, year: year, charge: charge)
        }
        totals.add(figures)
    }
}

/// An Int128 sum as Int64, or `LedgerError.overflow` naming it.
private func fen(_ value: Int128, _ what: @autoclosure () -> String) throws(LedgerError) -> Int64 {
    try LedgerArithmetic.fen(value, what())
}

// MARK: Running sums

extension SettlementAccumulator {
    /// What a charge was for: a class of compute, or (class nil) a service.
    struct ItemKey: Hashable, Sendable {
        var cls: AcceleratorClass?
        var service: ServiceID?

        /// Compute classes first, in name order, then services in name order.
        static func precedes(_ a: ItemKey, _ b: ItemKey) -> Bool {
            (a.cls == nil ? 1 : 0, a.cls?.rawValue ?? "", a.service?.rawValue ?? "")
                < (b.cls == nil ? 1 : 0, b.cls?.rawValue ?? "", b.service?.rawValue ?? "")
        }
    }

    struct LineKey: Hashable, Sendable {
        var site: SiteID
        var item: ItemKey
    }

    /// The figures of one or more charges.
    struct ChargeTally: Sendable {
        var charges = 0
        var gross: Int128 = 0
        var voucher: Int128 = 0
        var fee: Int128 = 0
        var energy: Int128 = 0
        var grams: Int128 = 0
        var payable: Int128 { gross - voucher }
        var owed: Int128 { gross - fee }

        init() {}

        init(_ charge: PostedCharge) {
            charges = 1
            gross = Int128(charge.grossFen)
            voucher = Int128(charge.voucherFen)
            fee = Int128(charge.feeFen)
        }

        mutating func add(_ other: ChargeTally) {
            charges += other.charges
            gross += other.gross
            voucher += other.voucher
            fee += other.fee
            energy += other.energy
            grams += other.grams
        }

        func settlementTotals(period: BillingPeriod) throws(LedgerError) -> SettlementTotals {
            SettlementTotals(
                charges: charges, grossFen: try fen(gross, "gross of \(period)"),
                voucherFen: try fen(voucher, "voucher part of \(period)"), feeFen: try fen(fee, "fees of \(period)"),
                payableFen: try fen(payable, "payable of \(period)"),
                owedFen: try fen(owed, "owed to sites in \(period)"))
        }
    }

    struct SiteTally: Sendable {
        var charges = ChargeTally()
        var byItem: [ItemKey: (unitMs: Int128, gross: Int128)] = [:]
        var adjustments: Int128 = 0
        var netChange: Int128 = 0

        mutating func add(_ figures: ChargeTally, item: ItemKey, unitMs: Int128) {
            charges.add(figures)
            byItem[item, default: (0, 0)].unitMs += unitMs
            byItem[item, default: (0, 0)].gross += figures.gross
        }

        func statement(period: BillingPeriod, site: SiteID) throws(LedgerError) -> SiteStatement {
            let what = "site \(site) in \(period)"
            let byClass = try byItem.sorted { ItemKey.precedes($0.key, $1.key) }.map { item, sums throws(LedgerError) in
                SiteStatement.ClassUsage(
                    cls: item.cls, service: item.service, unitMs: try fen(sums.unitMs, "unit-ms of \(what)"),
                    grossFen: try fen(sums.gross, "gross of \(what)"))
            }
            return SiteStatement(
                period: period, site: site, charges: charges.charges, byClass: byClass,
                grossFen: try fen(charges.gross, "gross of \(what)"), feeFen: try fen(charges.fee, "fee of \(what)"),
                owedFen: try fen(charges.owed, "owed to \(what)"),
                voucherFundedFen: try fen(charges.voucher, "voucher part of \(what)"),
                tenantPaidFen: try fen(charges.payable, "tenant-paid part of \(what)"),
                energyWh: try fen(charges.energy, "energy of \(what)"),
                gramsCO2: try fen(charges.grams, "CO2 of \(what)"),
                adjustmentsFen: try fen(adjustments, "adjustments of \(what)"),
                netChangeFen: try fen(netChange, "net change of \(what)"))
        }
    }

    struct TenantTally: Sendable {
        var charges = ChargeTally()
        var lines: [LineKey: (figures: ChargeTally, unitMs: Int128)] = [:]
        var topUps: Int128 = 0
        var other: Int128 = 0
        var walletNet: Int128 = 0

        mutating func add(_ figures: ChargeTally, line: LineKey, unitMs: Int128) {
            charges.add(figures)
            lines[line, default: (ChargeTally(), 0)].figures.add(figures)
            lines[line, default: (ChargeTally(), 0)].unitMs += unitMs
        }

        func invoice(period: BillingPeriod, tenant: TenantID) throws(LedgerError) -> TenantInvoice {
            let what = "tenant \(tenant) in \(period)"
            let sorted = lines.sorted { a, b in
                a.key.site != b.key.site ? a.key.site < b.key.site : ItemKey.precedes(a.key.item, b.key.item)
            }
            let invoiceLines = try sorted.map { key, sums throws(LedgerError) in
                let line = "\(what) at \(key.site)"
                return TenantInvoice.Line(
                    site: key.site, cls: key.item.cls, service: key.item.service, charges: sums.figures.charges,
                    unitMs: try fen(sums.unitMs, "unit-ms of \(line)"),
                    grossFen: try fen(sums.figures.gross, "gross of \(line)"),
                    voucherFen: try fen(sums.figures.voucher, "voucher part of \(line)"),
                    payableFen: try fen(sums.figures.payable, "payable of \(line)"))
            }
            return TenantInvoice(
                period: period, tenant: tenant, charges: charges.charges,
                grossFen: try fen(charges.gross, "gross of \(what)"),
                voucherFen: try fen(charges.voucher, "voucher part of \(what)"),
                payableFen: try fen(charges.payable, "payable of \(what)"),
                energyWh: try fen(charges.energy, "energy of \(what)"),
                gramsCO2: try fen(charges.grams, "CO2 of \(what)"),
                lines: invoiceLines, topUpsFen: try fen(topUps, "top-ups of \(what)"),
                otherFen: try fen(other, "other of \(what)"),
                walletNetChangeFen: try fen(walletNet, "wallet change of \(what)"))
        }
    }

    struct ProgramTally: Sendable {
        var charges = 0
        var voucher: Int128 = 0
        var years: [Int: Int128] = [:]
        var tenants: [TenantID: Int128] = [:]
        var sites: [SiteID: Int128] = [:]
        var budgetOpenings: Int128 = 0
        var budgetAdjustments: Int128 = 0

        mutating func add(_ amount: Int128, year: Int, charge: PostedCharge) {
            charges += 1
            voucher += amount
            years[year, default: 0] += amount
            tenants[charge.tenant, default: 0] += amount
            sites[charge.site, default: 0] += amount
        }

        func disbursement(period: BillingPeriod, program: VoucherProgramID) throws(LedgerError) -> ProgramDisbursement {
            let what = "programme \(program) in \(period)"
            return ProgramDisbursement(
                period: period, program: program, charges: charges,
                voucherFen: try fen(voucher, "voucher part of \(what)"),
                years: try years.sorted { $0.key < $1.key }.map { year, amount throws(LedgerError) in
                    .init(year: year, voucherFen: try fen(amount, "\(what), year \(year)"))
                },
                tenants: try tenants.sorted { $0.key < $1.key }.map { tenant, amount throws(LedgerError) in
                    .init(tenant: tenant, voucherFen: try fen(amount, "\(what), tenant \(tenant)"))
                },
                sites: try sites.sorted { $0.key < $1.key }.map { site, amount throws(LedgerError) in
                    .init(site: site, voucherFen: try fen(amount, "\(what), site \(site)"))
                },
                budgetOpeningsFen: try fen(budgetOpenings, "budget openings of \(what)"),
                budgetAdjustmentsFen: try fen(budgetAdjustments, "budget adjustments of \(what)"))
        }
    }
}
