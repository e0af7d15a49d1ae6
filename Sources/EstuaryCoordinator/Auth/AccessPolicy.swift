import EstuaryModel

/// Why a principal may not do something; the API answers 403 `forbidden` with this message.
struct Denial: Error, Sendable, Hashable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Who may do what (admin-api.yaml, "Roles"). Pure: each rule takes the principal and what the
/// request touches, and answers with the (possibly narrowed) request or a ``Denial``.
///
/// - `admin`: everything.
/// - `tenant` (subject: a tenant id): submit as that tenant; read, cancel and fetch logs of that
///   tenant's jobs; lists and usage narrowed to it; sees every site (to know where capacity is).
/// - `site-operator` (subject: a site id): read-only; its own site, the jobs placed there, the
///   usage measured there.
enum AccessPolicy {
    static func adminOnly(_ principal: Principal, _ what: String) -> Denial? {
        principal.role == .admin ? nil : Denial("only admin tokens may \(what)")
    }

    /// Whether the role may submit at all (checked before the body is read).
    static func submitAtAll(_ principal: Principal) -> Denial? {
        principal.role == .siteOperator ? Denial("site-operator tokens are read-only; they may not submit jobs") : nil
    }

    /// A submit for `tenant`.
    static func submit(_ principal: Principal, tenant: TenantID) -> Denial? {
        switch principal.role {
        case .admin: return nil
        case .tenant:
            return tenant.rawValue == principal.subject
                ? nil : Denial("a token of tenant \(principal.subject ?? "?") may not submit jobs for tenant \(tenant)")
        case .siteOperator: return submitAtAll(principal)
        }
    }

    /// A job list: a tenant sees only its jobs, a site operator only those placed at its site.
    static func jobList(_ principal: Principal, _ query: JobQuery) -> Result<JobQuery, Denial> {
        var query = query
        switch principal.role {
        case .admin: break
        case .tenant:
            let own = TenantID(rawValue: principal.subject ?? "")
            if let asked = query.tenant, asked != own { return .failure(Denial("a token of tenant \(own) may not list jobs of tenant \(asked)")) }
            query.tenant = own
        case .siteOperator:
            let own = SiteID(rawValue: principal.subject ?? "")
            if let asked = query.site, asked != own { return .failure(Denial("a token of site \(own) may not list jobs of site \(asked)")) }
            query.site = own
        }
        return .success(query)
    }

    /// Reading one job or its logs.
    static func readJob(_ principal: Principal, _ job: JobID, _ scope: JobScope) -> Denial? {
        switch principal.role {
        case .admin: return nil
        case .tenant:
            return scope.tenant.rawValue == principal.subject ? nil : Denial("job \(job) belongs to another tenant")
        case .siteOperator:
            return scope.site?.rawValue == principal.subject ? nil : Denial("job \(job) is not placed at site \(principal.subject ?? "?")")
        }
    }

    static func cancelJob(_ principal: Principal, _ job: JobID, _ scope: JobScope) -> Denial? {
        switch principal.role {
        case .admin: return nil
        case .tenant:
            return scope.tenant.rawValue == principal.subject ? nil : Denial("job \(job) belongs to another tenant")
        case .siteOperator: return Denial("site-operator tokens are read-only; they may not cancel jobs")
        }
    }

    /// A usage query. `job` is the scope of `query.job`, when that job exists.
    static func usage(_ principal: Principal, _ query: UsageQuery, job: JobScope?) -> Result<UsageQuery, Denial> {
        var query = query
        switch principal.role {
        case .admin: break
        case .tenant:
            let own = TenantID(rawValue: principal.subject ?? "")
            if let asked = query.tenant, asked != own { return .failure(Denial("a token of tenant \(own) may not read usage of tenant \(asked)")) }
            if let job, job.tenant != own, let id = query.job { return .failure(Denial("job \(id) belongs to another tenant")) }
            query.tenant = own
        case .siteOperator:
            let own = SiteID(rawValue: principal.subject ?? "")
            if let asked = query.site, asked != own { return .failure(Denial("a token of site \(own) may not read usage of site \(asked)")) }
            query.site = own
        }
        return .success(query)
    }

    /// The sites a principal may see.
    static func sites(_ principal: Principal, _ list: SiteListView) -> SiteListView {
        guard principal.role == .siteOperator else { return list }
        return SiteListView(sites: list.sites.filter { $0.site.id.rawValue == principal.subject })
    }
}
