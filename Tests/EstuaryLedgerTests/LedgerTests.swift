import EstuaryLedger
import EstuaryModel
import Testing

private let acme: TenantID = "acme"
private let beta: TenantID = "beta"
private let siteA: SiteID = "site-a"

/// A charge from `tenant`'s wallet to site A, without voucher or fee.
private func spend(_ id: String, _ tenant: TenantID, _ amount: Fen) -> LedgerTransaction {
    LedgerTransaction(
        id: id, kind: .charge, postings: [Posting(.wallet(tenant), -amount), Posting(.siteReceivable(siteA), amount)])
}

private func funded(_ amounts: [TenantID: Fen]) throws -> Ledger {
    var ledger = Ledger()
    for (tenant, amount) in amounts.sorted(by: { $0.key < $1.key }) {
        try ledger.apply(LedgerTransaction.topUp(id: "topup:\(tenant)", tenant: tenant, amount: amount))
    }
    return ledger
}

@Suite("Account names")
struct AccountNameTests {
    static let accounts: [AccountID] = [
        .wallet(acme), .voucherBudget("gz", year: 2026), .voucherAllowance("gz", acme, year: 2027),
        .voucherFunding("gz"), .voucherQuota("gz"), .siteReceivable(siteA), .platformFee, .external,
    ]

    @Test("every account's text form parses back to the same account", arguments: accounts)
    func roundTrip(account: AccountID) throws {
        #expect(try AccountID(parsing: account.text) == account)
    }

    @Test("a wallet is written wallet:<tenant>")
    func walletText() {
        #expect(AccountID.wallet(acme).text == "wallet:acme")
        #expect(AccountID.voucherAllowance("gz", acme, year: 2026).text == "voucher-allowance:gz:acme:2026")
    }

    @Test(
        "malformed account names are refused with the reason",
        arguments: [
            ("", AccountIDError.empty),
            ("purse:acme", .unknownKind("purse")),
            ("wallet", .wrongFieldCount(kind: "wallet", expected: 1, found: 0)),
            ("wallet:acme:x", .wrongFieldCount(kind: "wallet", expected: 1, found: 2)),
            ("wallet:", .malformedIdentifier(kind: "wallet", value: "")),
            ("wallet:ac me", .malformedIdentifier(kind: "wallet", value: "ac me")),
            ("voucher-budget:gz:20x6", .malformedYear("20x6")),
            ("voucher-budget:gz:+2026", .malformedYear("+2026")),
            ("voucher-budget:gz:10000", .malformedYear("10000")),
            ("platform-fee:x", .wrongFieldCount(kind: "platform-fee", expected: 0, found: 1)),
        ])
    func malformed(text: String, error: AccountIDError) {
        #expect(throws: error) { try AccountID(parsing: text) }
    }
}

@Suite("Ledger postings")
struct LedgerPostingTests {
    @Test("an unbalanced transaction is refused and changes nothing")
    func unbalanced() throws {
        var ledger = try funded([acme: 1_000])
        let before = ledger
        let bad = LedgerTransaction(
            id: "bad", kind: .charge, postings: [Posting(.wallet(acme), -100), Posting(.siteReceivable(siteA), 99)])
        #expect(throws: LedgerError.unbalanced(transaction: "bad", sum: -1)) { try ledger.apply(bad) }
        #expect(ledger == before)
    }

    @Test("empty transactions, zero postings and Int64.min amounts are refused")
    func malformedTransactions() throws {
        var ledger = Ledger()
        let empty = LedgerTransaction(id: "e", kind: .adjustment, postings: [])
        let zero = LedgerTransaction(id: "z", kind: .adjustment, postings: [Posting(.external, 0)])
        let minimum = LedgerTransaction(
            id: "m", kind: .adjustment,
            postings: [Posting(.external, .min), Posting(.platformFee, .max), Posting(.platformFee, 1)])
        let badID = LedgerTransaction(
            id: "has space", kind: .adjustment, postings: [Posting(.external, -1), Posting(.platformFee, 1)])
        let badAccount = LedgerTransaction(
            id: "a", kind: .adjustment, postings: [Posting(.external, -1), Posting(.wallet("no/slash"), 1)])
        for transaction in [empty, zero, minimum, badID, badAccount] {
            #expect(throws: LedgerError.self) { try ledger.apply(transaction) }
        }
        #expect(ledger == Ledger())
    }

    @Test("a sum that would wrap in Int64 is still seen as unbalanced")
    func noWrappingSum() {
        let wrapping = LedgerTransaction(
            id: "w", kind: .adjustment,
            postings: [Posting(.external, .max), Posting(.platformFee, .max), Posting(.siteReceivable(siteA), 2)])
        #expect(throws: LedgerError.self) { try wrapping.validate() }
    }

