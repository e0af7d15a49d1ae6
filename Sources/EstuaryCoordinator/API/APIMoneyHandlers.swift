import EstuaryLedger
import EstuaryModel
import Hummingbird

/// The handlers of the money routes. Writes are admin-only; a tenant token reads its own
/// wallet, vouchers and bills; a site-operator token reads its own site's statement; prices and
/// voucher programmes are readable by every role (they are what the mesh charges).
struct APIMoneyHandlers: Sendable {
    let money: (any MoneyBackend)?
    let trust: TrustService
    let body: BodyReader

    func handle(_ route: MoneyRoute, _ request: Request, _ principal: Principal, _ caller: Caller) async throws -> Response {
        guard let money else { throw BackendError.unavailable("this coordinator has no ledger") }
        if route.isMutating, let denial = AccessPolicy.adminOnly(principal, "change \(route.pattern)") {
            throw APIError.forbidden(denial, action: route.action, target: route.target)
        }
        switch route {
        case .listTenants:
            try deny(principal, unless: principal.role == .admin, "only admin tokens may list tenants", route)
            return APIJSON.response(try await money.tenants())
        case .getTenant(let tenant):
            try ownTenant(principal, tenant, route)
            guard let view = try await money.tenant(tenant) else { throw BackendError.notFound("tenant \(tenant)") }
            return APIJSON.response(view)
        case .tenantVouchers(let tenant):
            try ownTenant(principal, tenant, route)
            return APIJSON.response(try await money.voucherBalance(tenant))
        case .upsertTenant:
            let wanted = try await body.decode(TenantRequest.self, request)
            let (view, created) = try await money.upsertTenant(wanted)
            await audited(caller, route, target: "tenant:\(view.tenant)", detail: "credit_limit_fen=\(view.creditLimitFen.map(String.init) ?? "none")")
            return APIJSON.response(view, status: created ? .created : .ok)
        case .topUp(let tenant):
            let wanted = try await body.decode(TopUpRequest.self, request)
            let view = try await money.topUp(tenant, wanted)
            await audited(caller, route, detail: "amount_fen=\(wanted.amountFen) reference=\(wanted.reference)")
            return APIJSON.response(view)
        case .getPrices(let site):
            guard let view = try await money.prices(site) else { throw BackendError.notFound("prices of site \(site)") }
            return APIJSON.response(view)
        case .setPrices(let site):
            let wanted = try await body.decode(PriceSetRequest.self, request)
            let version = try await money.setPrices(site, wanted)
            await audited(caller, route, detail: "version=\(version.version) effective_from_ms=\(version.effectiveFromMs)")
            return APIJSON.response(version, status: .created)
        case .listPrograms:
            return APIJSON.response(try await money.programs())
        case .getProgram(let id):
            guard let view = try await money.program(id) else { throw BackendError.notFound("voucher program \(id)") }
            return APIJSON.response(view)
        case .createProgram:
            let wanted = try await body.decode(VoucherProgram.self, request)
            let (view, created) = try await money.createProgram(wanted)
            await audited(caller, route, target: "voucher-program:\(wanted.id)", detail: created ? "created" : "unchanged")
            return APIJSON.response(view, status: created ? .created : .ok)
        case .grant:
            let wanted = try await body.decode(GrantRequest.self, request)
            guard case .grant(let program) = route else { throw APIError.internalError() }
            let view = try await money.grant(program, wanted)
            await audited(caller, route, detail: "tenant=\(wanted.tenant)")
            return APIJSON.response(view)
        case .bill:
            var parameters = APIParameters(request)
            let asked = parameters.identifier("tenant", as: TenantID.self)
            let periodText = parameters.text("period", maxLength: 16)
            try parameters.check()
            let tenant: TenantID
            switch (principal.role, asked) {
            case (.tenant, _):
                tenant = TenantID(rawValue: principal.subject ?? "")
                if let asked, asked != tenant {
                    throw APIError.forbidden(
                        Denial("a token of tenant \(tenant) may not read the bill of tenant \(asked)"), action: route.action,
                        target: "tenant:\(asked)")
                }
            case (_, let asked?):
                try deny(principal, unless: principal.role == .admin, "only admin and tenant tokens may read bills", route)
                tenant = asked
            case (_, nil):
                throw APIError.invalid(field: "tenant", "is required (the tenant whose bill to show)")
            }
            let period: BillingPeriod
            if let periodText { period = try Self.period(periodText) } else { period = try await money.currentPeriod() }
            return APIJSON.response(try await money.bill(tenant: tenant, period: period))
        case .listSettlements:
            try deny(principal, unless: principal.role == .admin, "only admin tokens may list settlements", route)
            return APIJSON.response(try await money.settlements())
        case .settle:
            let wanted = try await body.decode(SettleRequest.self, request)
            let (view, created) = try await money.settle(wanted.period)
            await audited(
                caller, route, target: "period:\(wanted.period)",
                detail: created ? "closed; reconciliation \(view.report.reconciliation.ok ? "ok" : "FAILED")" : "already closed")
            return APIJSON.response(view, status: created ? .created : .ok)
        case .getSettlement(let text):
            try deny(principal, unless: principal.role == .admin, "only admin tokens may read a whole settlement", route)
            return APIJSON.response(try await money.settlement(try Self.period(text)))
        case .statement(let text, let site):
            let period = try Self.period(text)
            if principal.role != .admin, !(principal.role == .siteOperator && principal.subject == site.rawValue) {
                throw APIError.forbidden(
                    Denial("only admin tokens and site \(site)'s operator may read its statement"), action: route.action,
                    target: route.target)
            }
            guard site.isWellFormed else { throw BackendError.notFound("site \(site)") }
            var parameters = APIParameters(request)
            let format = parameters.text("format", maxLength: 8)
            try parameters.check()
            switch format {
            case "csv":
                let text = try await money.statementCSV(period: period, site: site)
                return Response(
                    status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            case nil, "json":
                return APIJSON.response(try await money.statement(period: period, site: site))
            default:
                throw APIError.invalid(field: "format", "must be csv or json")
            }
        case .invoice(let text, let tenant):
            let period = try Self.period(text)
            try ownTenant(principal, tenant, route)
            return APIJSON.response(try await money.bill(tenant: tenant, period: period))
        case .disbursement(let text, let program):
            try deny(principal, unless: principal.role == .admin, "only admin tokens may read disbursements", route)
            let view = try await money.settlement(try Self.period(text))
            guard let report = view.report.disbursements.first(where: { $0.program == program }) else {
                throw BackendError.notFound("a disbursement of voucher program \(program) in \(view.period)")
            }
            return APIJSON.response(report)
        }
    }

    static func period(_ text: String) throws -> BillingPeriod {
        do {
            return try BillingPeriod(parsing: text)
        } catch {
            throw APIError.invalid(field: "period", "\(error)")
        }
    }

    private func deny(_ principal: Principal, unless allowed: Bool, _ message: String, _ route: MoneyRoute) throws {
        if !allowed { throw APIError.forbidden(Denial(message), action: route.action, target: route.target) }
    }

    /// Admins read any tenant; a tenant token only its own; site operators none.
    private func ownTenant(_ principal: Principal, _ tenant: TenantID, _ route: MoneyRoute) throws {
        switch principal.role {
        case .admin: return
        case .tenant where principal.subject == tenant.rawValue: return
        default:
            throw APIError.forbidden(
                Denial("a \(principal.role.rawValue) token may not read tenant \(tenant)'s money"), action: route.action,
                target: route.target)
        }
    }

    private func audited(_ caller: Caller, _ route: MoneyRoute, target: String? = nil, detail: String) async {
        await trust.audit(
            AuditEntry(caller: caller, action: route.action, target: target ?? route.target, outcome: .ok, detail: detail))
    }
}
