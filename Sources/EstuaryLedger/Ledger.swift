import EstuaryModel

/// The double-entry ledger as a value: balances, the journal of applied transactions, wallet
/// credit limits and the holds of admitted jobs.
///
/// It is a state machine in the house style: every change is one mutating call that either
/// succeeds completely or throws and leaves the value exactly as it was, and nothing in it reads a
/// clock. The coordinator owns one `Ledger` inside its actor and writes the journal and holds to
/// its store in the same order; because one owner applies one call at a time, and every limit is
/// checked against the balances *after* the whole transaction, two ratings that raced on the same
/// budget cannot both pass: the second one sees the first one's draw.
public struct Ledger: Sendable, Equatable {
    /// Every account that was ever posted to, with its balance (see `Posting` for the sign).
    public private(set) var balances: [AccountID: Fen] = [:]
    /// Each tenant's credit line in fen: its wallet may go down to minus this. A tenant absent
    /// here and from `unlimitedCredit` has `defaultCreditLimit`.
    public private(set) var creditLimits: [TenantID: Fen] = [:]
    /// Tenants whose wallet has no floor (postpaid without limit).
    public private(set) var unlimitedCredit: Set<TenantID> = []
    /// The credit line of a tenant nobody set one for: 0 (a prepaid wallet) unless the owner
    /// says otherwise; nil means no limit.
    public var defaultCreditLimit: Fen? = 0
    /// Whether the journal is kept in memory. A long-running owner whose store already makes
    /// posting idempotent (the coordinator's) turns it off so that memory does not grow with
    /// history; `transaction(id:)`, `reverse(id:)` and repeat detection then see only what the
    /// store passes in again.
    public let retainsJournal: Bool
    /// The live holds, by job.
    public private(set) var holds: [JobID: Hold] = [:]
    /// Every applied transaction, in the order it was applied.
    public private(set) var journal: [LedgerTransaction] = []

    private var positions: [String: Int] = [:]
    private var reversedBy: [String: String] = [:]
    private var heldByTenant: [TenantID: Fen] = [:]

    public init(retainingJournal: Bool = true) {
        retainsJournal = retainingJournal
    }

    /// A ledger restored from stored balances and holds (no journal), refusing a state whose
    /// balances do not sum to zero or whose holds do not fit the balances: the coordinator's
    /// reconciliation at start.
    public init(
        balances: [AccountID: Fen], creditLimits: [TenantID: Fen?], defaultCreditLimit: Fen?, holds: [Hold]
    ) throws(LedgerError) {
        retainsJournal = false
        self.defaultCreditLimit = defaultCreditLimit
        let sum = balances.values.reduce(Int128(0)) { $0 + Int128($1) }
        guard sum == 0 else { throw .unbalanced(transaction: "stored balances", sum: Fen(clamping: sum)) }
        self.balances = balances
        for (tenant, limit) in creditLimits { try setCreditLimit(limit, for: tenant) }
        for hold in holds {
            guard hold.amount >= 0, hold.amount <= hold.reserved, self.holds[hold.job] == nil else {
                throw .invalid("stored hold of job \(hold.job) is inconsistent")
            }
            guard Fen(exactly: Int128(held(by: hold.tenant)) + Int128(hold.amount)) != nil else {
                throw .overflow("holds of tenant \(hold.tenant)")
            }
            replaceHold(hold)
        }
    }

    /// The balance of `account`; 0 for an account never posted to.
    public func balance(_ account: AccountID) -> Fen { balances[account] ?? 0 }

    /// The applied transaction with this id, if any.
    public func transaction(id: String) -> LedgerTransaction? { positions[id].map { journal[$0] } }

    /// The sum of every balance. Always exactly 0; exposed so that tests and reconciliation can say so.
    public var sumOfBalances: Int128 { balances.values.reduce(0) { $0 + Int128($1) } }

    /// What `tenant`'s live holds reserve.
    public func held(by tenant: TenantID) -> Fen { heldByTenant[tenant] ?? 0 }

    /// What `tenant` can still spend or reserve: wallet balance − holds + credit limit; nil when
    /// its credit has no limit.
    public func available(to tenant: TenantID) -> Int128? {
        guard let limit = creditLimit(of: tenant) else { return nil }
        return Int128(balance(.wallet(tenant))) - Int128(held(by: tenant)) + Int128(limit)
    }

