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
    case usage
    case sites

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
        case 2 where segments == ["v1", "sites"]: byMethod = [.get: .sites]
        case 3 where segments[0] == "v1" && segments[1] == "jobs":
            byMethod = [.get: .getJob(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "jobs" && segments[3] == "cancel":
            byMethod = [.post: .cancelJob(JobID(rawValue: segments[2]))]
        case 4 where segments[0] == "v1" && segments[1] == "jobs" && segments[3] == "logs":
            byMethod = [.get: .jobLogs(JobID(rawValue: segments[2]))]
        default: return .notFound
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
        case .usage: "/v1/usage"
        case .sites: "/v1/sites"
        }
    }
}
