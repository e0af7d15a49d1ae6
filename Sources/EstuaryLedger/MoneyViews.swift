import EstuaryModel

// The JSON bodies of the money API (`/v1/tenants`, `/v1/prices`, `/v1/voucher-programs`,
// `/v1/usage`, `/v1/bill`, `/v1/settlements`), shared by the coordinator and estuaryctl. Keys are
// snake_case; every amount is an integer number of fen.

/// `POST /v1/tenants`: creates a tenant or updates its profile (the same call again changes
/// organisation, affiliates, category, credit line and programme; the wallet is untouched).
public struct TenantRequest: Sendable, Hashable, Codable {
    public var tenant: TenantID
    public var organisation: String
    public var affiliates: [String]
    public var category: String?
    /// The credit line in fen: the wallet may go down to minus this. 0 (also what an absent key
    /// means) is a prepaid wallet; an explicit JSON `null` is a postpaid tenant without limit.
    public var creditLimitFen: Fen?
    /// The voucher programme the tenant is enrolled in, if any.
    public var voucherProgram: VoucherProgramID?

    public init(
        tenant: TenantID, organisation: String, affiliates: [String] = [], category: String? = nil,
        creditLimitFen: Fen? = 0, voucherProgram: VoucherProgramID? = nil
    ) {
        self.tenant = tenant
        self.organisation = organisation
        self.affiliates = affiliates
        self.category = category
        self.creditLimitFen = creditLimitFen
        self.voucherProgram = voucherProgram
    }

    enum CodingKeys: String, CodingKey {
        case tenant, organisation, affiliates, category
        case creditLimitFen = "credit_limit_fen"
        case voucherProgram = "voucher_program"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tenant = try c.decode(TenantID.self, forKey: .tenant)
        organisation = try c.decode(String.self, forKey: .organisation)
        affiliates = try c.decodeIfPresent([String].self, forKey: .affiliates) ?? []
        category = try c.decodeIfPresent(String.self, forKey: .category)
        // Absent is a prepaid wallet: forgetting the key must never grant unlimited credit.
        if !c.contains(.creditLimitFen) {
            creditLimitFen = 0
        } else if try c.decodeNil(forKey: .creditLimitFen) {
            creditLimitFen = nil
        } else {
            creditLimitFen = try c.decode(Fen.self, forKey: .creditLimitFen)
        }
        voucherProgram = try c.decodeIfPresent(VoucherProgramID.self, forKey: .voucherProgram)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tenant, forKey: .tenant)
        try c.encode(organisation, forKey: .organisation)
        try c.encode(affiliates, forKey: .affiliates)
        try c.encodeIfPresent(category, forKey: .category)
        try c.encode(creditLimitFen, forKey: .creditLimitFen)  // null: no limit
        try c.encodeIfPresent(voucherProgram, forKey: .voucherProgram)
    }
}

/// A tenant's profile and wallet (`GET /v1/tenants/{id}`).
public struct TenantView: Sendable, Hashable, Codable {
    public var tenant: TenantID
    /// Empty for a tenant nobody created: it was seen only in jobs, and is postpaid without limit.
    public var organisation: String
    public var affiliates: [String]
    public var category: String?
    /// nil: no limit (postpaid).
    public var creditLimitFen: Fen?
    public var voucherProgram: VoucherProgramID?
    /// The wallet balance: top-ups minus what was paid; negative while drawing on credit.
    public var balanceFen: Fen
    /// Reserved for admitted jobs that have not settled.
    public var heldFen: Fen
    /// balance − held + credit limit; nil without a limit.
    public var availableFen: Fen?
    /// Whether an administrator created the tenant (false: known only from its jobs).
    public var registered: Bool

    public init(
        tenant: TenantID, organisation: String, affiliates: [String], category: String?, creditLimitFen: Fen?,
        voucherProgram: VoucherProgramID?, balanceFen: Fen, heldFen: Fen, availableFen: Fen?, registered: Bool
    ) {
        self.tenant = tenant
        self.organisation = organisation
        self.affiliates = affiliates
        self.category = category
        self.creditLimitFen = creditLimitFen
        self.voucherProgram = voucherProgram
        self.balanceFen = balanceFen
        self.heldFen = heldFen
        self.availableFen = availableFen
        self.registered = registered
    }

