import EstuaryModel

/// Why a job file could not be turned into a ``JobSpec``, in words a user can act on.
///
/// Field problems are named by their path in the file (`resources.count`, `env.EPOCHS`), the
/// same names the API uses, and all problems found are reported together.
public enum JobFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text is not TOML. Line and column are 1-based, as an editor shows them.
    case syntax(line: Int, column: Int, message: String)
    /// The TOML is well formed but does not describe a valid job: every problem, in field order.
    case invalid([FieldError])

    /// Every problem as a field error; a syntax error is reported against its `line L, column C`.
    public var problems: [FieldError] {
        switch self {
        case .syntax(let line, let column, let message):
            [FieldError(field: "line \(line), column \(column)", message: message)]
        case .invalid(let problems):
            problems
        }
    }

    /// One problem per line, e.g. `resources.count: expected an integer, found a string`.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
