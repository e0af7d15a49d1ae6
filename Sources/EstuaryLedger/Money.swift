import EstuaryModel

// Money in the ledger: integer fen (0.01 CNY) in Int64, rates in basis points. No floating point
// touches an amount. Arithmetic that could overflow reports it (`LedgerError.overflow`) instead
// of trapping or saturating: a wrong amount must never be posted quietly.

/// An amount in fen. Positive and negative amounts both occur (debits and credits).
public typealias Fen = Int64

/// How an exact quotient becomes whole fen. A voucher program or a price book names its rule;
/// `LedgerArithmetic.divide` is the one place it is applied (docs/MONEY.md).
public enum RoundingRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// Toward zero: 12.349 → 12.34, −12.349 → −12.34 (Nanning's voucher rule).
    case truncate
    /// To nearest, halves away from zero: 12.345 → 12.35, −12.345 → −12.35.
    case halfUp = "half_up"
}

/// Why the ledger refused to compute or post something.
public enum LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An amount does not fit in Int64 fen.
    case overflow(String)
    /// A transaction whose postings do not sum to zero.
    case unbalanced(transaction: String, sum: Fen)
    /// A posting would take an account below its limit.
    case limitExceeded(account: String, balance: Fen, amount: Fen, limit: Fen)
    /// A transaction id used before with different postings.
    case conflictingRepeat(transaction: String)
    /// Usage of a class the site's price version does not price: a configuration error to fix,
    /// never a free line.
    case unpriced(site: SiteID, cls: AcceleratorClass, version: Int)
    /// Use of a non-compute service the site's price version does not price.
    case unpricedService(site: SiteID, service: ServiceID, version: Int)
    /// An input that makes no sense (negative duration, unknown price version …).
    case invalid(String)

    public var description: String {
        switch self {
        case .overflow(let what): "amount overflow: \(what)"
        case .unbalanced(let id, let sum): "transaction \(id) does not balance: postings sum to \(sum) fen"
        case .limitExceeded(let account, let balance, let amount, let limit):
            // In 128 bits: the figures come from a refused posting and may be anywhere in Int64.
            "account \(account) would go from \(balance) to \(Int128(balance) + Int128(amount)) fen, below its floor of \(limit) fen "
                + "(for a wallet: minus its credit limit, plus what is held for jobs)"
        case .conflictingRepeat(let id): "transaction \(id) was posted before with different postings"
        case .unpriced(let site, let cls, let version):
            "site \(site) price version \(version) does not price class \(cls): add it to the price book"
        case .unpricedService(let site, let service, let version):
            "site \(site) price version \(version) does not price service \(service): add it to the price book"
        case .invalid(let why): why
        }
    }
}

/// Exact integer arithmetic for money: products in 128 bits, one division with a stated rule.
public enum LedgerArithmetic {
    /// `numerator / denominator` rounded by `rule`, exactly. `denominator` must be positive.
    public static func divide(_ numerator: Int128, by denominator: Int128, rule: RoundingRule) -> Int128 {
        precondition(denominator > 0, "a money divisor must be positive")
        let quotient = numerator / denominator  // truncates toward zero
        let remainder = numerator % denominator
        switch rule {
        case .truncate:
            return quotient
        case .halfUp:
            let twice = remainder.magnitude * 2
            guard twice >= denominator.magnitude else { return quotient }
            return numerator < 0 ? quotient - 1 : quotient + 1
        }
    }

    /// `amount × basisPoints / 10,000`, rounded by `rule` (fits whenever basisPoints ≤ 10,000).
    public static func share(of amount: Fen, basisPoints: Int, rule: RoundingRule) throws(LedgerError) -> Fen {
        try fen(divide(Int128(amount) * Int128(basisPoints), by: 10_000, rule: rule), "\(basisPoints) bp of \(amount) fen")
    }

    /// An Int128 amount as fen, or `LedgerError.overflow` naming `what`.
    public static func fen(_ value: Int128, _ what: @autoclosure () -> String) throws(LedgerError) -> Fen {
        guard let fen = Fen(exactly: value) else { throw .overflow(what()) }
        return fen
    }

    /// Checked sum of amounts.
    public static func sum(_ amounts: some Sequence<Fen>, _ what: @autoclosure () -> String) throws(LedgerError) -> Fen {
        var total: Int128 = 0
        for amount in amounts { total += Int128(amount) }
        return try fen(total, what())
    }
}
