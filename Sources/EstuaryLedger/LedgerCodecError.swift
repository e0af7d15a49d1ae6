/// Why a stored posting list or charge could not be read back by `LedgerCodec`.
///
/// Every case says where: a byte offset from the start of the text (UTF-8 bytes) and, where there
/// is one, the field, named as in the JSON form (`postings[2].amount`, `lines[0].price_fen`).
/// Any of these on a row the store wrote itself means the row was altered or truncated: restore
/// it from a backup or the event log rather than edit it by hand.
public enum LedgerCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text is empty (a transaction has at least one posting; a charge starts with a tag).
    case empty
    /// A charge whose format tag (the text before the first `|`) this build does not read.
    case unknownFormat(tag: String)
    /// The text ends where `field` should start.
    case truncated(field: String, offset: Int)
    /// More text after the last field.
    case trailingData(offset: Int)
    /// A posting list ending in `;`.
    case trailingSeparator(offset: Int)
    /// A posting with no `=` between its account and its amount.
    case missingEquals(field: String, offset: Int)
    /// A field that may not be empty is.
    case emptyField(field: String, offset: Int)
    /// An account name that `AccountID(parsing:)` refuses, with its reason.
    case invalidAccount(field: String, offset: Int, reason: AccountIDError)
    /// An identifier that is not 1–128 characters of `[A-Za-z0-9._-]` (or is `.` or `..`).
    case invalidIdentifier(field: String, offset: Int, value: String)
    /// A name that no case of the field's enumeration has.
    case unknownValue(field: String, offset: Int, value: String)
    /// A byte that is not a decimal digit where the number needs one.
    case nonDigit(field: String, offset: Int)
    /// A number written with `+`; positive numbers have no sign.
    case leadingPlus(field: String, offset: Int)
    /// A number with a leading zero (`007`); numbers are written in their shortest form.
    case leadingZero(field: String, offset: Int)
    /// `-0`; zero is written `0`.
    case negativeZero(field: String, offset: Int)
    /// A number outside Int64 (or, for a count, outside Int).
    case overflow(field: String, offset: Int)
    /// A `\` in a text field that is not followed by `\`, `p` or `0`.
    case invalidEscape(field: String, offset: Int)
    /// A NUL byte in a text field; it is written `\0`.
    case unescapedNul(field: String, offset: Int)
    /// A line's record, job, tenant or site written out although it equals the charge's (which is
    /// written as an empty field), so that one charge has exactly one text.
    case redundantValue(field: String, offset: Int)

    public var description: String {
        switch self {
        case .empty: "empty ledger text"
        case .unknownFormat(let tag):
            "unknown charge format '\(tag)'; this build reads '\(LedgerCodec.chargeFormatTag)' (was the row written by a newer build?)"
        case .truncated(let field, let offset): "text ends at byte \(offset) where \(field) should start"
        case .trailingData(let offset): "unexpected text after the last field, at byte \(offset)"
        case .trailingSeparator(let offset): "posting list ends with ';' at byte \(offset)"
        case .missingEquals(let field, let offset): "\(field) at byte \(offset) has no '=' between account and amount"
        case .emptyField(let field, let offset): "\(field) at byte \(offset) is empty"
        case .invalidAccount(let field, let offset, let reason): "\(field) at byte \(offset): \(reason)"
        case .invalidIdentifier(let field, let offset, let value):
            "\(field) at byte \(offset): '\(value)' is not an identifier ([A-Za-z0-9._-], 1–128 characters)"
        case .unknownValue(let field, let offset, let value): "\(field) at byte \(offset): unknown value '\(value)'"
        case .nonDigit(let field, let offset): "\(field): expected a decimal digit at byte \(offset)"
        case .leadingPlus(let field, let offset): "\(field) at byte \(offset): numbers are written without '+'"
        case .leadingZero(let field, let offset): "\(field) at byte \(offset): numbers are written without leading zeros"
        case .negativeZero(let field, let offset): "\(field) at byte \(offset): zero is written '0', not '-0'"
        case .overflow(let field, let offset): "\(field) at byte \(offset): number out of range"
        case .invalidEscape(let field, let offset):
            "\(field): '\\' at byte \(offset) must be followed by '\\', 'p' (for '|') or '0' (for NUL)"
        case .unescapedNul(let field, let offset): "\(field): NUL byte at byte \(offset) must be written '\\0'"
        case .redundantValue(let field, let offset):
            "\(field) at byte \(offset) repeats the charge's value; it must be left empty"
        }
    }
}