    @Test("the same transaction posted twice is applied once")
    func idempotentRepeat() throws {
        var ledger = try funded([acme: 1_000])
        #expect(try ledger.apply(spend("usage:r1", acme, 300)) == .posted)
        let after = ledger
        // Same postings in another order and with another memo: still the same transaction.
        var resent = spend("usage:r1", acme, 300)
        resent.postings.reverse()
        resent.memo = "resent after reconnect"
        #expect(try ledger.apply(resent) == .alreadyApplied)
        #expect(ledger == after)
        #expect(ledger.balance(.wallet(acme)) == 700)
    }

    @Test("an id reused with different postings is a conflicting repeat")
    func conflictingRepeat() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.apply(spend("usage:r1", acme, 300))
        let after = ledger
        #expect(throws: LedgerError.conflictingRepeat(transaction: "usage:r1")) {
            try ledger.apply(spend("usage:r1", acme, 301))
        }
        #expect(ledger == after)
    }

    @Test("a reversal returns every balance exactly and is posted once")
    func reversal() throws {
        var ledger = try funded([acme: 1_000])
        let before = ledger.balances
        try ledger.apply(spend("usage:r1", acme, 300))
        #expect(try ledger.reverse(id: "usage:r1") == .posted)
        for (account, balance) in ledger.balances { #expect(balance == (before[account] ?? 0), "\(account)") }
        #expect(try ledger.reverse(id: "usage:r1") == .alreadyApplied)
        #expect(throws: LedgerError.self) { try ledger.reverse(id: "usage:r1", reversalID: "fix-2") }
        #expect(throws: LedgerError.self) { try ledger.reverse(id: "usage:nothing") }
        #expect(ledger.transaction(id: "reversal:usage:r1")?.reverses == "usage:r1")
    }

    @Test("a hand-made reversal must be the exact negation of what it reverses")
    func forgedReversal() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.apply(spend("usage:r1", acme, 300))
        var forged = try spend("usage:r1", acme, 300).reversal(id: "fix")
        forged.postings = [Posting(.wallet(acme), 301), Posting(.siteReceivable(siteA), -301)]
        #expect(throws: LedgerError.self) { try ledger.apply(forged) }
    }

    @Test("a transaction that would breach a credit limit leaves every balance unchanged")
    func creditLimitAtomic() throws {
        var ledger = try funded([acme: 100, beta: 100])
        try ledger.setCreditLimit(50, for: acme)
        let before = ledger
        // beta's part is fine, acme's takes it one fen past its limit: neither is applied.
        let both = LedgerTransaction(
            id: "usage:both", kind: .charge,
            postings: [Posting(.wallet(beta), -10), Posting(.wallet(acme), -151), Posting(.siteReceivable(siteA), 161)])
        #expect(throws: LedgerError.limitExceeded(account: "wallet:acme", balance: 100, amount: -151, limit: -50)) {
            try ledger.apply(both)
        }
        #expect(ledger == before)
        try ledger.apply(spend("usage:exact", acme, 150))
        #expect(ledger.balance(.wallet(acme)) == -50)
        #expect(throws: LedgerError.self) { try ledger.apply(spend("usage:one-more", acme, 1)) }
    }

    @Test("a refund lands even in a wallet below a lowered credit limit")
    func creditNeverRefused() throws {
        var ledger = Ledger()
        try ledger.setCreditLimit(100, for: acme)
        try ledger.apply(spend("usage:r1", acme, 100))
        try ledger.setCreditLimit(0, for: acme)
        try ledger.apply(spend("usage:r1", acme, 100).reversal(id: "refund"))
        #expect(ledger.balance(.wallet(acme)) == 0)
    }

    @Test("voucher budgets never go below zero")
    func budgetFloor() throws {
        var ledger = Ledger()
        let open = LedgerTransaction(
            id: "open", kind: .voucherBudgetOpening,
            postings: [Posting(.voucherFunding("gz"), -10), Posting(.voucherBudget("gz", year: 2026), 10)])
        try ledger.apply(open)
        let overdraw = LedgerTransaction(
            id: "draw", kind: .adjustment,
            postings: [Posting(.voucherBudget("gz", year: 2026), -11), Posting(.siteReceivable(siteA), 11)])
        #expect(
            throws: LedgerError.limitExceeded(account: "voucher-budget:gz:2026", balance: 10, amount: -11, limit: 0)
        ) {
            try ledger.apply(overdraw)
        }
        #expect(ledger.sumOfBalances == 0)
    }

    @Test("a negative credit limit is refused")
    func negativeCreditLimit() {
        var ledger = Ledger()
        #expect(throws: LedgerError.self) { try ledger.setCreditLimit(-1, for: acme) }
    }
}

