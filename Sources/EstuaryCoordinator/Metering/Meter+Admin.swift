import EstuaryLedger
import Foundation
import EstuaryModel
import EstuaryStore

// Administration of the money side: tenants and wallets, price versions, voucher programmes.
// Changes run inside store write closures (see `Meter`); views only read.

extension Meter {
    // MARK: tenants

    /// Creates or updates a registered tenant; `created` is false for an update. Its wallet is
    /// untouched; its credit line applies from now on (lowering it takes nothing back).
    public func upsertTenant(_ request: TenantRequest, nowMs: Int64, tx: StoreTransaction) throws -> (
        view: TenantView, created: Bool
    ) {
        try Self.validate(request)
        return try change(tx) { state in
            if let program = request.voucherProgram, state.programs[program] == nil {
                throw BackendError.notFound("voucher program \(program)")
            }
            let previous = state.tenants[request.tenant]
            let record = TenantRecord(
                profile: TenantProfile(
                    tenant: request.tenant, organisation: request.organisation, affiliates: Set(request.affiliates),
                    category: request.category),
                creditLimitFen: request.creditLimitFen, voucherProgram: request.voucherProgram,
                createdAtMs: previous?.createdAtMs ?? nowMs, updatedAtMs: nowMs)
            try state.ledger.setCreditLimit(request.creditLimitFen, for: request.tenant)
            try tx.upsertTenant(record)
            state.tenants[request.tenant] = record
            return (Self.view(of: request.tenant, in: state), previous == nil)
        }
    }

    static func validate(_ request: TenantRequest) throws {
        var problems: [FieldError] = []
        func problem(_ field: String, _ message: String) { problems.append(FieldError(field: field, message: message)) }
        if !request.tenant.isWellFormed { problem("tenant", "must be 1–128 letters, digits, '.', '_' or '-'") }
        // Organisations are ids in the same namespace as a site's operator (`site add --org`), so
        // that non-affiliation is decided by comparing like with like, never by fuzzy names.
        let organisationRule = "must be an organisation id as sites are added with (`site add --org`): 1–128 letters, digits, '.', '_' or '-'"
        if !Identifiers.isWellFormed(request.organisation) { problem("organisation", organisationRule) }
        if request.affiliates.count > 64 { problem("affiliates", "at most 64 affiliated organisations") }
        for (index, affiliate) in request.affiliates.enumerated() where !Identifiers.isWellFormed(affiliate) {
            problem("affiliates[\(index)]", organisationRule)
        }
        if let category = request.category, !Identifiers.isWellFormed(category) {
            problem("category", "must be 1–128 letters, digits, '.', '_' or '-'")
        }
        if let limit = request.creditLimitFen, limit < 0 { problem("credit_limit_fen", "must not be negative") }
        if let program = request.voucherProgram, !program.isWellFormed {
            problem("voucher_program", "must be a programme id")
        }
        if !problems.isEmpty { throw BackendError.invalid(problems) }
    }

