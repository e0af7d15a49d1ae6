import EstuaryModel

/// One line of a transaction: an amount moved into (positive) or out of (negative) one account.
///
/// Sign convention, stated once for the whole ledger: a balance is what an account holds; a
/// positive amount adds to it, a negative amount takes from it. A tenant paying 100 fen for work
/// is `wallet −100, site-receivable +98, platform-fee +2`. There are no separate debit and credit
/// columns: "balances" means "the signed amounts sum to zero".
public struct Posting: Sendable, Hashable, Codable {
    public var account: AccountID
    /// Fen into the account (positive) or out of it (negative); never zero.
    public var amount: Fen

    public init(_ account: AccountID, _ amount: Fen) {
        self.account = account
        self.amount = amount
    }
}

/// What a transaction records, for statements and audits. The ledger's rules do not depend on it
/// except that a reversal must say which transaction it reverses.
public enum TransactionKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Money entering a wallet from outside the mesh.
    case topUp = "top_up"
    /// A rated usage charge: wallet (and voucher) to site and platform.
    case charge
    /// A voucher program's annual budget for one year.
    case voucherBudgetOpening = "voucher_budget_opening"
    /// A tenant's voucher allowance (its annual cap) for one program and year.
    case voucherAllowanceOpening = "voucher_allowance_opening"
    /// The exact negation of an earlier transaction: the only way to correct one.
    case reversal
    /// Anything an operator posts by hand (a goodwill credit, a raised cap …).
    case adjustment
    /// Money leaving the mesh: a site paid, a wallet refunded.
    case payout
    /// A site's share of a charge moved between coordinators: at the tenant's coordinator from
    /// the site's receivable to the peer that runs the site, at that peer from the tenant's
    /// coordinator to the site (docs/MONEY.md, "Inter-region").
    case interRegion = "inter_region"
}

/// A balanced, immutable set of postings with an id that makes posting it idempotent.
///
/// The id is the idempotency key: a usage charge is `usage:<line id>`, so a usage record resent
/// after a reconnect posts once. The ledger keeps every applied transaction; a mistake is never
/// edited but reversed by a new transaction (`reversal(id:)`) that names the one it undoes.
public struct LedgerTransaction: Sendable, Hashable, Codable {
    public var id: String
    public var kind: TransactionKind
    public var postings: [Posting]
    public var memo: String
    /// For a reversal, the id of the transaction it undoes; nil otherwise.
    public var reverses: String?

    /// The longest id accepted, in bytes: room for a prefix and a usage record id.
    public static let maxIDLength = 256

    public init(id: String, kind: TransactionKind, postings: [Posting], memo: String = "", reverses: String? = nil) {
        self.id = id
        self.kind = kind
        self.postings = postings
        self.memo = memo
        self.reverses = reverses
    }

    /// Checks that the transaction can be posted as it stands: a well-formed id, at least one
    /// posting, no zero amounts, well-formed accounts, and amounts that sum to exactly zero
    /// (added in 128 bits, so no sum can wrap into a false zero).
    public func validate() throws(LedgerError) {
        guard Self.isWellFormedID(id) else {
            throw .invalid(
                "transaction id '\(id)' must be 1–\(Self.maxIDLength) printable ASCII characters without spaces")
        }
        guard !postings.isEmpty else { throw .invalid("transaction \(id) has no postings") }
        if kind == .reversal {
            guard let reverses, Self.isWellFormedID(reverses) else {
                throw .invalid("reversal \(id) must name the transaction it reverses")
            }
        } else if reverses != nil {
            throw .invalid("transaction \(id) names a transaction to reverse but is not a reversal")
        }
        var sum: Int128 = 0
        for posting in postings {
            guard posting.account.isWellFormed else {
                throw .invalid("transaction \(id) posts to a malformed account '\(posting.account.text)'")
            }
            guard posting.amount != 0 else {
                throw .invalid("transaction \(id) has a zero posting to \(posting.account.text)")
            }
            // Int64.min has no negation, so a transaction holding it could never be reversed.
            guard posting.amount != .min else { throw .overflow("posting to \(posting.account.text) in \(id)") }
            sum += Int128(posting.amount)
        }
        guard sum == 0 else {
            throw .unbalanced(transaction: id, sum: Fen(clamping: sum))
        }
    }

    /// The transaction that undoes this one exactly: every posting negated, nothing else changed.
    public func reversal(id reversalID: String, memo: String? = nil) throws(LedgerError) -> LedgerTransaction {
        var negated: [Posting] = []
        negated.reserveCapacity(postings.count)
        for posting in postings {
            guard posting.amount != .min else {
                throw .overflow("reversing the posting to \(posting.account.text) in \(id)")
            }
            negated.append(Posting(posting.account, -posting.amount))
        }
        return LedgerTransaction(
            id: reversalID, kind: .reversal, postings: negated, memo: memo ?? "reverses \(id)", reverses: id)
    }

    /// The postings in a canonical order: two transactions with the same fingerprint move the same
    /// money, whatever order their postings were listed in. The ledger compares fingerprints to
    /// tell a harmless resend from a conflicting reuse of an id.
    public var fingerprint: [Posting] {
        postings.sorted { ($0.account, $0.amount) < ($1.account, $1.amount) }
    }

    /// The sum of the postings to `account` (0 when it has none).
    public func net(for account: AccountID) -> Int128 {
        postings.reduce(0) { $1.account == account ? $0 + Int128($1.amount) : $0 }
    }

    static func isWellFormedID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maxIDLength
            && id.utf8.allSatisfy { (UInt8(ascii: "!")...UInt8(ascii: "~")).contains($0) }
    }
}

extension LedgerTransaction {
    /// Money entering a tenant's wallet from outside the mesh. The amount must be positive: money
    /// going the other way is a payout, and a top-up posted by mistake is reversed, not countered.
    public static func topUp(id: String, tenant: TenantID, amount: Fen, memo: String = "") throws(LedgerError)
        -> LedgerTransaction
    {
        guard amount > 0 else { throw .invalid("a top-up must be positive, got \(amount) fen") }
        return LedgerTransaction(
            id: id, kind: .topUp, postings: [Posting(.external, -amount), Posting(.wallet(tenant), amount)], memo: memo)
    }

    /// The site share of one charge moving between coordinators, under one id on both sides
    /// (`inter-region:<record>`), so each side posts it once. At the tenant's coordinator
    /// `toSite` is minus the share (the site's receivable passes it to the peer that runs the
    /// site); at that peer it is the share (the tenant's coordinator owes it, the site earns it).
    public static func interRegion(record: UsageRecordID, site: SiteID, peer: CoordinatorID, toSite: Fen) throws(LedgerError)
        -> LedgerTransaction
    {
        guard toSite != 0, toSite != .min else { throw .invalid("an inter-region transfer must move a non-zero amount") }
        return LedgerTransaction(
            id: "inter-region:\(record.rawValue)", kind: .interRegion,
            postings: [Posting(.siteReceivable(site), toSite), Posting(.peerCoordinator(peer), -toSite)],
            memo: toSite < 0 ? "site share of \(record) to \(peer), which runs \(site)" : "site share of \(record) from \(peer)")
    }
}
