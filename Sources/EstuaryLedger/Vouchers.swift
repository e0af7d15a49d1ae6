import EstuaryModel

/// A compute-voucher programme (算力券) as data.
///
/// Cities write their measures differently — Guangzhou caps each tenant at 3 M CNY a year (10 M for
/// some categories), Beijing covers up to 20 %, Shanghai 30 %, Chengdu up to 60 %, Hangzhou 30 % for
/// domestic compute and 20 % for the rest, Nanning truncates where others round — so a programme is
/// a value to load from configuration, never a branch in code. A voucher pays `coverage` of an
/// eligible charge, at most what the tenant's annual allowance and the programme's annual budget
/// have left; both are ledger accounts with a floor of zero, so they can never be overspent.
public struct VoucherProgram: Sendable, Hashable, Codable {
    public var id: VoucherProgramID
    public var name: String
    /// The first instant a charge can be covered (inclusive), in Unix milliseconds.
    public var validFromMs: Int64
    /// The instant coverage ends (exclusive): a charge at or after it is not covered.
    public var validUntilMs: Int64
    /// What the programme may pay out in one local calendar year, in fen.
    public var annualBudget: Fen
    /// The share of an eligible charge the voucher pays, in basis points (3000 = 30 %).
    public var coverageBasisPoints: Int
    /// A different share for accelerators from domestic vendors (Hangzhou's 30 % vs 20 %); nil
    /// means domestic compute is covered at `coverageBasisPoints` like any other.
    public var domesticCoverageBasisPoints: Int?
    /// What one tenant may receive in one local calendar year, in fen, unless its category says otherwise.
    public var tenantAnnualCap: Fen
    /// Annual caps that replace `tenantAnnualCap` for a tenant category (`multimodal-foundation`).
    public var categoryCaps: [String: Fen]
    /// The accelerator kinds the programme pays for. The measures cover "intelligent compute": GPU
    /// and NPU, and DCU (a GPGPU such as Hygon's) counts as a GPU, as `AcceleratorSpec.isIntelligentCompute`
    /// says. CPU is never eligible; `validate()` refuses it.
    public var eligibleKinds: Set<AcceleratorSpec.Kind>
    /// When set, only sites operated by these organisations qualify (a city's list of registered
    /// compute providers). Compared case-insensitively, like affiliation.
    public var approvedProviders: Set<String>?
    /// How a covered share becomes whole fen: Nanning truncates, most round half up.
    public var rounding: RoundingRule
    /// The programme's local time zone as a fixed offset (480 = UTC+8), which decides where one
    /// budget year ends and the next begins. China has no daylight saving, so a fixed offset is exact.
    public var utcOffsetMinutes: Int

    public init(
        id: VoucherProgramID, name: String, validFromMs: Int64, validUntilMs: Int64, annualBudget: Fen,
        coverageBasisPoints: Int, domesticCoverageBasisPoints: Int? = nil, tenantAnnualCap: Fen,
        categoryCaps: [String: Fen] = [:], eligibleKinds: Set<AcceleratorSpec.Kind> = VoucherProgram.intelligentCompute,
        approvedProviders: Set<String>? = nil, rounding: RoundingRule, utcOffsetMinutes: Int = 480
    ) {
        self.id = id
        self.name = name
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
        self.annualBudget = annualBudget
        self.coverageBasisPoints = coverageBasisPoints
        self.domesticCoverageBasisPoints = domesticCoverageBasisPoints
        self.tenantAnnualCap = tenantAnnualCap
        self.categoryCaps = categoryCaps
        self.eligibleKinds = eligibleKinds
        self.approvedProviders = approvedProviders
        self.rounding = rounding
        self.utcOffsetMinutes = utcOffsetMinutes
    }

    enum CodingKeys: String, CodingKey {
        case id, name, rounding
        case validFromMs = "valid_from_ms"
        case validUntilMs = "valid_until_ms"
        case annualBudget = "annual_budget_fen"
        case coverageBasisPoints = "coverage_bp"
        case domesticCoverageBasisPoints = "domestic_coverage_bp"
        case tenantAnnualCap = "tenant_annual_cap_fen"
        case categoryCaps = "category_caps_fen"
        case eligibleKinds = "eligible_kinds"
        case approvedProviders = "approved_providers"
        case utcOffsetMinutes = "utc_offset_minutes"
    }