    /// Money into a registered tenant's wallet. `reference` (a payment number, unique across the
    /// mesh) makes it idempotent: the same reference for the same tenant and amount again changes
    /// nothing; reused otherwise it is a conflict, so one payment can never credit two wallets.
    public func topUp(tenant: TenantID, _ request: TopUpRequest, nowMs: Int64, tx: StoreTransaction) throws -> TenantView {
        var problems: [FieldError] = []
        if !tenant.isWellFormed { problems.append(FieldError(field: "tenant", message: "must be a tenant id")) }
        if request.amountFen <= 0 { problems.append(FieldError(field: "amount_fen", message: "must be positive")) }
        if !Identifiers.isWellFormed(request.reference) {
            problems.append(
                FieldError(field: "reference", message: "must be 1–128 letters, digits, '.', '_' or '-' (a payment number)"))
        }
        if !problems.isEmpty { throw BackendError.invalid(problems) }
        guard state.withLock({ $0.tenants[tenant] != nil }) else {
            throw BackendError.notFound("registered tenant \(tenant) (create it first: a top-up to a mistyped id must not open a wallet)")
        }
        let transaction = try LedgerTransaction.topUp(
            id: "top-up:\(request.reference)", tenant: tenant, amount: request.amountFen, memo: "top-up \(request.reference)")
        if let earlier = try tx.ledgerTransaction(id: transaction.id) {
            guard earlier.transaction.fingerprint == transaction.fingerprint else {
                throw BackendError.conflict(
                    "top-up reference \(request.reference) was already used (for another tenant or amount); a payment credits one wallet once")
            }
            return state.withLock { Self.view(of: tenant, in: $0) }
        }
        return try change(tx) { state in
            let period = try Self.openPeriod(atMs: nowMs, in: state, utcOffsetMinutes: settings.utcOffsetMinutes)
            do {
                try state.ledger.apply(transaction)
            } catch {
                throw BackendError.invalid([FieldError(field: "amount_fen", message: "\(error)")])
            }
            try tx.insertLedgerTransaction(transaction, period: period, atMs: nowMs, charge: nil)
            try tx.setBalances(transaction.postings.map { ($0.account, state.ledger.balance($0.account)) })
            return Self.view(of: tenant, in: state)
        }
    }

    func tenantView(_ tenant: TenantID) -> TenantView? {
        state.withLock { state in
            guard state.tenants[tenant] != nil || state.ledger.balances[.wallet(tenant)] != nil
                || state.ledger.held(by: tenant) != 0
            else { return nil }
            return Self.view(of: tenant, in: state)
        }
    }

    /// Registered tenants and every tenant with a wallet, by id.
    func tenantViews() -> [TenantView] {
        state.withLock { state in
            var ids = Set(state.tenants.keys)
            for account in state.ledger.balances.keys { if let tenant = account.walletTenant { ids.insert(tenant) } }
            for hold in state.ledger.holds.values { ids.insert(hold.tenant) }
            return ids.sorted().map { Self.view(of: $0, in: state) }
        }
    }

    static func view(of tenant: TenantID, in state: State) -> TenantView {
        let record = state.tenants[tenant]
        let available = state.ledger.available(to: tenant).map { Fen(clamping: $0) }
        return TenantView(
            tenant: tenant, organisation: record?.profile.organisation ?? "",
            affiliates: record?.profile.affiliates.sorted() ?? [], category: record?.profile.category,
            creditLimitFen: state.ledger.creditLimit(of: tenant), voucherProgram: record?.voucherProgram,
            balanceFen: state.ledger.balance(.wallet(tenant)), heldFen: state.ledger.held(by: tenant),
            availableFen: available, registered: record != nil)
    }

    // MARK: prices

    /// Adds a price version for `site`. An administrator's version takes effect now or later,
    /// never in the past, so nothing already rated changes; from then on the site's agent no
    /// longer sets its own prices.
    public func setPrices(site: SiteID, _ request: PriceSetRequest, nowMs: Int64, tx: StoreTransaction) throws -> PriceVersion {
        guard site.isWellFormed else { throw BackendError.invalid([FieldError(field: "site", message: "must be a site id")]) }
        let effective = request.effectiveFromMs ?? nowMs
        guard effective >= nowMs else {
            throw BackendError.invalid([
                FieldError(
                    field: "effective_from_ms",
                    message: "a price version cannot take effect in the past (now is \(nowMs)); correct a bill with a reversal")
            ])
        }
        return try change(tx) { state in
            let version = try addVersion(
                site: site, book: request.book, services: request.services, effectiveFromMs: effective)
            try tx.insertPriceVersion(site: site, version, source: "admin", atMs: nowMs)
            state.adminPriced.insert(site)
            return version
        }
    }

