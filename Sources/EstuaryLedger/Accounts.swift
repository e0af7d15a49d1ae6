import EstuaryModel

/// The name of a voucher program (`gz-compute-voucher` …). A separate type so that a program id
/// can never be passed where a tenant or site id is expected.
public struct VoucherProgramID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Where money, or voucher quota, sits in the ledger.
///
/// Every account has one stable text form (`wallet:acme`, `voucher-budget:gz:2026`) so that the
/// store, exports and logs name it the same way; `init(parsing:)` reads it back. The fields are
/// Estuary identifiers (`[A-Za-z0-9._-]`), so `:` never occurs inside one and the form is
/// unambiguous.
///
/// Sign convention (the same for every account): a balance is what the account holds. A positive
/// posting puts value into the account, a negative posting takes value out, and every transaction
/// sums to zero, so value only moves and the sum over all accounts is always exactly zero.
public enum AccountID: Sendable, Hashable {
    /// A tenant's prepaid balance. Negative means the tenant is using its credit line.
    case wallet(TenantID)
    /// What a voucher program may still pay out in one local calendar year. Opened with the
    /// program's annual budget from `voucherFunding`; never below zero.
    case voucherBudget(VoucherProgramID, year: Int)
    /// What a voucher program may still pay for one tenant in one year: the per-tenant cap, as a
    /// quota. Opened with the cap from `voucherQuota`; never below zero.
    case voucherAllowance(VoucherProgramID, TenantID, year: Int)
    /// The sponsor of a voucher program (the city): the other side of every budget opening, so its
    /// balance is minus everything the program was ever given.
    case voucherFunding(VoucherProgramID)
    /// The other side of every allowance: each opening takes the cap from here and each voucher
    /// fen drawn from an allowance comes back, so its balance is minus the allowances left. It
    /// exists so that the per-tenant cap can live in the ledger as balanced postings.
    case voucherQuota(VoucherProgramID)
    /// What the mesh owes a site for work it ran, voucher-funded part included.
    case siteReceivable(SiteID)
    /// What this coordinator owes a peer coordinator of the mesh (positive), or is owed by it
    /// (negative), for work the peer's sites ran for this coordinator's tenants
    /// (docs/MONEY.md, "Inter-region"). The peer's ledger holds the mirror image.
    case peerCoordinator(CoordinatorID)
    /// The platform's commission on every charge.
    case platformFee
    /// The world outside the mesh: tenant top-ups come from here and payouts go to it.
    case external

    /// The stable text form, e.g. `wallet:acme`.
    public var text: String {
        switch self {
        case .wallet(let tenant): "wallet:\(tenant.rawValue)"
        case .voucherBudget(let program, let year): "voucher-budget:\(program.rawValue):\(year)"
        case .voucherAllowance(let program, let tenant, let year):
            "voucher-allowance:\(program.rawValue):\(tenant.rawValue):\(year)"
        case .voucherFunding(let program): "voucher-funding:\(program.rawValue)"
        case .voucherQuota(let program): "voucher-quota:\(program.rawValue)"
        case .siteReceivable(let site): "site-receivable:\(site.rawValue)"
        case .peerCoordinator(let peer): "peer:\(peer.rawValue)"
        case .platformFee: "platform-fee"
        case .external: "external"
        }
    }

    /// Reads the text form back. Every identifier must be well formed and every year in 1…9999.
    public init(parsing text: String) throws(AccountIDError) {
        guard !text.isEmpty else { throw .empty }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let kind = fields[0]
        let arguments = Array(fields.dropFirst())
        func expect(_ count: Int) throws(AccountIDError) {
            guard arguments.count == count else {
                throw .wrongFieldCount(kind: kind, expected: count, found: arguments.count)
            }
        }
        func identifier(_ value: String) throws(AccountIDError) -> String {
            guard Identifiers.isWellFormed(value) else { throw .malformedIdentifier(kind: kind, value: value) }
            return value
        }
        func year(_ value: String) throws(AccountIDError) -> Int {
            guard let year = Int(value), AccountID.years.contains(year), String(year) == value else {
                throw .malformedYear(value)
            }
            return year
        }
        switch kind {
        case "wallet":
            try expect(1)
            self = .wallet(TenantID(rawValue: try identifier(arguments[0])))
        case "voucher-budget":
            try expect(2)
            self = .voucherBudget(
                VoucherProgramID(rawValue: try identifier(arguments[0])), year: try year(arguments[1]))
        case "voucher-allowance":
            try expect(3)
            self = .voucherAllowance(
                VoucherProgramID(rawValue: try identifier(arguments[0])),
                TenantID(rawValue: try identifier(arguments[1])),
                year: try year(arguments[2]))
        case "voucher-funding":
            try expect(1)
            self = .voucherFunding(VoucherProgramID(rawValue: try identifier(arguments[0])))
        case "voucher-quota":
            try expect(1)
            self = .voucherQuota(VoucherProgramID(rawValue: try identifier(arguments[0])))
        case "site-receivable":
            try expect(1)
            self = .siteReceivable(SiteID(rawValue: try identifier(arguments[0])))
        case "peer":
            try expect(1)
            self = .peerCoordinator(CoordinatorID(rawValue: try identifier(arguments[0])))
        case "platform-fee":
            try expect(0)
            self = .platformFee
        case "external":
            try expect(0)
            self = .external
        default:
            throw .unknownKind(kind)
        }
    }

    /// Years an account may name: the calendar the ledger can compute (`LocalYear`).
    public static let years = 1...9999