    /// The tenant's credit line in fen; nil when it has no limit.
    public func creditLimit(of tenant: TenantID) -> Fen? {
        if unlimitedCredit.contains(tenant) { return nil }
        return creditLimits[tenant] ?? defaultCreditLimit
    }

    /// Sets a tenant's credit line (nil: no limit). Lowering it below what the tenant already owes
    /// is allowed: it takes nothing back, it only stops further spending until the wallet is topped up.
    public mutating func setCreditLimit(_ limit: Fen?, for tenant: TenantID) throws(LedgerError) {
        guard let limit else {
            creditLimits[tenant] = nil
            unlimitedCredit.insert(tenant)
            return
        }
        guard limit >= 0 else { throw .invalid("a credit limit cannot be negative, got \(limit) fen for \(tenant)") }
        unlimitedCredit.remove(tenant)
        creditLimits[tenant] = limit
    }

    // MARK: Posting

    /// What applying a transaction did.
    public enum Applied: Sendable, Hashable {
        /// The postings were applied.
        case posted
        /// A transaction with this id and the same postings was applied before; nothing changed.
        case alreadyApplied
    }

    /// Applies `transaction` atomically: all of its postings or none.
    ///
    /// Refused (and nothing changes) when it does not validate, when its id was used before with
    /// other postings (`conflictingRepeat`), or when an account it lowers would end below its
    /// limit; a wallet's limit also keeps its holds intact, so spending cannot eat money reserved
    /// for a running job. An account the transaction raises is never refused by its limit, so a
    /// refund always lands even in a wallet that is already below a lowered credit line.
    @discardableResult
    public mutating func apply(_ transaction: LedgerTransaction) throws(LedgerError) -> Applied {
        try post(transaction, drawingOn: nil, walletFloor: true)
    }

    /// Posts the exact negation of transaction `id` under the id `reversalID` (by default
    /// `reversal:<id>`). Reversing twice under the same id is a no-op; a transaction already
    /// reversed under another id is refused, so nothing is ever undone twice.
    @discardableResult
    public mutating func reverse(id: String, reversalID: String? = nil, memo: String? = nil) throws(LedgerError)
        -> Applied
    {
        guard let original = transaction(id: id) else { throw .invalid("cannot reverse \(id): no such transaction") }
        return try apply(original.reversal(id: reversalID ?? "reversal:\(id)", memo: memo))
    }

    /// The one place balances change. With `job`, the tenant's wallet debit is first taken out of
    /// that job's hold, so a settlement can spend the money reserved for it. Without
    /// `walletFloor`, a wallet may end below its credit line (usage already consumed is always
    /// recorded; see `postCharge`); every other floor still holds.
    @discardableResult
    private mutating func post(_ transaction: LedgerTransaction, drawingOn job: JobID?, walletFloor: Bool) throws(
        LedgerError
    ) -> Applied {
        try transaction.validate()
        if let index = positions[transaction.id] {
            let earlier = journal[index]
            guard earlier.fingerprint == transaction.fingerprint, earlier.reverses == transaction.reverses else {
                throw .conflictingRepeat(transaction: transaction.id)
            }
            return .alreadyApplied
        }
        if let target = transaction.reverses {
            guard let original = self.transaction(id: target) else {
                throw .invalid("reversal \(transaction.id) names \(target), which was never applied")
            }
            if let other = reversedBy[target] {
                throw .invalid("\(target) was already reversed by \(other); a transaction is reversed once")
            }
            guard let expected = try? original.reversal(id: transaction.id),
                expected.fingerprint == transaction.fingerprint
            else {
                throw .invalid("reversal \(transaction.id) is not the exact negation of \(target)")
            }
        }

        // Net per account, in the order accounts first appear (a transaction has a handful of
        // postings: a linear scan beats hashing, and the order is deterministic).
        var nets: [(account: AccountID, net: Int128)] = []
        nets.reserveCapacity(transaction.postings.count)
        for posting in transaction.postings {
            if let index = nets.firstIndex(where: { $0.account == posting.account }) {
                nets[index].net += Int128(posting.amount)
            } else {
                nets.append((posting.account, Int128(posting.amount)))
            }
        }

        var newHold: Hold?
        if let job, var hold = holds[job] {
            let wallet = AccountID.wallet(hold.tenant)
            let debit = -(nets.first(where: { $0.account == wallet })?.net ?? 0)
            if debit > 0 { hold.amount = Fen(clamping: max(0, Int128(hold.amount) - debit)) }
            newHold = hold
        }

        var newBalances: [(AccountID, Fen)] = []
        newBalances.reserveCapacity(nets.count)
        for (account, net) in nets where net != 0 {
            let before = balance(account)
            guard let after = Fen(exactly: Int128(before) + net) else {
                throw .overflow("balance of \(account.text) in \(transaction.id)")
            }
            if net < 0, walletFloor || account.walletTenant == nil,
                var floor = account.lowestBalance(creditLimit: { self.creditLimit(of: $0) })
            {
                if let tenant = account.walletTenant {
                    // Holds of other jobs, and what is left of this job's, stay reserved.
                    var held = Int128(held(by: tenant))
                    if let newHold, let old = holds[newHold.job], newHold.tenant == tenant {
                        held += Int128(newHold.amount) - Int128(old.amount)
                    }
                    floor = Fen(clamping: Int128(floor) + held)
                }
                if after < floor {
                    throw .limitExceeded(
                        account: account.text, balance: before, amount: Fen(clamping: net), limit: floor)
                }
            }
            newBalances.append((account, after))
        }

        for (account, after) in newBalances { balances[account] = after }
        if let newHold { replaceHold(newHold) }
        if retainsJournal {
            positions[transaction.id] = journal.count
            journal.append(transaction)
            if let target = transaction.reverses { reversedBy[target] = transaction.id }
        }
        return .posted
    }