    /// Adopts the price book an agent announced, as a version effective now, unless it is the
    /// book already in force or an administrator has set the site's prices. A site's first book
    /// applies from the beginning of time: before it the site had no prices at all, and usage of
    /// jobs that started before the coordinator first saw the book (a coordinator upgraded with
    /// jobs running) is rated at it rather than left unrated. Returns whether a version was added.
    /// `source` names where the book came from in the price history: `agent`, or `mesh:<peer>`
    /// for a peer coordinator's site.
    func observeAgentPrices(site: SiteID, book: PriceBook, nowMs: Int64, tx: StoreTransaction, source: String = "agent") throws
        -> Bool
    {
        try change(tx) { state in
            guard !book.prices.isEmpty, !state.adminPriced.contains(site) else { return false }
            let latest = pricing.withLock { $0.histories[site]?.versions.last }
            if let latest, latest.book == book { return false }
            let effective = latest.map { max(nowMs, $0.effectiveFromMs + 1) } ?? 0
            let version = try addVersion(site: site, book: book, services: [:], effectiveFromMs: effective)
            try tx.insertPriceVersion(site: site, version, source: source, atMs: nowMs)
            return true
        }
    }

    /// Adds a version to `site`'s prices; call it inside `change`.
    func addVersion(
        site: SiteID, book: PriceBook, services: [ServiceID: ServicePrice], effectiveFromMs: Int64
    ) throws -> PriceVersion {
        let existing = pricing.withLock { $0.histories[site]?.versions ?? [] }
        let version = PriceVersion(
            version: (existing.last?.version ?? 0) + 1, effectiveFromMs: effectiveFromMs, book: book, services: services)
        let history: PriceHistory
        do {
            history = try PriceHistory(site: site, versions: existing + [version])
        } catch {
            throw BackendError.invalid(error.problems)
        }
        pricing.withLock { pricing in
            pricing.histories[site] = history
            pricing.generation &+= 1
        }
        return version
    }

    /// The price book in force at `site` now, if the meter has its prices.
    func bookInForce(site: SiteID, nowMs: Int64) -> PriceBook? {
        pricing.withLock { $0.histories[site]?.version(atMs: nowMs)?.book }
    }

    /// The first instant after `nowMs` at which any site's price version changes.
    func nextPriceChange(afterMs nowMs: Int64) -> Int64? {
        pricing.withLock { $0.histories.values.compactMap { $0.nextChange(afterMs: nowMs) }.min() }
    }

    func priceHistory(site: SiteID, nowMs: Int64) -> PriceHistoryView? {
        pricing.withLock { pricing in
            guard let history = pricing.histories[site] else { return nil }
            return PriceHistoryView(site: site, versions: history.versions, inForce: history.version(atMs: nowMs)?.version)
        }
    }

    // MARK: voucher programmes

    /// Registers a programme. Programmes are immutable once registered (budgets already opened
    /// depend on them): the same programme again is a no-op, a different one under the same id
    /// is a conflict. Returns whether it was new.
    public func createProgram(_ program: VoucherProgram, nowMs: Int64, tx: StoreTransaction) throws -> Bool {
        var problems = program.problems.map { FieldError(field: "program", message: $0) }
        if !program.id.isWellFormed { problems.append(FieldError(field: "id", message: "must be a programme id")) }
        if !problems.isEmpty { throw BackendError.invalid(problems) }
        return try change(tx) { state in
            if let existing = state.programs[program.id] {
                guard existing == program else {
                    throw BackendError.conflict(
                        "voucher program \(program.id) exists with other terms; programmes cannot change once created")
                }
                return false
            }
            try tx.upsertVoucherProgram(program, atMs: nowMs)
            state.programs[program.id] = program
            return true
        }
    }

    /// Enrols a registered tenant in a programme (its category decides its annual cap).
    public func grant(program: VoucherProgramID, tenant: TenantID, nowMs: Int64, tx: StoreTransaction) throws -> TenantView {
        try change(tx) { state in
            guard state.programs[program] != nil else { throw BackendError.notFound("voucher program \(program)") }
            guard var record = state.tenants[tenant] else {
                throw BackendError.notFound(
                    "registered tenant \(tenant) (create it with its organisation first: vouchers need it to check affiliation)")
            }
            record.voucherProgram = program
            record.updatedAtMs = nowMs
            try tx.upsertTenant(record)
            state.tenants[tenant] = record
            return Self.view(of: tenant, in: state)
        }
    }

