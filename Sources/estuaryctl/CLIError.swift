import EstuaryModel

/// What went wrong in a command, and the process exit status it maps to.
///
/// | status | meaning |
/// |---|---|
/// | 0 | ok |
/// | 1 | server or other error |
/// | 2 | usage error (bad flags or arguments) |
/// | 3 | not found |
/// | 4 | invalid input: a job file, or a request the coordinator rejected as invalid |
/// | 5 | coordinator unreachable (or its TLS certificate not trusted) |
/// | 6 | `job submit --wait`: the job ended other than `succeeded` |
/// | 7 | not authenticated: no API token, or one that is unknown, expired or revoked (401) |
/// | 8 | forbidden: the token's role may not do this (403) |
/// | 9 | rate limited (429); retry later |
enum CLIError: Error, CustomStringConvertible {
    /// The coordinator answered with an error body; `hint` says what to do about it.
    case api(status: Int, body: APIErrorBody, hint: String? = nil)
    /// The coordinator answered with something that is not the API (a proxy page, another service).
    case unexpectedResponse(status: Int, detail: String)
    case unreachable(url: String, reason: String)
    /// The TLS handshake failed: most often a CA that did not sign the coordinator's certificate.
    case tls(url: String, reason: String)
    /// The address, CA, token or config file settings are unusable.
    case configuration(String)
    case invalidJobFile(path: String, JobFileErrorLines)
    case other(String)
    /// Nothing to show, said in the command's own words (a bill for a period without charges).
    case nothing(String)
    /// `--wait` saw the job end in `state`.
    case jobDidNotSucceed(JobID, JobState)

    /// Lines of a job-file problem list (kept separate so this file needs no EstuaryConfig import).
    typealias JobFileErrorLines = [String]

    var exitCode: Int32 {
        switch self {
        case .api(let status, let body, _):
            if status == 401 { return ExitStatus.unauthenticated }
            if status == 403 { return ExitStatus.forbidden }
            if status == 429 { return ExitStatus.rateLimited }
            if status == 404 || body.error.code == "not_found" { return ExitStatus.notFound }
            if status == 400 || body.error.code == "invalid_request" { return ExitStatus.invalidInput }
            return ExitStatus.failure
        case .unexpectedResponse, .other: return ExitStatus.failure
        case .nothing: return ExitStatus.notFound
        case .unreachable, .tls: return ExitStatus.unreachable
        case .configuration: return ExitStatus.usage
        case .invalidJobFile: return ExitStatus.invalidInput
        case .jobDidNotSucceed: return ExitStatus.jobFailed
        }
    }

    var description: String {
        switch self {
        case .api(let status, let body, let hint):
            var lines = ["error: \(body.error.message) (HTTP \(status), \(body.error.code))"]
            if let fields = body.error.fields, !fields.isEmpty {
                lines = ["error: the coordinator rejected the request (HTTP \(status)):"]
                lines += fields.map { "  \($0.field): \($0.message)" }
            }
            if let hint { lines.append("  " + hint) }
            return lines.joined(separator: "\n")
        case .unexpectedResponse(let status, let detail):
            return "error: unexpected response from the coordinator (HTTP \(status)): \(detail)"
        case .unreachable(let url, let reason):
            return """
                error: cannot reach the coordinator at \(url) (\(reason)).
                  Is it running? For a local mesh start one with `scripts/dev-mesh.sh`; otherwise check the
                  address given by --api, ESTUARY_API or `api` in the config file.
                """
        case .tls(let url, let reason):
            return """
                error: no trusted TLS connection to \(url) (\(reason)).
                  Is --ca (or ESTUARY_CA, or `ca` in the config file) the coordinator's CA certificate,
                  <data-dir>/tls/ca.pem, and does the URL name a host in its certificate?
                """
        case .configuration(let message):
            return "error: \(message)"
        case .invalidJobFile(let path, let lines):
            return (["error: \(path) is not a valid job file:"] + lines.map { "  \($0)" }).joined(separator: "\n")
        case .other(let message):
            return "error: \(message)"
        case .nothing(let message):
            return message
        case .jobDidNotSucceed(let id, let state):
            return "job \(id) ended \(state)"
        }
    }
}

enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let notFound: Int32 = 3
    static let invalidInput: Int32 = 4
    static let unreachable: Int32 = 5
    static let jobFailed: Int32 = 6
    static let unauthenticated: Int32 = 7
    static let forbidden: Int32 = 8
    static let rateLimited: Int32 = 9
}
