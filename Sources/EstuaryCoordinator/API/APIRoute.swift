import EstuaryModel
import Hummingbird

/// The API's routes, and the pure matching of a method and path to one of them.
///
/// Matching is separate from handling so that 404 (no such path) and 405 (path exists, other
/// method) are decided in one place, with the `Allow` list a 405 must carry.
enum APIRoute: Sendable, Hashable {
    case health
    case ready
    case submitJob
    case listJobs
    case getJob(JobID)
    case cancelJob(JobID)
    case jobLogs(JobID)
    case explainJob(JobID)
    case explainSpec
    case capacity
    case usage
    case sites
    case addSite
    case revokeSite(SiteID)
    case enroll
    case createToken
    case listTokens
    case revokeToken(String)
    case audit
    case meshMembers
    case meshCapacity
    /// Tenants, prices, vouchers, bills and settlement (``MoneyRoute``).
    case money(MoneyRoute)

    enum Match: Sendable, Hashable {
        case route(APIRoute)
        case methodNotAllowed(allowed: [HTTPRequest.Method])
        case notFound
    }

    /// Matches `path` (no query string) and `method` against the route table.
    static func match(method: HTTPRequest.Method, path: String) -> Match {
        let segments = path.split(separator: "/").map(String.init)
        // Each path shape lists its routes by method.
        let byMethod: [HTTPRequest.Method: APIRoute]
        switch segments.count {
        case 1 where segments[0] == "healthz": byMethod = [.get: .health]
        case 1 where segments[0] == "readyz": byMethod = [.get: .ready]
        case 2 where segments == ["v1", "jobs"]: byMethod = [.get: .listJobs, .post: .submitJob]
        case 2 where segments == ["v1", "usage"]: byMethod = [.get: .usage]
        case 2 where segments == ["v1", "capacity"]: byMethod = [.get: .capacity]
        case 2 where segments == ["v1", "explain"]: byMethod = [.post: .explainSpec]
        case 2 where segments == ["v1", "sites"]: byMethod = [.get: .sites, .post: .addSite]
        case 2 where segments == ["v1", "enroll"]: byMethod = [.post: .enroll]
        case 2 where segments == ["v1", "tokens"]: byMethod = [.get: .listTokens, .post: .createToken]
        case 2 where segments == ["v1", "audit"]: byMethod = [.get: .audit]
        case 3 where segments == ["v1", "mesh", "members"]: byMethod = [.get: .meshMembers]
        case 3 where segments == ["v1", "mesh", "capacity"]: byMethod = [.get: .meshCapacity]
        case 3 where segments[0] == "v1" && segments[1] == "jobs":
            byMethod = [.get: .getJob(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "jobs" && segments[3] == "cancel":
            byMethod = [.post: .cancelJob(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "jobs" && segments[3] == "logs":
            byMethod = [.get: .jobLogs(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "jobs" && segments[3] == "explain":
            byMethod = [.get: .explainJob(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "sites" && segments[3] == "revoke":
            byMethod = [.post: .revokeSite(SiteID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "tokens" && segments[3] == "revoke":
            byMethod = [.post: .revokeToken(segments[2])]
        default:
            guard let money = MoneyRoute.match(segments) else { return .notFound }
            byMethod = money.mapValues { .money($0) }
        }
        if let route = byMethod[method] { return .route(route) }
        return .methodNotAllowed(allowed: byMethod.keys.sorted { $0.rawValue < $1.rawValue })
    }

    /// The route's path pattern, for logs and metrics (ids are not logged as part of the route).
    var pattern: String {
        switch self {
        case .health: "/healthz"
        case .ready: "/readyz"
        case .submitJob, .listJobs: "/v1/jobs"
        case .getJob: "/v1/jobs/{id}"
        case .cancelJob: "/v1/jobs/{id}/cancel"
        case .jobLogs: "/v1/jobs/{id}/logs"
        case .explainJob: "/v1/jobs/{id}/explain"
        case .explainSpec: "/v1/explain"
        case .capacity: "/v1/capacity"
        case .usage: "/v1/usage"
        case .sites, .addSite: "/v1/sites"
        case .revokeSite: "/v1/sites/{id}/revoke"
        case .enroll: "/v1/enroll"
        case .createToken, .listTokens: "/v1/tokens"
        case .revokeToken: "/v1/tokens/{id}/revoke"
        case .audit: "/v1/audit"
        case .meshMembers: "/v1/mesh/members"
        case .meshCapacity: "/v1/mesh/capacity"
        case .money(let route): route.pattern
        }
    }

    /// How the route is let in: probes need nothing, enrollment carries its own join token,
    /// everything else a bearer API token.
    enum Admission: Sendable, Hashable {
        case probe
        case joinToken
        case bearer
    }

    var admission: Admission {
        switch self {
        case .health, .ready: .probe
        case .enroll: .joinToken
        default: .bearer
        }
    }

    /// The verb the audit log uses for this route.
    var action: String {
        switch self {
        case .health, .ready: "health.read"
        case .submitJob: "job.submit"
        case .listJobs: "job.list"
        case .getJob: "job.get"
        case .cancelJob: "job.cancel"
        case .jobLogs: "job.logs"
        case .explainJob, .explainSpec: "job.explain"
        case .capacity: "capacity.read"
        case .usage: "usage.read"
        case .sites: "site.list"
        case .addSite: "site.add"
        case .revokeSite: "site.revoke"
        case .enroll: "site.enroll"
        case .createToken: "token.create"
        case .listTokens: "token.list"
        case .revokeToken: "token.revoke"
        case .audit: "audit.read"
        case .meshMembers: "mesh.members"
        case .meshCapacity: "capacity.read"
        case .money(let route): route.action
        }
    }

    /// Whether the route changes state (and so is audited whatever its outcome).
    var isMutating: Bool {
        switch self {
        case .submitJob, .cancelJob, .addSite, .revokeSite, .enroll, .createToken, .revokeToken: true
        case .money(let route): route.isMutating
        default: false
        }
    }

    /// What the route acts on, as the audit log names it.
    var target: String {
        switch self {
        case .getJob(let id), .cancelJob(let id), .jobLogs(let id): "job:\(id)"
        case .revokeSite(let id): "site:\(id)"
        case .revokeToken(let id): "token:\(id)"
        case .money(let route): route.target
        default: pattern
        }
    }
}