    // MARK: Holds

    /// Reserves `amount` of `tenant`'s wallet for `job` until `expiresAtMs`: admission takes a
    /// hold for the job's maximum cost, so a job that starts can always be paid for.
    ///
    /// Refused, with the figures, when balance − holds + credit limit cannot cover it; the job
    /// must then not start. Asking again for the same job with the same terms returns the existing
    /// hold (an admission retried after a crash), with other terms it is refused.
    @discardableResult
    public mutating func hold(job: JobID, tenant: TenantID, amount: Fen, expiresAtMs: Int64) throws(HoldRefusal) -> Hold
    {
        guard amount > 0 else { throw .invalidAmount(amount) }
        if let existing = holds[job] {
            guard existing.tenant == tenant, existing.reserved == amount, existing.expiresAtMs == expiresAtMs else {
                throw .jobAlreadyHeld(existing)
            }
            return existing
        }
        guard Fen(exactly: Int128(held(by: tenant)) + Int128(amount)) != nil else { throw .exceedsLedgerRange(amount) }
        if let available = available(to: tenant), Int128(amount) > available {
            throw .insufficientFunds(
                tenant: tenant, requested: amount, available: Fen(clamping: available),
                balance: balance(.wallet(tenant)), held: held(by: tenant), creditLimit: creditLimit(of: tenant) ?? 0)
        }
        let hold = Hold(job: job, tenant: tenant, reserved: amount, amount: amount, expiresAtMs: expiresAtMs)
        replaceHold(hold)
        return hold
    }

    /// What settling a job did.
    public struct Settlement: Sendable, Hashable {
        /// One result per charge, in order.
        public var results: [Applied]
        /// The part of the hold given back to the wallet (0 when there was no hold).
        public var released: Fen

        public init(results: [Applied], released: Fen) {
            self.results = results
            self.released = released
        }
    }

    /// Posts a finished job's charges, paying them out of its hold first, and releases the rest of
    /// the hold; all of it or none. A charge larger than the hold is paid from the wallet's free
    /// funds and refused if those cannot cover it. A job without a hold (expired or never taken)
    /// settles against free funds alone. Charges already applied are skipped, not paid twice.
    @discardableResult
    public mutating func settle(job: JobID, charges: [LedgerTransaction]) throws(LedgerError) -> Settlement {
        var staged = self
        var results: [Applied] = []
        for charge in charges { results.append(try staged.post(charge, drawingOn: job, walletFloor: true)) }
        let released = staged.release(job: job)?.amount ?? 0
        self = staged
        return Settlement(results: results, released: released)
    }

