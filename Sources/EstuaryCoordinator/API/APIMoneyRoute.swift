import EstuaryLedger
import EstuaryModel
import Hummingbird

/// The money routes (admin-api.yaml, "Money"): tenants and wallets, prices, voucher programmes,
/// bills and settlement. Kept apart from ``APIRoute`` so that the job and trust routes read as
/// before; ``APIRoute/money(_:)`` carries one of these.
enum MoneyRoute: Sendable, Hashable {
    case listTenants
    case upsertTenant
    case getTenant(TenantID)
    case topUp(TenantID)
    case tenantVouchers(TenantID)
    case getPrices(SiteID)
    case setPrices(SiteID)
    case listPrograms
    case createProgram
    case getProgram(VoucherProgramID)
    case grant(VoucherProgramID)
    case bill
    case listSettlements
    case settle
    case getSettlement(String)
    case statement(String, SiteID)
    case invoice(String, TenantID)
    case disbursement(String, VoucherProgramID)

    /// The routes of `segments` (the path split at '/'), by method; nil when no money route has
    /// this shape.
    static func match(_ segments: [String]) -> [HTTPRequest.Method: MoneyRoute]? {
        guard segments.count >= 2, segments[0] == "v1" else { return nil }
        let rest = Array(segments.dropFirst())
        switch (rest.count, rest[0]) {
        case (1, "tenants"): return [.get: .listTenants, .post: .upsertTenant]
        case (2, "tenants"): return [.get: .getTenant(TenantID(rawValue: rest[1]))]
        case (3, "tenants") where rest[2] == "top-up": return [.post: .topUp(TenantID(rawValue: rest[1]))]
        case (3, "tenants") where rest[2] == "vouchers": return [.get: .tenantVouchers(TenantID(rawValue: rest[1]))]
        case (2, "prices"):
            let site = SiteID(rawValue: rest[1])
            return [.get: .getPrices(site), .post: .setPrices(site)]
        case (1, "voucher-programs"): return [.get: .listPrograms, .post: .createProgram]
        case (2, "voucher-programs"): return [.get: .getProgram(VoucherProgramID(rawValue: rest[1]))]
        case (3, "voucher-programs") where rest[2] == "grants": return [.post: .grant(VoucherProgramID(rawValue: rest[1]))]
        case (1, "bill"): return [.get: .bill]
        case (1, "settlements"): return [.get: .listSettlements, .post: .settle]
        case (2, "settlements"): return [.get: .getSettlement(rest[1])]
        case (4, "settlements") where rest[2] == "statements": return [.get: .statement(rest[1], SiteID(rawValue: rest[3]))]
        case (4, "settlements") where rest[2] == "invoices": return [.get: .invoice(rest[1], TenantID(rawValue: rest[3]))]
        case (4, "settlements") where rest[2] == "disbursements":
            return [.get: .disbursement(rest[1], VoucherProgramID(rawValue: rest[3]))]
        default: return nil
        }
    }

    var pattern: String {
        switch self {
        case .listTenants, .upsertTenant: "/v1/tenants"
        case .getTenant: "/v1/tenants/{tenant}"
        case .topUp: "/v1/tenants/{tenant}/top-up"
        case .tenantVouchers: "/v1/tenants/{tenant}/vouchers"
        case .getPrices, .setPrices: "/v1/prices/{site}"
        case .listPrograms, .createProgram: "/v1/voucher-programs"
        case .getProgram: "/v1/voucher-programs/{program}"
        case .grant: "/v1/voucher-programs/{program}/grants"
        case .bill: "/v1/bill"
        case .listSettlements, .settle: "/v1/settlements"
        case .getSettlement: "/v1/settlements/{period}"
        case .statement: "/v1/settlements/{period}/statements/{site}"
        case .invoice: "/v1/settlements/{period}/invoices/{tenant}"
        case .disbursement: "/v1/settlements/{period}/disbursements/{program}"
        }
    }

    var action: String {
        switch self {
        case .listTenants, .getTenant: "tenant.read"
        case .upsertTenant: "tenant.upsert"
        case .topUp: "wallet.top_up"
        case .tenantVouchers: "voucher.balance"
        case .getPrices: "price.read"
        case .setPrices: "price.set"
        case .listPrograms, .getProgram: "voucher_program.read"
        case .createProgram: "voucher_program.create"
        case .grant: "voucher.grant"
        case .bill: "bill.read"
        case .listSettlements, .getSettlement, .statement, .invoice, .disbursement: "settlement.read"
        case .settle: "settlement.close"
        }
    }

    var isMutating: Bool {
        switch self {
        case .upsertTenant, .topUp, .setPrices, .createProgram, .grant, .settle: true
        default: false
        }
    }

    var target: String {
        switch self {
        case .getTenant(let id), .topUp(let id), .tenantVouchers(let id): "tenant:\(id)"
        case .getPrices(let id), .setPrices(let id): "prices:\(id)"
        case .getProgram(let id), .grant(let id): "voucher-program:\(id)"
        case .getSettlement(let period): "period:\(period)"
        case .statement(let period, let site): "period:\(period)/site:\(site)"
        case .invoice(let period, let tenant): "period:\(period)/tenant:\(tenant)"
        case .disbursement(let period, let program): "period:\(period)/voucher-program:\(program)"
        default: pattern
        }
    }
}