    /// Optional keys take the defaults of `init` (no category caps, intelligent compute, no
    /// approved list, UTC+8), as in the TOML form.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(VoucherProgramID.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
            validFromMs: try c.decode(Int64.self, forKey: .validFromMs),
            validUntilMs: try c.decode(Int64.self, forKey: .validUntilMs),
            annualBudget: try c.decode(Fen.self, forKey: .annualBudget),
            coverageBasisPoints: try c.decode(Int.self, forKey: .coverageBasisPoints),
            domesticCoverageBasisPoints: try c.decodeIfPresent(Int.self, forKey: .domesticCoverageBasisPoints),
            tenantAnnualCap: try c.decode(Fen.self, forKey: .tenantAnnualCap),
            categoryCaps: try c.decodeIfPresent([String: Fen].self, forKey: .categoryCaps) ?? [:],
            eligibleKinds: try c.decodeIfPresent(Set<AcceleratorSpec.Kind>.self, forKey: .eligibleKinds)
                ?? Self.intelligentCompute,
            approvedProviders: try c.decodeIfPresent(Set<String>.self, forKey: .approvedProviders),
            rounding: try c.decode(RoundingRule.self, forKey: .rounding),
            utcOffsetMinutes: try c.decodeIfPresent(Int.self, forKey: .utcOffsetMinutes) ?? 480)
    }

    /// The default eligible kinds: GPU, NPU and DCU.
    public static let intelligentCompute: Set<AcceleratorSpec.Kind> = [.gpu, .npu, .dcu]

    /// Every problem with the programme, empty when it can be used. Reported together so that a
    /// configuration is fixed in one pass.
    public var problems: [String] {
        var problems: [String] = []
        if !id.isWellFormed { problems.append("program id '\(id)' is not an identifier ([A-Za-z0-9._-])") }
        if name.isEmpty { problems.append("program \(id): name is empty") }
        if !(LocalYear.offsets).contains(utcOffsetMinutes) {
            problems.append("program \(id): utc offset \(utcOffsetMinutes) minutes is outside ±24 h")
        }
        if validFromMs >= validUntilMs {
            problems.append("program \(id): valid_from (\(validFromMs)) must be before valid_until (\(validUntilMs))")
        } else if (try? LocalYear.year(containing: validFromMs, utcOffsetMinutes: utcOffsetMinutes)) == nil
            || (try? LocalYear.year(containing: validUntilMs - 1, utcOffsetMinutes: utcOffsetMinutes)) == nil
        {
            problems.append("program \(id): validity must lie within years 1…9999")
        }
        if annualBudget <= 0 {
            problems.append("program \(id): annual budget must be positive, got \(annualBudget) fen")
        }
        if !(0...10_000).contains(coverageBasisPoints) {
            problems.append("program \(id): coverage \(coverageBasisPoints) bp is outside 0…10000")
        }
        if let domestic = domesticCoverageBasisPoints, !(0...10_000).contains(domestic) {
            problems.append("program \(id): domestic coverage \(domestic) bp is outside 0…10000")
        }
        if tenantAnnualCap < 0 { problems.append("program \(id): tenant annual cap cannot be negative") }
        for (category, cap) in categoryCaps.sorted(by: { $0.key < $1.key }) {
            if category.isEmpty { problems.append("program \(id): a category cap has an empty category name") }
            if cap < 0 { problems.append("program \(id): cap for category '\(category)' cannot be negative") }
        }
        if eligibleKinds.isEmpty { problems.append("program \(id): no accelerator kind is eligible") }
        if eligibleKinds.contains(.cpu) {
            problems.append("program \(id): CPU is not intelligent compute and cannot be eligible")
        }
        if let approved = approvedProviders,
            approved.isEmpty || approved.contains(where: { normalisedOrganisation($0).isEmpty })
        {
            problems.append(
                "program \(id): the approved-provider list is empty or has an empty name; omit it to approve every provider"
            )
        }
        return problems
    }

    /// Throws `LedgerError.invalid` with every problem when the programme cannot be used.
    public func validate() throws(LedgerError) {
        let problems = problems
        guard problems.isEmpty else { throw .invalid(problems.joined(separator: "; ")) }
    }

    /// The annual cap for a tenant of `category`: the category's override if it has one.
    public func annualCap(for category: String?) -> Fen {
        category.flatMap { categoryCaps[$0] } ?? tenantAnnualCap
    }

    /// The local calendar year that `atMs` falls in, for this programme's time zone.
    public func year(atMs: Int64) throws(LedgerError) -> Int {
        try LocalYear.year(containing: atMs, utcOffsetMinutes: utcOffsetMinutes)
    }

    /// How much of one charge the voucher pays, and if less than coverage, why.
    ///
    /// Pure: the caller passes what the budget and the tenant's allowance have left (the ledger's
    /// `postCharge` reads them from its own balances). Checks in order: a positive charge, the
    /// validity window, compute only, an eligible kind, a known provider not affiliated with the
    /// tenant, the approved list; then coverage rounded by the programme's rule; then the smaller
    /// of what is left of the allowance and the budget.
    public func redemption(
        for amount: Fen, item: BillableItem, providerOrganisation: String, tenant: TenantProfile, atMs: Int64,
        budgetLeft: Fen, tenantCapLeft: Fen
    ) -> Redemption {
        func none(_ reason: VoucherIneligibility) -> Redemption { Redemption(amount: 0, covered: 0, reason: reason) }
        guard amount > 0 else { return none(.notACharge(amount)) }
        guard atMs >= validFromMs else { return none(.beforeValidity(startsAtMs: validFromMs)) }
        guard atMs < validUntilMs else { return none(.expired(endedAtMs: validUntilMs)) }
        guard case .compute(let kind, let domestic) = item else { return none(.notCompute(item)) }
        guard kind != .cpu, eligibleKinds.contains(kind) else { return none(.kindNotEligible(kind)) }
        let provider = normalisedOrganisation(providerOrganisation)
        guard !provider.isEmpty else { return none(.providerUnknown) }
        guard !normalisedOrganisation(tenant.organisation).isEmpty else { return none(.tenantOrganisationUnknown) }
        guard !tenant.isAffiliated(with: providerOrganisation) else {
            return none(.affiliatedProvider(providerOrganisation))
        }
        if let approved = approvedProviders, !approved.contains(where: { normalisedOrganisation($0) == provider }) {
            return none(.providerNotApproved(providerOrganisation))
        }
        let rate = domestic ? (domesticCoverageBasisPoints ?? coverageBasisPoints) : coverageBasisPoints
        // Within 0…10000 bp the share is at most the charge, so it cannot overflow.
        guard (0...10_000).contains(rate),
            let covered = try? LedgerArithmetic.share(of: amount, basisPoints: rate, rule: rounding)
        else { return none(.invalidProgram) }
        guard covered > 0 else { return none(.coverageRoundsToZero) }
        let capLeft = max(0, tenantCapLeft)
        let budget = max(0, budgetLeft)
        if capLeft < covered, capLeft <= budget {
            return Redemption(amount: capLeft, covered: covered, reason: .tenantCapReached(left: capLeft))
        }
        if budget < covered {
            return Redemption(amount: budget, covered: covered, reason: .budgetExhausted(left: budget))
        }
        return Redemption(amount: covered, covered: covered, reason: nil)
    }

    /// The transaction that gives the programme its budget for `year`, from its sponsor. Its id is
    /// fixed by programme and year, so it is opened once however many raters try. (`&-` only
    /// matters for Int64.min, which `validate()` on the transaction then refuses instead of trapping.)
    public func budgetOpening(year: Int) -> LedgerTransaction {
        LedgerTransaction(
            id: "voucher-budget:\(id.rawValue):\(year)", kind: .voucherBudgetOpening,
            postings: [
                Posting(.voucherFunding(id), 0 &- annualBudget), Posting(.voucherBudget(id, year: year), annualBudget),
            ],
            memo: "\(name): budget for \(year)")
    }

    /// The transaction that gives `tenant` its allowance (its annual cap) for `year`. A category
    /// changed later in the year does not reopen it; raise the allowance with an adjustment.
    public func allowanceOpening(for tenant: TenantProfile, year: Int) -> LedgerTransaction {
        let cap = annualCap(for: tenant.category)
        return LedgerTransaction(
            id: "voucher-allowance:\(id.rawValue):\(tenant.tenant.rawValue):\(year)", kind: .voucherAllowanceOpening,
            postings: [
                Posting(.voucherQuota(id), 0 &- cap), Posting(.voucherAllowance(id, tenant.tenant, year: year), cap),
            ],
            memo: "\(name): allowance of \(tenant.tenant) for \(year)")
    }
}