    /// Whether every identifier and year in the account is well formed, i.e. whether `text`
    /// parses back to this account. The ledger refuses postings to any other.
    public var isWellFormed: Bool {
        switch self {
        case .wallet(let tenant): tenant.isWellFormed
        case .voucherBudget(let program, let year): program.isWellFormed && Self.years.contains(year)
        case .voucherAllowance(let program, let tenant, let year):
            program.isWellFormed && tenant.isWellFormed && Self.years.contains(year)
        case .voucherFunding(let program), .voucherQuota(let program): program.isWellFormed
        case .siteReceivable(let site): site.isWellFormed
        case .peerCoordinator(let peer): peer.isWellFormed
        case .platformFee, .external: true
        }
    }

    /// The lowest balance the account may reach, or nil when it has none.
    ///
    /// A wallet may go down to minus its tenant's credit limit (0 for a prepaid tenant); budgets
    /// and allowances never below zero, which is what makes "never overspent" a ledger rule rather
    /// than a hope. Receivables, fees, funding, quota and the outside world are unbounded: they are
    /// the other side of those limited accounts.
    /// `creditLimit` gives a tenant's credit line, nil when it has no limit (and so no floor).
    public func lowestBalance(creditLimit: (TenantID) -> Fen?) -> Fen? {
        switch self {
        case .wallet(let tenant):
            guard let limit = creditLimit(tenant) else { return nil }
            return limit > 0 ? -limit : 0  // a negative limit means none, not a floor above zero
        case .voucherBudget, .voucherAllowance: return 0
        case .voucherFunding, .voucherQuota, .siteReceivable, .peerCoordinator, .platformFee, .external: return nil
        }
    }

    /// The tenant whose wallet this is, if it is one.
    public var walletTenant: TenantID? {
        if case .wallet(let tenant) = self { tenant } else { nil }
    }
}

extension AccountID: Comparable, CustomStringConvertible, Codable {
    public var description: String { text }

    /// Ordered by text form, so that listings and fingerprints are deterministic.
    public static func < (lhs: AccountID, rhs: AccountID) -> Bool { lhs.text < rhs.text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try AccountID(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// Why a stored account name could not be read back.
public enum AccountIDError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    /// The part before the first `:` names no kind of account.
    case unknownKind(String)
    case wrongFieldCount(kind: String, expected: Int, found: Int)
    /// A tenant, site or program id with characters outside `[A-Za-z0-9._-]` (or empty).
    case malformedIdentifier(kind: String, value: String)
    /// A year that is not a plain number in 1…9999.
    case malformedYear(String)

    public var description: String {
        switch self {
        case .empty: "empty account name"
        case .unknownKind(let kind):
            "unknown account kind '\(kind)'; expected wallet, voucher-budget, voucher-allowance, voucher-funding, voucher-quota, site-receivable, platform-fee or external"
        case .wrongFieldCount(let kind, let expected, let found):
            "account kind '\(kind)' takes \(expected) field(s) after it, found \(found)"
        case .malformedIdentifier(let kind, let value):
            "account kind '\(kind)': '\(value)' is not an identifier ([A-Za-z0-9._-], 1–128 characters)"
        case .malformedYear(let value): "'\(value)' is not a year in 1…9999"
        }
    }
}

/// Local calendar years at a fixed UTC offset, computed with integers only: the ledger needs
/// year boundaries (budgets and caps reset on 1 January, local time) but may not read a clock or
/// a time-zone database.
public enum LocalYear {
    /// Offsets accepted, in minutes.
    public static let offsets = -1_440...1_440
    static let msPerDay: Int128 = 86_400_000

    /// The year `ms` falls in at `utcOffsetMinutes` from UTC; refuses instants outside years 1…9999.
    public static func year(containing ms: Int64, utcOffsetMinutes: Int) throws(LedgerError) -> Int {
        guard offsets.contains(utcOffsetMinutes) else {
            throw .invalid("utc offset \(utcOffsetMinutes) minutes is outside ±24 h")
        }
        let local = Int128(ms) + Int128(utcOffsetMinutes) * 60_000
        let day = floorDivide(local, msPerDay)
        guard day >= firstDay(of: AccountID.years.lowerBound), day < firstDay(of: AccountID.years.upperBound + 1) else {
            throw .invalid("instant \(ms) is outside years \(AccountID.years.lowerBound)…\(AccountID.years.upperBound)")
        }
        // 146,097 days per 400 years gets within one year; step to the exact one.
        var year = Int(clamping: 1970 + floorDivide(day * 400, 146_097))
        year = min(max(year, AccountID.years.lowerBound), AccountID.years.upperBound)
        while year < AccountID.years.upperBound, firstDay(of: year + 1) <= day { year += 1 }
        while year > AccountID.years.lowerBound, firstDay(of: year) > day { year -= 1 }
        return year
    }

    /// The first millisecond of 1 January of `year`, local time.
    public static func startMs(of year: Int, utcOffsetMinutes: Int) throws(LedgerError) -> Int64 {
        guard offsets.contains(utcOffsetMinutes) else {
            throw .invalid("utc offset \(utcOffsetMinutes) minutes is outside ±24 h")
        }
        guard AccountID.years.contains(year) else { throw .invalid("year \(year) is outside 1…9999") }
        return try LedgerArithmetic.fen(
            firstDay(of: year) * msPerDay - Int128(utcOffsetMinutes) * 60_000, "start of year \(year)")
    }

    /// Days from 1970-01-01 to 1 January of `year` (1…10000) in the proleptic Gregorian calendar.
    static func firstDay(of year: Int) -> Int128 {
        func leapYears(through y: Int128) -> Int128 { y / 4 - y / 100 + y / 400 }  // in 1…y, y ≥ 0
        let y = Int128(year)
        return 365 * (y - 1970) + leapYears(through: y - 1) - leapYears(through: 1969)
    }

    static func floorDivide(_ a: Int128, _ b: Int128) -> Int128 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
