import EstuaryModel

/// Why a site profile could not be used, in words an operator can act on. Field problems are
/// named by their path in the file (`pools[1].count`, `coordinator.address`), all together.
public enum SiteProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not TOML. Line and column are 1-based.
    case syntax(line: Int, column: Int, message: String)
    /// Well-formed TOML that does not describe a valid site: every problem, in file order.
    case invalid([FieldError])

    /// Every problem as a field error.
    public var problems: [FieldError] {
        switch self {
        case .unreadable(let path, let reason):
            [FieldError(field: path, message: "cannot read the profile: \(reason)")]
        case .syntax(let line, let column, let message):
            [FieldError(field: "line \(line), column \(column)", message: message)]
        case .invalid(let problems):
            problems
        }
    }

    /// One problem per line, e.g. `pools[1].count: must be a positive integer`.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