/// What a voucher programme needs to know about a tenant (an "innovation entity").
public struct TenantProfile: Sendable, Hashable, Codable {
    public var tenant: TenantID
    /// The legal organisation behind the tenant.
    public var organisation: String
    /// Organisations the tenant declared as affiliated (parent, subsidiaries, sister companies):
    /// renting from them never earns a voucher.
    public var affiliates: Set<String>
    /// A category that may raise the voucher cap (`multimodal-foundation`).
    public var category: String?

    public init(tenant: TenantID, organisation: String, affiliates: Set<String> = [], category: String? = nil) {
        self.tenant = tenant
        self.organisation = organisation
        self.affiliates = affiliates
        self.category = category
    }

    /// Whether `provider` is the tenant's own organisation or a declared affiliate, ignoring case
    /// and surrounding spaces, so that "Acme Cloud " and "acme cloud" are one organisation.
    public func isAffiliated(with provider: String) -> Bool {
        let provider = normalisedOrganisation(provider)
        return provider == normalisedOrganisation(organisation)
            || affiliates.contains { normalisedOrganisation($0) == provider }
    }
}

/// What a charge paid for. Only compute on an eligible accelerator can earn a voucher; storage,
/// network and security lines never do, whatever the programme says.
public enum BillableItem: Sendable, Hashable, Codable, CustomStringConvertible {
    case compute(AcceleratorSpec.Kind, domestic: Bool)
    case storage
    case network
    case security
    /// Anything else a price book bills (energy surcharges, support …).
    case other(String)

