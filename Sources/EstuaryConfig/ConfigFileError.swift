import EstuaryModel
import TOMLKit

/// What kind of configuration file an error is about, for its messages.
public protocol ConfigFileKind: Sendable {
    /// How an operator calls the file: "catalog", "scheduler policy", "profile".
    static var noun: String { get }
}

/// Why a TOML configuration file (a site profile, the accelerator catalog, the scheduler
/// policy) could not be used, in words an operator can act on. Field problems are named by
/// their path in the file (`pools[1].count`, `class[3].fp16_tflops`, `tenants.acme.weight`),
/// all together.
public enum ConfigFileError<Kind: ConfigFileKind>: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not TOML. Line and column are 1-based.
    case syntax(line: Int, column: Int, message: String)
    /// Well-formed TOML that is not a valid file of its kind: every problem, in file order.
    case invalid([FieldError])

    /// Every problem as a field error.
    public var problems: [FieldError] {
        switch self {
        case .unreadable(let path, let reason):
            [FieldError(field: path, message: "cannot read the \(Kind.noun): \(reason)")]
        case .syntax(let line, let column, let message):
            [FieldError(field: "line \(line), column \(column)", message: message)]
        case .invalid(let problems):
            problems
        }
    }

    /// One problem per line, e.g. `pools[1].count: must be a positive integer`.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

public enum SiteProfileFile: ConfigFileKind { public static let noun = "profile" }
public enum CatalogFile: ConfigFileKind { public static let noun = "catalog" }
public enum SchedulerPolicyFile: ConfigFileKind { public static let noun = "scheduler policy" }

/// Why a site profile could not be used.
public typealias SiteProfileError = ConfigFileError<SiteProfileFile>
/// Why an accelerator catalog (`Agents/catalog.toml` or `--catalog FILE`) could not be used.
public typealias CatalogError = ConfigFileError<CatalogFile>
/// Why a scheduler policy file (`--policy FILE`) could not be used.
public typealias SchedulerPolicyError = ConfigFileError<SchedulerPolicyFile>

/// One pass over one kind of TOML document that collects every problem instead of stopping
/// at the first; `parse` and `load` are the same for every kind.
protocol TOMLDocumentReader: TOMLFieldReading {
    associatedtype Value
    associatedtype Kind: ConfigFileKind
    init()
    mutating func read(_ root: TOMLTable) -> Value
}

extension TOMLDocumentReader {
    static func parse(_ text: String) throws(ConfigFileError<Kind>) -> Value {
        let root: TOMLTable
        do {
            root = try TOMLText.parse(text)
        } catch {
            throw .syntax(line: error.line, column: error.column, message: error.message)
        }
        var reader = Self()
        let value = reader.read(root)
        guard reader.problems.isEmpty else { throw .invalid(reader.problems) }
        return value
    }

    static func load(path: String) throws(ConfigFileError<Kind>) -> Value {
        let text: String
        do {
            text = try TOMLText.readFile(path)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
        return try parse(text)
    }
}
