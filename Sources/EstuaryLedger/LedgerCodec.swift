import EstuaryModel

/// The compact text forms in which the store keeps a transaction's postings and a posted charge:
/// one SQLite column each, written and read on the rating hot path, where JSON is too slow.
///
/// **Postings**: `account=amount` pairs joined by `;`, e.g.
/// `wallet:acme=-1250;site-receivable:site-a=1225;platform-fee=25`. The account is its text form
/// (`AccountID.text`, which never holds `=` or `;`); the amount is signed decimal fen.
///
/// **Charges** (format `c1`): fields joined by `|`, starting with the tag:
/// `c1|record_id|job|tenant|site|class|gross_fen|voucher_fen|voucher_program|voucher_year|fee_fen|at_ms|line count`,
/// then for each line `|record_id|index|kind|service_kind|job|tenant|site|class|service|start_ms|end_ms|quantity|unit|price_fen|priced_quantity|tariff|price_version|rule|amount_fen|energy_wh|grams_co2`.
/// An empty field is nil for an optional, and for a line's record, job, tenant and site means
/// "the charge's" (the usual case, so it is not repeated). Enumerations are written by raw value.
/// `unit` is text with `\\`, `\p` and `\0` standing for `\`, `|` and NUL.
///
/// Both forms are strict: numbers in shortest form (no `+`, no leading zeros, no `-0`, within
/// Int64), identifiers and accounts exactly as the model accepts them, no empty or extra fields,
/// so that every value has exactly one text and `encode(decode(text)) == text` whenever decoding
/// succeeds. Encoding does not validate (the ledger and the rater do that); a value with a
/// malformed identifier encodes to a text that decoding refuses, never to one it misreads.
public enum LedgerCodec {
    /// The tag of the charge format this build writes, and the only one it reads.
    public static let chargeFormatTag = "c1"

    // MARK: postings

    /// The postings as `account=amount;…`. An empty list encodes as the empty text, which
    /// `decodePostings` refuses: a transaction always has a posting.
    public static func encode(_ postings: [Posting]) -> String {
        var capacity = 0
        for posting in postings { capacity += LedgerTextWriter.bound(posting.account) + 2 + LedgerTextWriter.integerBound }
        return LedgerTextWriter.string(capacity: capacity) { writer in
            for (index, posting) in postings.enumerated() {
                if index > 0 { writer.byte(Byte.semicolon) }
                writer.account(posting.account)
                writer.byte(Byte.equals)
                writer.integer(posting.amount)
            }
        }
    }

    /// Reads `encode(_:)`'s form back.
    public static func decodePostings(_ text: String) throws(LedgerCodecError) -> [Posting] {
        guard !text.isEmpty else { throw .empty }
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(LedgerCodecError) in try postings(LedgerTextScanner(bytes: bytes)) }
        }
        return try result.get()
    }

    private static func postings(_ scanner: LedgerTextScanner) throws(LedgerCodecError) -> [Posting] {
        let bytes = scanner.bytes
        var separators = 0
        for byte in bytes where byte == Byte.semicolon { separators += 1 }
        var postings: [Posting] = []
        postings.reserveCapacity(separators + 1)
        var start = 0
        while true {
            let index = postings.count
            var equals = start
            while equals < bytes.count, bytes[equals] != Byte.equals, bytes[equals] != Byte.semicolon { equals += 1 }
            guard equals < bytes.count, bytes[equals] == Byte.equals else {
                throw .missingEquals(field: "postings[\(index)]", offset: start)
            }
            guard equals > start else { throw .emptyField(field: "postings[\(index)].account", offset: start) }
            let account = try account(scanner, start..<equals, "postings[\(index)].account")
            let end = scanner.first(Byte.semicolon, from: equals + 1, to: bytes.count)
            let amount = try scanner.int64(equals + 1..<end, "postings[\(index)].amount")
            postings.append(Posting(account, amount))
            if end == bytes.count { return postings }
            start = end + 1
            if start == bytes.count { throw .trailingSeparator(offset: end) }
        }
    }

    // MARK: accounts

    /// The account named by the text in `range`, accepting exactly what `AccountID(parsing:)`
    /// accepts. The common, well-formed case is read from the bytes; anything else is handed to
    /// `AccountID(parsing:)`, so the error (and any case the fast path does not know) is its own.
    static func account(
        _ scanner: LedgerTextScanner, _ range: Range<Int>, _ field: @autoclosure () -> String
    ) throws(LedgerCodecError) -> AccountID {
        if let account = fastAccount(scanner, range) { return account }
        do {
            return try AccountID(parsing: scanner.string(range))
        } catch {
            throw .invalidAccount(field: field(), offset: range.lowerBound, reason: error)
        }
    }

    private static func fastAccount(_ scanner: LedgerTextScanner, _ range: Range<Int>) -> AccountID? {
        let end = range.upperBound
        let colon = scanner.first(Byte.colon, from: range.lowerBound, to: end)
        let kind = range.lowerBound..<colon
        guard colon < end else {
            if scanner.matches(kind, "platform-fee") { return .platformFee }
            if scanner.matches(kind, "external") { return .external }
            return nil
        }
        let rest = colon + 1..<end
        // One identifier up to the end; a further `:` fails the identifier check.
        func single(_ make: (String) -> AccountID) -> AccountID? {
            scanner.wellFormedIdentifier(rest).map(make)
        }
        if scanner.matches(kind, "wallet") { return single { .wallet(TenantID(rawValue: $0)) } }
        if scanner.matches(kind, "site-receivable") { return single { .siteReceivable(SiteID(rawValue: $0)) } }
        if scanner.matches(kind, "voucher-budget") {
            let second = scanner.first(Byte.colon, from: rest.lowerBound, to: end)
            guard second < end, let program = scanner.wellFormedIdentifier(rest.lowerBound..<second),
                let year = year(scanner, second + 1..<end)
            else { return nil }
            return .voucherBudget(VoucherProgramID(rawValue: program), year: year)
        }
        if scanner.matches(kind, "voucher-allowance") {
            let second = scanner.first(Byte.colon, from: rest.lowerBound, to: end)
            let third = scanner.first(Byte.colon, from: second + 1, to: end)
            guard third < end, let program = scanner.wellFormedIdentifier(rest.lowerBound..<second),
                let tenant = scanner.wellFormedIdentifier(second + 1..<third), let year = year(scanner, third + 1..<end)
            else { return nil }
            return .voucherAllowance(VoucherProgramID(rawValue: program), TenantID(rawValue: tenant), year: year)
        }
        if scanner.matches(kind, "voucher-funding") { return single { .voucherFunding(VoucherProgramID(rawValue: $0)) } }
        if scanner.matches(kind, "voucher-quota") { return single { .voucherQuota(VoucherProgramID(rawValue: $0)) } }
        return nil
    }

    /// A year as `AccountID(parsing:)` accepts one: 1…9999 in shortest form.
    private static func year(_ scanner: LedgerTextScanner, _ range: Range<Int>) -> Int? {
        guard (1...4).contains(range.count), scanner.bytes[range.lowerBound] != Byte.zero else { return nil }
        var year = 0
        for index in range {
            let digit = scanner.bytes[index] &- Byte.zero
            guard digit < 10 else { return nil }
            year = year * 10 + Int(digit)
        }
        return year
    }
}