    /// For memos and messages: `gpu compute`, `domestic npu compute`, `storage` … (written out,
    /// not reflected: it is on the rating path).
    public var description: String {
        switch self {
        case .compute(let kind, let domestic): domestic ? "domestic \(kind.rawValue) compute" : "\(kind.rawValue) compute"
        case .storage: "storage"
        case .network: "network"
        case .security: "security"
        case .other(let what): what
        }
    }
}

/// How much a voucher pays towards one charge.
public struct Redemption: Sendable, Hashable {
    /// Fen the voucher pays; the tenant pays the rest of the charge.
    public var amount: Fen
    /// What coverage alone would have paid, before the allowance and the budget.
    public var covered: Fen
    /// Why the voucher pays nothing, or less than `covered`; nil when it pays in full.
    public var reason: VoucherIneligibility?

    public init(amount: Fen, covered: Fen, reason: VoucherIneligibility?) {
        self.amount = amount
        self.covered = covered
        self.reason = reason
    }
}

/// Why a voucher paid nothing or less than its coverage. Shown on the tenant's invoice line.
public enum VoucherIneligibility: Sendable, Hashable, CustomStringConvertible {
    case notACharge(Fen)
    case beforeValidity(startsAtMs: Int64)
    case expired(endedAtMs: Int64)
    case notCompute(BillableItem)
    case kindNotEligible(AcceleratorSpec.Kind)
    /// The site's operator organisation is not known, so non-affiliation cannot be shown.
    case providerUnknown
    /// The tenant's organisation is not known, so non-affiliation cannot be shown.
    case tenantOrganisationUnknown
    case affiliatedProvider(String)
    case providerNotApproved(String)
    /// The programme's coverage is out of range; `validate()` would have said so.
    case invalidProgram
    case coverageRoundsToZero
    case tenantCapReached(left: Fen)
    case budgetExhausted(left: Fen)

