import EstuaryModel

/// Why a scheduler policy file (`--policy FILE`) could not be used. Field problems are named by
/// their path (`tenants.acme.weight`, `latency[2].ms`), all together.
public enum SchedulerPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not TOML. Line and column are 1-based.
    case syntax(line: Int, column: Int, message: String)
    /// Well-formed TOML that is not a valid policy: every problem, in file order.
    case invalid([FieldError])

    /// Every problem as a field error.
    public var problems: [FieldError] {
        switch self {
        case .unreadable(let path, let reason):
            [FieldError(field: path, message: "cannot read the scheduler policy: \(reason)")]
        case .syntax(let line, let column, let message):
            [FieldError(field: "line \(line), column \(column)", message: message)]
        case .invalid(let problems):
            problems
        }
    }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
