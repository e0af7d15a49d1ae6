/// Identifiers used across the mesh. Each is a validated string wrapper so that a site id
/// can never be passed where a job id is expected.

/// What every Estuary identifier shares: a non-empty string of `[A-Za-z0-9._-]`, at most 128
/// characters, so that it is safe in a URL path, a file name and a log line.
public protocol EstuaryIdentifier: RawRepresentable, Hashable, Sendable, Codable, Comparable,
    CustomStringConvertible, ExpressibleByStringLiteral where RawValue == String
{
    init(rawValue: String)
}

extension EstuaryIdentifier {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether `rawValue` is a well-formed identifier.
    public var isWellFormed: Bool { Identifiers.isWellFormed(rawValue) }
}

public enum Identifiers {
    public static let maxLength = 128

    public static func isWellFormed(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= maxLength else { return false }
        return value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."):
                return true
            default:
                return false
            }
        } && value != "." && value != ".."
    }
}

public struct SiteID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A coordinator of the mesh: its `--coordinator-id`, which its certificate names.
public struct CoordinatorID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct JobID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct TenantID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// An accelerator class from `Agents/catalog.toml`: `nvidia-h100`, `ascend-910b`, `cpu-x86-64` …
/// Lower-case letters, digits and dashes.
public struct AcceleratorClass: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public var isWellFormedClassName: Bool {
        guard let first = rawValue.utf8.first, rawValue.utf8.count <= 64 else { return false }
        guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return rawValue.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-")
        }
    }
}

/// The id of one usage record. Agents derive it from the job id and attempt, so a record
/// resent after a crash carries the same id and is counted once.
public struct UsageRecordID: EstuaryIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static func forJob(_ job: JobID, attempt: Int) -> UsageRecordID {
        UsageRecordID(rawValue: "u-\(job.rawValue)-\(attempt)")
    }
}