    /// Gives the job's remaining hold back to the wallet (a job that never started, or was
    /// cancelled). Returns the hold that was removed, if there was one.
    @discardableResult
    public mutating func release(job: JobID) -> Hold? {
        guard let hold = holds.removeValue(forKey: job) else { return nil }
        heldByTenant[hold.tenant] = held(by: hold.tenant) - hold.amount
        if heldByTenant[hold.tenant] == 0 { heldByTenant[hold.tenant] = nil }
        return hold
    }

    /// Releases every hold whose expiry is at or before `nowMs` and returns them ordered by expiry,
    /// then job id: the same holds in the same order for the same state and time, on any replica.
    @discardableResult
    public mutating func expireHolds(nowMs: Int64) -> [Hold] {
        let due = holds.values.filter { $0.expiresAtMs <= nowMs }
            .sorted { ($0.expiresAtMs, $0.job) < ($1.expiresAtMs, $1.job) }
        for hold in due { release(job: hold.job) }
        return due
    }

    private mutating func replaceHold(_ hold: Hold) {
        let before = holds[hold.job]?.amount ?? 0
        holds[hold.job] = hold
        // Cannot overflow: every hold was covered by balance + credit when taken and only shrinks.
        let total = held(by: hold.tenant) - before + hold.amount
        heldByTenant[hold.tenant] = total == 0 ? nil : total
    }
}

/// Money reserved in a tenant's wallet for one admitted job.
public struct Hold: Sendable, Hashable, Codable {
    public var job: JobID
    public var tenant: TenantID
    /// What admission reserved.
    public var reserved: Fen
    /// What is still reserved: `reserved` minus what charges for the job have drawn.
    public var amount: Fen
    /// When the hold lapses if the job never settles (`Ledger.expireHolds`). The caller sets it
    /// from the job's walltime plus a grace period; the ledger reads no clock.
    public var expiresAtMs: Int64

    public init(job: JobID, tenant: TenantID, reserved: Fen, amount: Fen, expiresAtMs: Int64) {
        self.job = job
        self.tenant = tenant
        self.reserved = reserved
        self.amount = amount
        self.expiresAtMs = expiresAtMs
    }
}

/// Why a job's hold was refused, with what the admission answer should tell the user.
public enum HoldRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The wallet cannot cover the job's maximum cost.
    case insufficientFunds(tenant: TenantID, requested: Fen, available: Fen, balance: Fen, held: Fen, creditLimit: Fen)
    /// A hold must be positive.
    case invalidAmount(Fen)
    /// The job already has a hold with other terms.
    case jobAlreadyHeld(Hold)
    /// The tenant's holds together would not fit in Int64 fen.
    case exceedsLedgerRange(Fen)

    public var description: String {
        switch self {
        case .insufficientFunds(let tenant, let requested, let available, let balance, let held, let creditLimit):
            "tenant \(tenant) cannot cover \(requested) fen: \(available) fen available (balance \(balance), held for other jobs \(held), credit limit \(creditLimit)); top up the wallet or lower the job's maximum cost"
        case .invalidAmount(let amount): "a hold must be a positive number of fen, got \(amount)"
        case .jobAlreadyHeld(let hold):
            "job \(hold.job) already holds \(hold.reserved) fen of tenant \(hold.tenant) until \(hold.expiresAtMs); release it first"
        case .exceedsLedgerRange(let amount):
            "a hold of \(amount) fen would take the tenant's holds past what the ledger can count"
        }
    }
}

extension Ledger {
    /// What posting one rated charge did.
    public struct ChargeOutcome: Sendable, Hashable {
        public var applied: Applied
        /// The charge's transaction as it stands in the journal.
        public var transaction: LedgerTransaction
        /// The voucher decision made now; nil without a programme or for a repeat, whose voucher
        /// part was decided when it was first posted.
        public var redemption: Redemption?
        /// Fen the voucher paid towards this charge.
        public var voucherAmount: Fen
        /// The year's budget and allowance openings posted first because this charge was their
        /// first draw, in the order applied; the owner stores them with the charge.
        public var openings: [LedgerTransaction]
        /// The voucher draw, if the voucher paid anything.
        public var draw: VoucherDraw?
    }