    enum CodingKeys: String, CodingKey {
        case tenant, organisation, affiliates, category, registered
        case creditLimitFen = "credit_limit_fen"
        case voucherProgram = "voucher_program"
        case balanceFen = "balance_fen"
        case heldFen = "held_fen"
        case availableFen = "available_fen"
    }
}

/// `GET /v1/tenants`
public struct TenantListView: Sendable, Hashable, Codable {
    public var tenants: [TenantView]
    public init(tenants: [TenantView]) { self.tenants = tenants }
}

/// `POST /v1/tenants/{id}/top-up`: money into a prepaid wallet. `reference` (a payment or
/// contract number) is the idempotency key: the same reference again changes nothing.
public struct TopUpRequest: Sendable, Hashable, Codable {
    public var amountFen: Fen
    public var reference: String

    public init(amountFen: Fen, reference: String) {
        self.amountFen = amountFen
        self.reference = reference
    }

    enum CodingKeys: String, CodingKey {
        case amountFen = "amount_fen"
        case reference
    }
}

/// `POST /v1/prices/{site}`: a new price version for a site, in force from `effective_from_ms`
/// (default: now). A version cannot take effect in the past, so no bill already rated changes.
public struct PriceSetRequest: Sendable, Hashable, Codable {
    public var effectiveFromMs: Int64?
    public var book: PriceBook
    public var services: [ServiceID: ServicePrice]

    public init(effectiveFromMs: Int64?, book: PriceBook, services: [ServiceID: ServicePrice] = [:]) {
        self.effectiveFromMs = effectiveFromMs
        self.book = book
        self.services = services
    }

    enum CodingKeys: String, CodingKey {
        case effectiveFromMs = "effective_from_ms"
        case book, services
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        effectiveFromMs = try c.decodeIfPresent(Int64.self, forKey: .effectiveFromMs)
        book = try c.decode(PriceBook.self, forKey: .book)
        services = try c.decodeIfPresent([ServiceID: ServicePrice].self, forKey: .services) ?? [:]
    }
}

/// `GET /v1/prices/{site}`: every price version of a site, oldest first, and the one in force.
public struct PriceHistoryView: Sendable, Hashable, Codable {
    public var site: SiteID
    public var versions: [PriceVersion]
    /// The version number in force now; nil when none is yet.
    public var inForce: Int?

    public init(site: SiteID, versions: [PriceVersion], inForce: Int?) {
        self.site = site
        self.versions = versions
        self.inForce = inForce
    }

    enum CodingKeys: String, CodingKey {
        case site, versions
        case inForce = "in_force"
    }
}

/// One budget year of a voucher programme.
public struct ProgramYearView: Sendable, Hashable, Codable {
    public var year: Int
    public var budgetFen: Fen
    public var paidFen: Fen
    public var leftFen: Fen

    public init(year: Int, budgetFen: Fen, paidFen: Fen, leftFen: Fen) {
        self.year = year
        self.budgetFen = budgetFen
        self.paidFen = paidFen
        self.leftFen = leftFen
    }

    enum CodingKeys: String, CodingKey {
        case year
        case budgetFen = "budget_fen"
        case paidFen = "paid_fen"
        case leftFen = "left_fen"
    }
}

/// `GET /v1/voucher-programs/{id}`: the programme, its budget years so far and its tenants.
public struct ProgramView: Sendable, Hashable, Codable {
    public var program: VoucherProgram
    public var years: [ProgramYearView]
    public var tenants: [TenantID]

    public init(program: VoucherProgram, years: [ProgramYearView], tenants: [TenantID]) {
        self.program = program
        self.years = years
        self.tenants = tenants
    }
}

/// `GET /v1/voucher-programs`
public struct ProgramListView: Sendable, Hashable, Codable {
    public var programs: [ProgramView]
    public init(programs: [ProgramView]) { self.programs = programs }
}

