import EstuaryModel

/// Why an accelerator catalog (`Agents/catalog.toml` or `--catalog FILE`) could not be used.
/// Field problems are named by their path (`class[3].fp16_tflops`), all together.
public enum CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not TOML. Line and column are 1-based.
    case syntax(line: Int, column: Int, message: String)
    /// Well-formed TOML that is not a valid catalog: every problem, in file order.
    case invalid([FieldError])

    /// Every problem as a field error.
    public var problems: [FieldError] {
        switch self {
        case .unreadable(let path, let reason):
            [FieldError(field: path, message: "cannot read the catalog: \(reason)")]
        case .syntax(let line, let column, let message):
            [FieldError(field: "line \(line), column \(column)", message: message)]
        case .invalid(let problems):
            problems
        }
    }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
