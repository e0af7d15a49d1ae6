import EstuaryLedger
import EstuaryModel

/// What the money routes need: tenants and wallets, prices, voucher programmes, bills and
/// settlement. Separate from ``CoordinatorBackend`` so that a backend without a ledger (the
/// API tests' in-memory one) answers these routes with 503 instead of having to fake money.
public protocol MoneyBackend: Sendable {
    func tenants() async throws -> TenantListView
    func tenant(_ id: TenantID) async throws -> TenantView?
    /// Creates or updates a registered tenant; `created` is false for an update.
    func upsertTenant(_ request: TenantRequest) async throws -> (view: TenantView, created: Bool)
    func topUp(_ tenant: TenantID, _ request: TopUpRequest) async throws -> TenantView
    func voucherBalance(_ tenant: TenantID) async throws -> VoucherBalanceView
    func prices(_ site: SiteID) async throws -> PriceHistoryView?
    func setPrices(_ site: SiteID, _ request: PriceSetRequest) async throws -> PriceVersion
    func programs() async throws -> ProgramListView
    func program(_ id: VoucherProgramID) async throws -> ProgramView?
    func createProgram(_ program: VoucherProgram) async throws -> (view: ProgramView, created: Bool)
    func grant(_ program: VoucherProgramID, _ request: GrantRequest) async throws -> TenantView
    /// Usage records with what each cost.
    func meteredUsage(_ query: UsageQuery) async throws -> MeteredUsageView
    /// A tenant's invoice for a period (provisional while the period is open).
    func bill(tenant: TenantID, period: BillingPeriod) async throws -> TenantInvoice
    /// Closes a period (idempotent) and returns its reports; `created` is false when it was closed before.
    func settle(_ period: BillingPeriod) async throws -> (view: SettlementView, created: Bool)
    /// A period's reports: the stored ones once closed, else computed now.
    func settlement(_ period: BillingPeriod) async throws -> SettlementView
    func settlements() async throws -> SettlementListView
    /// One site's statement for a period (provisional while the period is open).
    func statement(period: BillingPeriod, site: SiteID) async throws -> SiteStatement
    /// One site's charges in a period as CSV (one row per rated usage record).
    func statementCSV(period: BillingPeriod, site: SiteID) async throws -> String
    /// The current billing period (the coordinator's clock and billing time zone).
    func currentPeriod() async throws -> BillingPeriod
}

extension CoordinatorBackend {
    /// No ledger unless the backend has one.
    public var money: (any MoneyBackend)? { nil }
}