@Suite("Holds")
struct HoldTests {
    @Test("a hold is taken when balance plus credit covers it and refused with the figures when not")
    func coverAndRefuse() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.setCreditLimit(500, for: acme)
        try ledger.hold(job: "j1", tenant: acme, amount: 1_200, expiresAtMs: 10)
        #expect(ledger.available(to: acme) == 300)
        #expect(
            throws: HoldRefusal.insufficientFunds(
                tenant: acme, requested: 301, available: 300, balance: 1_000, held: 1_200, creditLimit: 500)
        ) { try ledger.hold(job: "j2", tenant: acme, amount: 301, expiresAtMs: 10) }
        try ledger.hold(job: "j2", tenant: acme, amount: 300, expiresAtMs: 10)
        #expect(ledger.available(to: acme) == 0)
    }

    @Test("asking again for the same hold is a no-op, with other terms it is refused")
    func idempotentHold() throws {
        var ledger = try funded([acme: 1_000])
        let first = try ledger.hold(job: "j1", tenant: acme, amount: 600, expiresAtMs: 10)
        #expect(try ledger.hold(job: "j1", tenant: acme, amount: 600, expiresAtMs: 10) == first)
        #expect(ledger.held(by: acme) == 600)
        #expect(throws: HoldRefusal.jobAlreadyHeld(first)) {
            try ledger.hold(job: "j1", tenant: acme, amount: 700, expiresAtMs: 10)
        }
        #expect(throws: HoldRefusal.invalidAmount(0)) {
            try ledger.hold(job: "j9", tenant: acme, amount: 0, expiresAtMs: 10)
        }
    }

    @Test("held money cannot be spent by other postings")
    func holdsProtectReservedMoney() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.hold(job: "j1", tenant: acme, amount: 800, expiresAtMs: 10)
        #expect(throws: LedgerError.self) { try ledger.apply(spend("usage:other", acme, 201)) }
        try ledger.apply(spend("usage:other", acme, 200))
    }

    @Test("settling pays the charges out of the hold and releases the rest")
    func settle() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.hold(job: "j1", tenant: acme, amount: 1_000, expiresAtMs: 10)
        let settlement = try ledger.settle(
            job: "j1", charges: [spend("usage:j1-a", acme, 300), spend("usage:j1-b", acme, 400)])
        #expect(settlement == Ledger.Settlement(results: [.posted, .posted], released: 300))
        #expect(ledger.holds.isEmpty)
        #expect(ledger.balance(.wallet(acme)) == 300)
        #expect(ledger.available(to: acme) == 300)
        #expect(ledger.sumOfBalances == 0)
    }

    @Test("a settlement that cannot be paid changes nothing, hold included")
    func settleAtomic() throws {
        var ledger = try funded([acme: 1_000, beta: 100])
        try ledger.hold(job: "j1", tenant: acme, amount: 600, expiresAtMs: 10)
        let before = ledger
        // The second charge overruns the hold by more than acme's free 400 fen.
        #expect(throws: LedgerError.self) {
            try ledger.settle(job: "j1", charges: [spend("usage:a", acme, 500), spend("usage:b", acme, 501)])
        }
        #expect(ledger == before)
        // An overrun that free funds cover is paid.
        try ledger.settle(job: "j1", charges: [spend("usage:a", acme, 500), spend("usage:b", acme, 500)])
        #expect(ledger.balance(.wallet(acme)) == 0)
    }

    @Test("a charge settled twice is paid once")
    func settleIdempotent() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.hold(job: "j1", tenant: acme, amount: 500, expiresAtMs: 10)
        try ledger.settle(job: "j1", charges: [spend("usage:a", acme, 200)])
        let again = try ledger.settle(job: "j1", charges: [spend("usage:a", acme, 200)])
        #expect(again == Ledger.Settlement(results: [.alreadyApplied], released: 0))
        #expect(ledger.balance(.wallet(acme)) == 800)
    }

    @Test("release gives the whole hold back")
    func release() throws {
        var ledger = try funded([acme: 1_000])
        try ledger.hold(job: "j1", tenant: acme, amount: 700, expiresAtMs: 10)
        #expect(ledger.release(job: "j1")?.amount == 700)
        #expect(ledger.release(job: "j1") == nil)
        #expect(ledger.available(to: acme) == 1_000)
    }

    @Test("holds expire at their time, in expiry then job order")
    func expiry() throws {
        var ledger = try funded([acme: 1_000, beta: 1_000])
        try ledger.hold(job: "j3", tenant: acme, amount: 100, expiresAtMs: 20)
        try ledger.hold(job: "j2", tenant: beta, amount: 100, expiresAtMs: 20)
        try ledger.hold(job: "j1", tenant: acme, amount: 100, expiresAtMs: 30)
        try ledger.hold(job: "j0", tenant: acme, amount: 100, expiresAtMs: 10)
        #expect(ledger.expireHolds(nowMs: 9).isEmpty)
        #expect(ledger.expireHolds(nowMs: 20).map(\.job) == ["j0", "j2", "j3"])
        #expect(ledger.holds.keys.sorted() == ["j1"])
        #expect(ledger.held(by: acme) == 100)
        #expect(ledger.held(by: beta) == 0)
    }
}