    /// Rates one charge against a voucher programme and posts it, in one atomic step: reads what
    /// the programme's budget and the tenant's allowance have left for the charge's year, redeems
    /// automatically, opens that year's budget and allowance the first time they are drawn, and
    /// posts the charge (out of `job`'s hold when given). The budget and allowance cannot go below
    /// zero, so no interleaving of ratings can overspend either by a fen.
    ///
    /// A charge posted before is not redeemed again: it is rebuilt with the voucher part it got
    /// then and must match (`alreadyApplied`), else `conflictingRepeat` (with a retained journal;
    /// without one, the owner's store is what keeps a charge from posting twice).
    ///
    /// With `overdraft`, the tenant's wallet may end below its credit line: usage that already ran
    /// is recorded, never refused, and the debt then blocks new holds until it is paid. Admission
    /// holds are what keep that from happening in practice.
    @discardableResult
    public mutating func postCharge(
        _ charge: VoucherCharge, tenant: TenantProfile, program: VoucherProgram?, fee: PlatformFee,
        drawingOnHoldOf job: JobID? = nil, overdraft: Bool = false
    ) throws(LedgerError) -> ChargeOutcome {
        guard charge.tenant == tenant.tenant else {
            throw .invalid("charge \(charge.id) is for tenant \(charge.tenant) but the profile is \(tenant.tenant)")
        }
        let id = ChargePosting.transactionID(for: charge)
        if let earlier = transaction(id: id) {
            let draw = earlier.postings.lazy.compactMap { posting -> VoucherDraw? in
                guard case .voucherBudget(let program, let year) = posting.account else { return nil }
                return VoucherDraw(program: program, year: year, amount: -posting.amount)
            }.first
            let again = try ChargePosting.transaction(for: charge, voucher: draw, fee: fee)
            let applied = try post(again, drawingOn: job, walletFloor: !overdraft)
            return ChargeOutcome(
                applied: applied, transaction: earlier, redemption: nil, voucherAmount: draw?.amount ?? 0,
                openings: [], draw: draw)
        }

        var openings: [LedgerTransaction] = []
        var draw: VoucherDraw?
        var redemption: Redemption?
        if let program {
            try program.validate()
            if let year = try? program.year(atMs: charge.atMs) {
                // An account exists once its opening was posted (balances keep every account ever
                // posted to), which holds with or without a retained journal.
                let budgetOpened = balances[.voucherBudget(program.id, year: year)] != nil
                let allowanceOpened = balances[.voucherAllowance(program.id, tenant.tenant, year: year)] != nil
                let decision = program.redemption(
                    for: charge.amount, item: charge.item, providerOrganisation: charge.providerOrganisation,
                    tenant: tenant, atMs: charge.atMs,
                    budgetLeft: budgetOpened ? balance(.voucherBudget(program.id, year: year)) : program.annualBudget,
                    tenantCapLeft: allowanceOpened
                        ? balance(.voucherAllowance(program.id, tenant.tenant, year: year))
                        : program.annualCap(for: tenant.category))
                redemption = decision
                if decision.amount > 0 {
                    if !budgetOpened { openings.append(program.budgetOpening(year: year)) }
                    if !allowanceOpened { openings.append(program.allowanceOpening(for: tenant, year: year)) }
                    draw = VoucherDraw(program: program.id, year: year, amount: decision.amount)
                }
            } else {
                // validate() keeps the validity window inside years 1…9999, so an instant without a
                // year is outside the window: the voucher pays nothing and the redemption says why.
                redemption = program.redemption(
                    for: charge.amount, item: charge.item, providerOrganisation: charge.providerOrganisation,
                    tenant: tenant, atMs: charge.atMs, budgetLeft: 0, tenantCapLeft: 0)
            }
        }
        let transaction = try ChargePosting.transaction(for: charge, voucher: draw, fee: fee)
        let applied: Applied
        if openings.isEmpty {
            // `post` is atomic on its own: no copy of the ledger on the hot path.
            applied = try post(transaction, drawingOn: job, walletFloor: !overdraft)
        } else {
            var staged = self
            for opening in openings { try staged.post(opening, drawingOn: nil, walletFloor: true) }
            applied = try staged.post(transaction, drawingOn: job, walletFloor: !overdraft)
            self = staged
        }
        return ChargeOutcome(
            applied: applied, transaction: transaction, redemption: redemption, voucherAmount: draw?.amount ?? 0,
            openings: openings, draw: draw)
    }
}