    public var description: String {
        switch self {
        case .notACharge(let amount): "\(amount) fen is not a charge"
        case .beforeValidity(let startsAtMs): "the programme starts at \(startsAtMs)"
        case .expired(let endedAtMs): "the programme ended at \(endedAtMs)"
        case .notCompute(let item): "\(item) is not intelligent compute"
        case .kindNotEligible(let kind): "\(kind.rawValue) compute is not eligible"
        case .providerUnknown: "the provider's organisation is unknown"
        case .tenantOrganisationUnknown: "the tenant's organisation is unknown"
        case .affiliatedProvider(let organisation): "provider \(organisation) is affiliated with the tenant"
        case .providerNotApproved(let organisation): "provider \(organisation) is not on the programme's approved list"
        case .invalidProgram: "the programme's coverage is invalid"
        case .coverageRoundsToZero: "the covered share rounds to 0 fen"
        case .tenantCapReached(let left): "the tenant's annual cap has \(left) fen left"
        case .budgetExhausted(let left): "the programme's annual budget has \(left) fen left"
        }
    }
}

extension VoucherProgram {
    /// An example of Guangzhou's compute-voucher measures, for tests, demos and as a template.
    ///
    /// The figures the measures fix: a 100 M CNY annual budget, a 3 M CNY annual cap per tenant and
    /// 10 M CNY for multimodal foundation-model developers, intelligent compute only. The measures
    /// leave the coverage rate to the programme, so the 30 % here (and half-up rounding) is a
    /// configurable default, not policy; the validity dates (2026-01-01 to 2029-01-01, UTC+8) are
    /// placeholders to be set from the programme notice.
    public static let guangzhouExample = VoucherProgram(
        id: "gz-compute-voucher", name: "Guangzhou compute vouchers (example)",
        validFromMs: 1_767_196_800_000,  // 2026-01-01T00:00+08:00
        validUntilMs: 1_861_891_200_000,  // 2029-01-01T00:00+08:00
        annualBudget: 10_000_000_000,  // 100,000,000 CNY
        coverageBasisPoints: 3_000,  // configurable default: the measures do not fix the rate
        tenantAnnualCap: 300_000_000,  // 3,000,000 CNY
        categoryCaps: ["multimodal-foundation": 1_000_000_000],  // 10,000,000 CNY
        eligibleKinds: intelligentCompute, rounding: .halfUp, utcOffsetMinutes: 480)
}

/// Organisation names compared as people write them: case and surrounding spaces ignored.
func normalisedOrganisation(_ name: String) -> String {
    let scalars = name.unicodeScalars
    let isSpace: (Unicode.Scalar) -> Bool = { $0.properties.isWhitespace }
    guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(scalars[first...last]).lowercased()
}

/// One rated charge, as the ledger needs it: who pays, who ran it, for what, and when.
public struct VoucherCharge: Sendable, Hashable, Codable {
    /// The rated line's id, unique and stable across resends: the usage record id, or
    /// `<record id>/<line>` when one record bills several lines. The transaction id is `usage:<id>`.
    public var id: String
    public var tenant: TenantID
    public var site: SiteID
    /// The organisation operating the site, for the affiliation check.
    public var providerOrganisation: String
    public var item: BillableItem
    /// The gross charge in fen, before any voucher.
    public var amount: Fen
    /// When the usage ended: decides the programme year and validity, so a resent record lands in
    /// the same year as the first.
    public var atMs: Int64

    public init(
        id: String, tenant: TenantID, site: SiteID, providerOrganisation: String, item: BillableItem, amount: Fen,
        atMs: Int64
    ) {
        self.id = id
        self.tenant = tenant
        self.site = site
        self.providerOrganisation = providerOrganisation
        self.item = item
        self.amount = amount
        self.atMs = atMs
    }
}