    func programViews() -> [ProgramView] {
        state.withLock { state in state.programs.keys.sorted().compactMap { Self.programView($0, in: state) } }
    }

    func programView(_ id: VoucherProgramID) -> ProgramView? {
        state.withLock { Self.programView(id, in: $0) }
    }

    static func programView(_ id: VoucherProgramID, in state: State) -> ProgramView? {
        guard let program = state.programs[id] else { return nil }
        var years: [ProgramYearView] = []
        for (account, balance) in state.ledger.balances {
            guard case .voucherBudget(let p, let year) = account, p == id else { continue }
            years.append(
                ProgramYearView(
                    year: year, budgetFen: program.annualBudget, paidFen: program.annualBudget - balance, leftFen: balance))
        }
        let tenants = state.tenants.values.filter { $0.voucherProgram == id }.map(\.profile.tenant).sorted()
        return ProgramView(program: program, years: years.sorted { $0.year < $1.year }, tenants: tenants)
    }

    /// A tenant's allowances in its programme: every year drawn on, and the current year at its
    /// full cap when not yet drawn on.
    func voucherBalance(tenant: TenantID, nowMs: Int64) -> VoucherBalanceView {
        state.withLock { state in
            guard let record = state.tenants[tenant], let id = record.voucherProgram, let program = state.programs[id] else {
                return VoucherBalanceView(tenant: tenant, program: state.tenants[tenant]?.voucherProgram, allowances: [])
            }
            let cap = program.annualCap(for: record.profile.category)
            var byYear: [Int: AllowanceView] = [:]
            for (account, balance) in state.ledger.balances {
                guard case .voucherAllowance(let p, let t, let year) = account, p == id, t == tenant else { continue }
                byYear[year] = AllowanceView(program: id, year: year, capFen: cap, usedFen: cap - balance, leftFen: balance)
            }
            if let year = try? program.year(atMs: nowMs), byYear[year] == nil {
                byYear[year] = AllowanceView(program: id, year: year, capFen: cap, usedFen: 0, leftFen: cap)
            }
            return VoucherBalanceView(tenant: tenant, program: id, allowances: byYear.values.sorted { $0.year < $1.year })
        }
    }

    /// Records the organisation operating a site (from its enrollment), for non-affiliation.
    func setProvider(site: SiteID, organisation: String?) {
        state.withLock { $0.providers[site] = organisation }
    }

    // MARK: the scheduler's view

    /// The price `tenant` would pay per unit-hour of `cls` at `site` after its voucher, for the
    /// scheduler's `cheapest` preset: the list price minus what the voucher would cover now if
    /// the tenant's allowance and the programme's budget both have room.
    func effectivePrice(tenant: TenantID, site: SiteID, cls: AcceleratorClass, list: Int64, nowMs: Int64) -> Int64 {
        let spec = catalog[cls]
        return state.withLock { state in
            guard list > 0, let record = state.tenants[tenant], let id = record.voucherProgram,
                let program = state.programs[id], let spec
            else { return list }
            let year = try? program.year(atMs: nowMs)
            let budgetLeft = year.map { state.ledger.balances[.voucherBudget(id, year: $0)] ?? program.annualBudget } ?? 0
            let capLeft =
                year.map { state.ledger.balances[.voucherAllowance(id, tenant, year: $0)] ?? program.annualCap(for: record.profile.category) }
                ?? 0
            guard budgetLeft > 0, capLeft > 0 else { return list }
            // Coverage is what matters for a ranking, so the allowance and budget are taken as
            // large enough for this one hour: a nearly exhausted allowance still ranks as covered.
            let redemption = program.redemption(
                for: list, item: .compute(spec.kind, domestic: spec.domestic),
                providerOrganisation: state.providers[site] ?? "", tenant: record.profile, atMs: nowMs,
                budgetLeft: max(budgetLeft, list), tenantCapLeft: max(capLeft, list))
            return list - redemption.amount
        }
    }
}
