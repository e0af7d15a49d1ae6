/// One thing worth a line in the append-only audit log: a mutating API call, a refusal, or a
/// mesh event (a certificate renewed, a session refused).
public struct AuditEntry: Sendable, Hashable {
    public var caller: Caller
    /// Dotted verb: `job.submit`, `job.cancel`, `token.create`, `token.revoke`, `site.add`,
    /// `site.revoke`, `site.enroll`, `site.renew`, `auth.denied`, `session.refused` …
    public var action: String
    /// What it was done to: `job:<id>`, `token:<id>`, `site:<id>`, or a request line.
    public var target: String
    public var outcome: AuditOutcome
    public var detail: String

    public init(caller: Caller, action: String, target: String, outcome: AuditOutcome, detail: String = "") {
        self.caller = caller
        self.action = action
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }
}

/// How it ended: stored as `ok`, `denied` or `failed: <reason>`.
public enum AuditOutcome: Sendable, Hashable, CustomStringConvertible {
    case ok
    case denied
    case failed(String)

    public var description: String {
        switch self {
        case .ok: "ok"
        case .denied: "denied"
        case .failed(let reason): "failed: \(reason)"
        }
    }
}