/// The platform's commission on each charge: `amount × basisPoints / 10,000`, on the gross charge
/// (voucher part included, since the site is owed the full price), rounded by `rounding`. The
/// default rule truncates, so rounding never takes a fen from a site.
public struct PlatformFee: Sendable, Hashable, Codable {
    public var basisPoints: Int
    public var rounding: RoundingRule

    public init(basisPoints: Int, rounding: RoundingRule = .truncate) {
        self.basisPoints = basisPoints
        self.rounding = rounding
    }

    /// No commission.
    public static let none = PlatformFee(basisPoints: 0)

    /// The fee on `amount`; refuses a rate outside 0…10000 bp.
    public func fee(on amount: Fen) throws(LedgerError) -> Fen {
        guard (0...10_000).contains(basisPoints) else {
            throw .invalid("platform fee \(basisPoints) bp is outside 0…10000")
        }
        return try LedgerArithmetic.share(of: amount, basisPoints: basisPoints, rule: rounding)
    }
}

/// A voucher's part of one charge: which programme and year pay, and how much.
public struct VoucherDraw: Sendable, Hashable {
    public var program: VoucherProgramID
    public var year: Int
    public var amount: Fen

    public init(program: VoucherProgramID, year: Int, amount: Fen) {
        self.program = program
        self.year = year
        self.amount = amount
    }
}

/// Builds the transaction for one rated charge.
public enum ChargePosting {
    /// The idempotency key of a charge: `usage:<charge id>`.
    public static func transactionID(for charge: VoucherCharge) -> String { "usage:" + charge.id }

    /// The balanced transaction for `charge` with voucher part `v` and platform fee `f`:
    ///
    ///     wallet(tenant)                      −(charge − v)
    ///     voucher-budget(program, year)       −v
    ///     voucher-allowance(program, tenant)  −v
    ///     voucher-quota(program)              +v   (the allowance's other side)
    ///     site-receivable(site)               +(charge − f)
    ///     platform-fee                        +f
    ///
    /// which sums to −charge + v − v − v + v + charge − f + f = 0. Lines that would be zero are left
    /// out (a fully covered charge has no wallet line). Refuses a charge that is not positive and a
    /// voucher part outside 0…charge.
    public static func transaction(for charge: VoucherCharge, voucher: VoucherDraw?, fee: PlatformFee)
        throws(LedgerError)
        -> LedgerTransaction
    {
        guard charge.amount > 0 else {
            throw .invalid(
                "charge \(charge.id) is \(charge.amount) fen; only positive charges are posted (a zero charge posts nothing, a correction is a reversal)"
            )
        }
        let covered = voucher?.amount ?? 0
        guard (0...charge.amount).contains(covered) else {
            throw .invalid("voucher part \(covered) fen of charge \(charge.id) is outside 0…\(charge.amount)")
        }
        let commission = try fee.fee(on: charge.amount)
        var postings: [Posting] = []
        postings.reserveCapacity(6)
        if charge.amount - covered > 0 { postings.append(Posting(.wallet(charge.tenant), -(charge.amount - covered))) }
        if let voucher, covered > 0 {
            postings.append(Posting(.voucherBudget(voucher.program, year: voucher.year), -covered))
            postings.append(Posting(.voucherAllowance(voucher.program, charge.tenant, year: voucher.year), -covered))
            postings.append(Posting(.voucherQuota(voucher.program), covered))
        }
        if charge.amount - commission > 0 {
            postings.append(Posting(.siteReceivable(charge.site), charge.amount - commission))
        }
        if commission > 0 { postings.append(Posting(.platformFee, commission)) }
        // Built by concatenation: interpolating the identifiers went through their generic
        // description, a measurable share of posting a charge.
        var memo = charge.item.description + " at " + charge.site.rawValue
        if let voucher { memo += ", " + String(voucher.amount) + " fen from voucher " + voucher.program.rawValue }
        return LedgerTransaction(id: transactionID(for: charge), kind: .charge, postings: postings, memo: memo)
    }
}
