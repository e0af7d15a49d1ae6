/// The life of a job. Every transition is recorded with its time and cause.
///
/// `submitted → queued → placed → starting → running → succeeded | failed | cancelled | lost`
///
/// A placed job whose site rejects it, or a job whose site never confirmed it, goes back to
/// `queued`; `cancelled` and `lost` may be reached from any non-terminal state.
public enum JobState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case submitted
    case queued
    case placed
    case starting
    case running
    case succeeded
    case failed
    case cancelled
    case lost

    public var description: String { rawValue }

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .lost: true
        default: false
        }
    }

    /// Whether the job holds capacity at a site in this state.
    public var holdsCapacity: Bool {
        switch self {
        case .placed, .starting, .running: true
        default: false
        }
    }

    /// Order used to ignore stale updates that arrive late: an update never moves a job
    /// backwards, except a site's rejection (`placed → queued`).
    public var progress: Int {
        switch self {
        case .submitted: 0
        case .queued: 1
        case .placed: 2
        case .starting: 3
        case .running: 4
        case .succeeded, .failed, .cancelled, .lost: 5
        }
    }

    /// Whether the state machine allows `self → next`.
    public func canTransition(to next: JobState) -> Bool {
        if isTerminal { return false }
        switch (self, next) {
        case (_, .cancelled), (_, .lost): return true
        case (.submitted, .queued): return true
        case (.queued, .placed): return true
        case (.placed, .queued), (.starting, .queued): return true  // rejected by the site: place again
        case (.placed, .starting), (.placed, .running): return true
        case (.starting, .running): return true
        case (.placed, .succeeded), (.placed, .failed): return true  // a job that ended before its start was reported
        case (.starting, .succeeded), (.starting, .failed): return true
        case (.running, .succeeded), (.running, .failed): return true
        default: return false
        }
    }
}