/// `POST /v1/voucher-programs/{id}/grants`: enrols a tenant (its category decides its cap).
public struct GrantRequest: Sendable, Hashable, Codable {
    public var tenant: TenantID
    public init(tenant: TenantID) { self.tenant = tenant }
}

/// One tenant's allowance in one programme year.
public struct AllowanceView: Sendable, Hashable, Codable {
    public var program: VoucherProgramID
    public var year: Int
    public var capFen: Fen
    public var usedFen: Fen
    public var leftFen: Fen

    public init(program: VoucherProgramID, year: Int, capFen: Fen, usedFen: Fen, leftFen: Fen) {
        self.program = program
        self.year = year
        self.capFen = capFen
        self.usedFen = usedFen
        self.leftFen = leftFen
    }

    enum CodingKeys: String, CodingKey {
        case program, year
        case capFen = "cap_fen"
        case usedFen = "used_fen"
        case leftFen = "left_fen"
    }
}

/// `GET /v1/tenants/{id}/vouchers`: the programme a tenant is enrolled in and its allowances.
/// A year never drawn on shows its full cap.
public struct VoucherBalanceView: Sendable, Hashable, Codable {
    public var tenant: TenantID
    public var program: VoucherProgramID?
    public var allowances: [AllowanceView]

    public init(tenant: TenantID, program: VoucherProgramID?, allowances: [AllowanceView]) {
        self.tenant = tenant
        self.program = program
        self.allowances = allowances
    }
}

/// One usage record with what it cost (`GET /v1/usage`): `charge` is nil until it is rated, and
/// `unrated` then says why (the site prices nothing for the class, say).
public struct MeteredUsage: Sendable, Hashable, Codable {
    public var record: UsageRecord
    public var tenant: TenantID
    public var charge: PostedCharge?
    public var unrated: String?

    public init(record: UsageRecord, tenant: TenantID, charge: PostedCharge?, unrated: String?) {
        self.record = record
        self.tenant = tenant
        self.charge = charge
        self.unrated = unrated
    }
}

/// `POST /v1/settlements` (close a period) and `GET /v1/settlements/{period}`: the period's
/// reports. An open period's report is provisional (`closed` false) and may still change.
public struct SettlementView: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public var closed: Bool
    public var closedAtMs: Int64?
    public var report: SettlementReport
    /// Usage recorded in the period that could not be rated, with the reason (at most 1,000).
    public var unrated: [UnratedUsage]

    public init(period: BillingPeriod, closed: Bool, closedAtMs: Int64?, report: SettlementReport, unrated: [UnratedUsage]) {
        self.period = period
        self.closed = closed
        self.closedAtMs = closedAtMs
        self.report = report
        self.unrated = unrated
    }

    enum CodingKeys: String, CodingKey {
        case period, closed, report, unrated
        case closedAtMs = "closed_at_ms"
    }
}

public struct UnratedUsage: Sendable, Hashable, Codable {
    public var record: UsageRecordID
    public var reason: String

    public init(record: UsageRecordID, reason: String) {
        self.record = record
        self.reason = reason
    }
}

/// `POST /v1/settlements` body.
public struct SettleRequest: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public init(period: BillingPeriod) { self.period = period }
}

/// `GET /v1/settlements`: the closed periods, oldest first.
public struct SettlementListView: Sendable, Hashable, Codable {
    public struct Entry: Sendable, Hashable, Codable {
        public var period: BillingPeriod
        public var closedAtMs: Int64

        public init(period: BillingPeriod, closedAtMs: Int64) {
            self.period = period
            self.closedAtMs = closedAtMs
        }

        enum CodingKeys: String, CodingKey {
            case period
            case closedAtMs = "closed_at_ms"
        }
    }

    public var periods: [Entry]
    public init(periods: [Entry]) { self.periods = periods }
}

/// `GET /v1/usage`: the usage records, and each with what it cost.
public struct MeteredUsageView: Sendable, Hashable, Codable {
    public var records: [UsageRecord]
    /// Absent from coordinators older than the ledger.
    public var metered: [MeteredUsage]?

    public init(records: [UsageRecord], metered: [MeteredUsage]?) {
        self.records = records
        self.metered = metered
    }
}
