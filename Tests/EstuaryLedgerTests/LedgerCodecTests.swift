import EstuaryLedger
import EstuaryModel
import Testing

// LedgerCodec: exact texts for hand-written values, every rejection with its error, extremes, and
// seeded properties (round trips; mutated texts never crash and, when they decode, re-encode to
// themselves byte for byte, i.e. every value has one text).

// MARK: - Fixtures

private enum CodecFixture {
    static let at2026: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    /// A real service line from the rater, to be reshaped field by field (`ChargeLine` has no
    /// public initialiser).
    static let serviceLine: ChargeLine = {
        let usage = ServiceUsage(
            recordID: "u-job7-1", job: "job7", tenant: "acme", site: "site-a", service: "disk", quantity: 7_300,
            startMs: at2026, endMs: at2026)
        let version = PriceVersion(
            version: 3, effectiveFromMs: 0, book: PriceBook(),
            services: ["disk": ServicePrice(kind: .storage, unit: "GiB-hour", priceFen: 10, perUnits: 730)])
        let history = try! PriceHistory(site: "site-a", versions: [version])
        return try! Rater.rate(usage, history: history, rule: .halfUp)[0]
    }()

    /// A one-hour H100 line at the peak price, with energy, as the rater writes them.
    static var computeLine: ChargeLine {
        var line = serviceLine
        line.kind = .compute
        line.serviceKind = nil
        line.cls = "nvidia-h100"
        line.service = nil
        line.startMs = at2026 - 3_600_000
        line.endMs = at2026
        line.quantity = 3_600_000
        line.unit = "unit-ms"
        line.priceFen = 1_250
        line.pricedQuantity = 3_600_000
        line.tariff = .peak
        line.rule = .halfUp
        line.amountFen = 1_250
        line.energyWh = 700
        line.gramsCO2 = 399
        return line
    }

    static func charge(_ lines: [ChargeLine], cls: AcceleratorClass? = "nvidia-h100") -> PostedCharge {
        PostedCharge(
            recordID: "u-job7-1", job: "job7", tenant: "acme", site: "site-a", cls: cls, lines: lines,
            grossFen: lines.reduce(0) { $0 + $1.amountFen }, voucherFen: 0, voucherProgram: nil, voucherYear: nil,
            feeFen: 25, atMs: at2026)
    }

    static func identifier(length: Int, _ fill: Character = "x") -> String { String(repeating: fill, count: length) }
}

/// The smallest valid one-line charge, field by field, so that a rejection case changes one field
/// and names it. Offsets of the fields' first bytes: header `record_id` 3, `class` 11,
/// `gross_fen` 12, `voucher_fen` 14, `voucher_year` 17, `at_ms` 20, `lines` 22; line
/// `record_id` 24, `index` 25, `kind` 27, `job` 36, `unit` 47, `tariff` 53, `price_version` 54,
/// `rule` 56; 68 bytes in all.
private enum Minimal {
    static let fields: [(String, String)] = [
        ("tag", "c1"), ("record_id", "r"), ("job", "j"), ("tenant", "t"), ("site", "s"), ("class", ""),
        ("gross_fen", "0"), ("voucher_fen", "0"), ("voucher_program", ""), ("voucher_year", ""), ("fee_fen", "0"),
        ("at_ms", "0"), ("lines", "1"),
        ("lines[0].record_id", ""), ("lines[0].index", "0"), ("lines[0].kind", "compute"),
        ("lines[0].service_kind", ""), ("lines[0].job", ""), ("lines[0].tenant", ""), ("lines[0].site", ""),
        ("lines[0].class", ""), ("lines[0].service", ""), ("lines[0].start_ms", "0"), ("lines[0].end_ms", "0"),
        ("lines[0].quantity", "0"), ("lines[0].unit", "u"), ("lines[0].price_fen", "0"),
        ("lines[0].priced_quantity", "1"), ("lines[0].tariff", ""), ("lines[0].price_version", "1"),
        ("lines[0].rule", "truncate"), ("lines[0].amount_fen", "0"), ("lines[0].energy_wh", ""),
        ("lines[0].grams_co2", ""),
    ]

    static func text(_ changes: [String: String] = [:]) -> String {
        fields.map { changes[$0.0] ?? $0.1 }.joined(separator: "|")
    }
}

/// Random values for the property tests, from a seeded generator.
private struct Arbitrary {
    var random: SplitMix64

    static let idAlphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

    mutating func identifier() -> String {
        while true {
            let length = random.chance(0.1) ? random.int(in: 100...128) : random.int(in: 1...16)
            let id = String((0..<length).map { _ in random.pick(Self.idAlphabet) })
            if id != "." && id != ".." { return id }
        }
    }

    mutating func maybe<T>(_ make: (inout Arbitrary) -> T) -> T? {
        random.chance(0.4) ? nil : make(&self)
    }

    mutating func int64() -> Int64 {
        switch random.below(4) {
        case 0: random.pick([0, 1, -1, 9, 10, -10, .max, .min, .min + 1, .max - 1])
        case 1: Int64(bitPattern: random.next())
        default: Int64(random.int(in: -5_000_000...5_000_000))
        }
    }

    mutating func int() -> Int { Int(int64()) }

    mutating func unit() -> String {
        let pieces = ["unit-ms", "GiB-hour", "|", "\\", "\0", "\\p", "\\e", "p", "0", "é", "e\u{301}", "🚀", " ", ";", "="]
        return (0..<random.int(in: 0...4)).map { _ in random.pick(pieces) }.joined()
    }

    mutating func account() -> AccountID {
        switch random.below(8) {
        case 0: .wallet(TenantID(rawValue: identifier()))
        case 1: .voucherBudget(VoucherProgramID(rawValue: identifier()), year: random.int(in: 1...9999))
        case 2:
            .voucherAllowance(
                VoucherProgramID(rawValue: identifier()), TenantID(rawValue: identifier()), year: random.int(in: 1...9999))
        case 3: .voucherFunding(VoucherProgramID(rawValue: identifier()))
        case 4: .voucherQuota(VoucherProgramID(rawValue: identifier()))
        case 5: .siteReceivable(SiteID(rawValue: identifier()))
        case 6: .platformFee
        default: .external
        }
    }

    mutating func line(of charge: PostedCharge, index: Int) -> ChargeLine {
        var line = CodecFixture.serviceLine
        // Mostly the charge's own ids, as the rater writes them; sometimes others.
        line.recordID = random.chance(0.8) ? charge.recordID : UsageRecordID(rawValue: identifier())
        line.job = random.chance(0.8) ? charge.job : JobID(rawValue: identifier())
        line.tenant = random.chance(0.8) ? charge.tenant : TenantID(rawValue: identifier())
        line.site = random.chance(0.8) ? charge.site : SiteID(rawValue: identifier())
        line.index = random.chance(0.8) ? index : int()
        line.kind = random.pick(ChargeKind.allCases)
        line.serviceKind = random.chance(0.3) ? nil : random.pick(ServiceKind.allCases)
        line.cls = maybe { AcceleratorClass(rawValue: $0.identifier()) }
        line.service = maybe { ServiceID(rawValue: $0.identifier()) }
        line.startMs = int64()
        line.endMs = int64()
        line.quantity = int64()
        line.unit = unit()
        line.priceFen = int64()
        line.pricedQuantity = int64()
        line.tariff = random.chance(0.3) ? nil : random.pick(TariffKind.allCases)
        line.priceVersion = int()
        line.rule = random.pick(RoundingRule.allCases)
        line.amountFen = int64()
        line.energyWh = maybe { $0.int64() }
        line.gramsCO2 = maybe { $0.int64() }
        return line
    }

    mutating func charge() -> PostedCharge {
        var charge = PostedCharge(
            recordID: UsageRecordID(rawValue: identifier()), job: JobID(rawValue: identifier()),
            tenant: TenantID(rawValue: identifier()), site: SiteID(rawValue: identifier()),
            cls: maybe { AcceleratorClass(rawValue: $0.identifier()) }, lines: [], grossFen: int64(),
            voucherFen: int64(), voucherProgram: maybe { VoucherProgramID(rawValue: $0.identifier()) },
            voucherYear: maybe { $0.int() }, feeFen: int64(), atMs: int64())
        for index in 0..<random.int(in: 0...5) { charge.lines.append(line(of: charge, index: index)) }
        return charge
    }

    /// `text` with one to three random edits: a byte replaced, inserted or removed, or the text cut.
    mutating func mutation(of text: String) -> String {
        let interesting = Array("|;=:\\0123456789-+.ep \u{0}".utf8) + [0xC3, 0xA9, 0xFF, 0x80]
        var bytes = Array(text.utf8)
        for _ in 0..<random.int(in: 1...3) {
            let position = random.below(bytes.count + 1)
            let byte = random.chance(0.7) ? random.pick(interesting) : UInt8(truncatingIfNeeded: random.next())
            switch random.below(4) {
            case 0 where position < bytes.count: bytes[position] = byte
            case 1: bytes.insert(byte, at: position)
            case 2 where position < bytes.count: bytes.remove(at: position)
            default: bytes.removeSubrange(position...)
            }
            if bytes.isEmpty { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

// MARK: - Postings

@Suite("Ledger codec: postings")
struct LedgerCodecPostingTests {
    @Test("postings are written account=amount joined by ';'")
    func exactText() throws {
        let postings = [
            Posting(.wallet("acme"), -1_250), Posting(.siteReceivable("site-a"), 1_225), Posting(.platformFee, 25),
        ]
        let text = LedgerCodec.encode(postings)
        #expect(text == "wallet:acme=-1250;site-receivable:site-a=1225;platform-fee=25")
        #expect(try LedgerCodec.decodePostings(text) == postings)
    }

    @Test("an empty posting list encodes as the empty text, which is refused")
    func emptyList() {
        #expect(LedgerCodec.encode([]) == "")
        #expect(throws: LedgerCodecError.empty) { try LedgerCodec.decodePostings("") }
    }

    static let extremes: [[Posting]] = [
        [Posting(.wallet("acme"), .max), Posting(.external, .min + 1)],
        [Posting(.external, .min)],
        [Posting(.platformFee, 0)],
        [Posting(.voucherBudget("gz", year: 1), 1), Posting(.voucherBudget("gz", year: 9999), -1)],
        [
            Posting(.wallet(TenantID(rawValue: CodecFixture.identifier(length: 128))), 9),
            Posting(.voucherAllowance(VoucherProgramID(rawValue: CodecFixture.identifier(length: 128, "P")), "a", year: 2026), 10),
        ],
        [
            Posting(.voucherFunding("gz"), -100), Posting(.voucherQuota("..."), 99), Posting(.siteReceivable("s.1_-"), 1),
            Posting(.voucherAllowance("gz", "acme", year: 2026), -7), Posting(.external, 7),
        ],
    ]

    @Test("extreme amounts, long ids and every account kind round-trip", arguments: extremes)
    func extremesRoundTrip(postings: [Posting]) throws {
        #expect(try LedgerCodec.decodePostings(LedgerCodec.encode(postings)) == postings)
    }

    @Test(
        "malformed posting texts are refused with where and why",
        arguments: [
            ("", LedgerCodecError.empty),
            ("=5", .emptyField(field: "postings[0].account", offset: 0)),
            ("external=1;=5", .emptyField(field: "postings[1].account", offset: 11)),
            ("wallet:acme", .missingEquals(field: "postings[0]", offset: 0)),
            ("wallet:acme=5;external", .missingEquals(field: "postings[1]", offset: 14)),
            (";wallet:acme=5", .missingEquals(field: "postings[0]", offset: 0)),
            ("wallet:acme=5;;external=1", .missingEquals(field: "postings[1]", offset: 14)),
            ("wallet:acme=5;", .trailingSeparator(offset: 13)),
            ("wallet:acme=", .emptyField(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=12a", .nonDigit(field: "postings[0].amount", offset: 14)),
            ("wallet:acme=1 ", .nonDigit(field: "postings[0].amount", offset: 13)),
            ("wallet:acme=1=2", .nonDigit(field: "postings[0].amount", offset: 13)),
            ("wallet:acme=0x10", .nonDigit(field: "postings[0].amount", offset: 13)),
            ("wallet:acme=-", .nonDigit(field: "postings[0].amount", offset: 13)),
            ("wallet:acme=--1", .nonDigit(field: "postings[0].amount", offset: 13)),
            ("wallet:acme=٣", .nonDigit(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=+5", .leadingPlus(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=-0", .negativeZero(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=007", .leadingZero(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=-05", .leadingZero(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=9223372036854775808", .overflow(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=-9223372036854775809", .overflow(field: "postings[0].amount", offset: 12)),
            ("wallet:acme=99999999999999999999", .overflow(field: "postings[0].amount", offset: 12)),
            (
                "wallet:ac me=5",
                .invalidAccount(field: "postings[0].account", offset: 0, reason: .malformedIdentifier(kind: "wallet", value: "ac me"))
            ),
            ("external=1;purse:acme=5", .invalidAccount(field: "postings[1].account", offset: 11, reason: .unknownKind("purse"))),
            ("WALLET:acme=5", .invalidAccount(field: "postings[0].account", offset: 0, reason: .unknownKind("WALLET"))),
            ("voucher-budget:gz:02026=5", .invalidAccount(field: "postings[0].account", offset: 0, reason: .malformedYear("02026"))),
            (
                "wallet:acme:x=5",
                .invalidAccount(field: "postings[0].account", offset: 0, reason: .wrongFieldCount(kind: "wallet", expected: 1, found: 2))
            ),
            (
                "platform-fee:=5",
                .invalidAccount(
                    field: "postings[0].account", offset: 0, reason: .wrongFieldCount(kind: "platform-fee", expected: 0, found: 1))
            ),
        ])
    func rejections(text: String, error: LedgerCodecError) {
        #expect(throws: error) { try LedgerCodec.decodePostings(text) }
    }

    @Test(
        "a malformed account encodes to a text that is refused, never misread",
        arguments: [
            AccountID.wallet("a=1;wallet:b"), .wallet(""), .wallet("x;y"), .wallet("a:b"), .wallet("nul\u{0}"),
            .voucherBudget("gz", year: 0), .voucherBudget("gz:1", year: 2026), .voucherAllowance("gz", "a=", year: 10_000),
            .siteReceivable(".."),
        ])
    func malformedAccountRefused(account: AccountID) {
        let text = LedgerCodec.encode([Posting(account, 5), Posting(.external, -5)])
        #expect(throws: LedgerCodecError.self) { try LedgerCodec.decodePostings(text) }
    }

    /// Account names that the byte-level reader must treat exactly as `AccountID(parsing:)` does.
    static let accountNames: [String] = [
        "external", "platform-fee", "wallet:acme", "wallet:a", "wallet:.", "wallet:..", "wallet:...", "wallet:-",
        "wallet:" + CodecFixture.identifier(length: 128), "wallet:" + CodecFixture.identifier(length: 129), "wallet:",
        "wallet", "wallet:acme:", "wallet::acme", ":acme", ":", "::", "wallet:\u{301}acme", "wallet:é", "wallet :acme",
        "voucher-budget:gz:2026", "voucher-budget:gz:1", "voucher-budget:gz:9999", "voucher-budget:gz:0",
        "voucher-budget:gz:10000", "voucher-budget:gz:0001", "voucher-budget:gz:-1", "voucher-budget:gz:+1",
        "voucher-budget:gz:", "voucher-budget:gz", "voucher-budget::2026", "voucher-budget:gz:2026:1",
        "voucher-budget:gz:٢٠٢٦", "voucher-allowance:gz:acme:2026", "voucher-allowance:gz::2026",
        "voucher-allowance:gz:acme", "voucher-allowance:gz:acme:2026:", "voucher-funding:gz", "voucher-quota:gz",
        "voucher-funding:", "site-receivable:site-a", "site-receivable:site a", "platform-fee:", "external:x",
        "externals", "extern", "Wallet:acme", "wallet\r\n:acme", "wallet:\r\n", "site-receivable:a\u{0}",
    ]

    @Test("the byte-level account reader accepts exactly what AccountID(parsing:) accepts", arguments: accountNames)
    func accountEquivalence(name: String) {
        Self.expectSameAccount(name)
    }

    @Test("random account-like names are read exactly as AccountID(parsing:) reads them")
    func randomAccountEquivalence() {
        let seed: UInt64 = 0xACC0_0017
        var random = SplitMix64(seed: seed)
        let kinds = [
            "wallet", "voucher-budget", "voucher-allowance", "voucher-funding", "voucher-quota", "site-receivable",
            "platform-fee", "external", "walle", "wallets", "", "Wallet",
        ]
        let pieces = ["a", "Z", "9", "0", ".", "..", "-", "_", ":", " ", "é", "\u{301}", "2026", "0", "10000", "١"]
        var accepted = 0
        for index in 0..<5_000 {
            var name = random.pick(kinds)
            for _ in 0..<random.int(in: 0...4) {
                name += ":" + (0..<random.int(in: 0...3)).map { _ in random.pick(pieces) }.joined()
            }
            if Self.expectSameAccount(name, Comment(rawValue: "seed \(seed) case \(index): '\(name)'")) { accepted += 1 }
        }
        // Both sides of the language are exercised, not only refusals.
        #expect(accepted > 200, "seed \(seed): only \(accepted) names were accounts")
    }

    /// Whether `name` is an account.
    @discardableResult
    private static func expectSameAccount(_ name: String, _ comment: Comment? = nil) -> Bool {
        let text = name + "=1"
        switch Result(catching: { () throws(AccountIDError) in try AccountID(parsing: name) }) {
        case .success(let account):
            #expect((try? LedgerCodec.decodePostings(text)) == [Posting(account, 1)], comment)
            return true
        case .failure(let error):
            let expected: LedgerCodecError =
                name.isEmpty
                ? .emptyField(field: "postings[0].account", offset: 0)
                : .invalidAccount(field: "postings[0].account", offset: 0, reason: error)
            #expect(throws: expected, comment) { try LedgerCodec.decodePostings(text) }
            return false
        }
    }

    @Test("random posting lists round-trip, and mutated texts are refused or re-encode to themselves")
    func properties() throws {
        var misreadable = 0
        for seed in UInt64(1)...20 {
            var arbitrary = Arbitrary(random: SplitMix64(seed: seed))
            for index in 0..<100 {
                let context = Comment(rawValue: "seed \(seed) case \(index)")
                let postings = (0..<arbitrary.random.int(in: 1...8)).map { _ in
                    Posting(arbitrary.account(), arbitrary.int64())
                }
                let text = LedgerCodec.encode(postings)
                #expect(try LedgerCodec.decodePostings(text) == postings, context)
                for _ in 0..<10 {
                    let mutated = arbitrary.mutation(of: text)
                    if let decoded = try? LedgerCodec.decodePostings(mutated) {
                        #expect(Array(LedgerCodec.encode(decoded).utf8) == Array(mutated.utf8), context)
                        if decoded != postings { misreadable += 1 }
                    }
                }
            }
        }
        // Some edits do yield another valid list (a digit changed): those must be canonical too.
        #expect(misreadable > 1_000, "only \(misreadable) mutations decoded to another list")
    }
}

// MARK: - Charges

@Suite("Ledger codec: charges")
struct LedgerCodecChargeTests {
    @Test("a compute charge is written c1|…, its line's ids left empty when they are the charge's")
    func exactText() throws {
        let charge = CodecFixture.charge([CodecFixture.computeLine])
        let text = LedgerCodec.encode(charge)
        #expect(
            text
                == "c1|u-job7-1|job7|acme|site-a|nvidia-h100|1250|0|||25|1767225600000|1"
                + "||0|compute|||||nvidia-h100||1767222000000|1767225600000|3600000|unit-ms|1250|3600000|peak|3|half_up|1250|700|399"
        )
        #expect(try LedgerCodec.decodeCharge(text) == charge)
    }

    static let extremes: [PostedCharge] = {
        var cases: [PostedCharge] = []
        cases.append(CodecFixture.charge([], cls: nil))
        cases.append(CodecFixture.charge([CodecFixture.serviceLine], cls: nil))

        // Zero where nil is possible, and nil where zero is possible: the two must stay apart.
        var zeros = CodecFixture.charge([CodecFixture.computeLine])
        zeros.voucherYear = 0
        zeros.voucherProgram = "gz"
        zeros.lines[0].energyWh = 0
        zeros.lines[0].gramsCO2 = 0
        cases.append(zeros)
        var nils = CodecFixture.charge([CodecFixture.computeLine])
        nils.lines[0].energyWh = nil
        nils.lines[0].gramsCO2 = nil
        nils.lines[0].tariff = nil
        nils.lines[0].cls = nil
        cases.append(nils)

        for value in [Int64.max, .min + 1, .min] {
            var charge = CodecFixture.charge([CodecFixture.computeLine, CodecFixture.serviceLine])
            charge.grossFen = value
            charge.voucherFen = value
            charge.feeFen = value
            charge.atMs = value
            charge.voucherYear = Int(value)
            for index in charge.lines.indices {
                charge.lines[index].index = Int(value)
                charge.lines[index].startMs = value
                charge.lines[index].endMs = value
                charge.lines[index].quantity = value
                charge.lines[index].priceFen = value
                charge.lines[index].pricedQuantity = value
                charge.lines[index].priceVersion = Int(value)
                charge.lines[index].amountFen = value
                charge.lines[index].energyWh = value
                charge.lines[index].gramsCO2 = value
            }
            cases.append(charge)
        }

        // Ids of 128 characters, and lines whose ids differ from the charge's.
        let long = CodecFixture.identifier(length: 128)
        var longIDs = PostedCharge(
            recordID: UsageRecordID(rawValue: long), job: JobID(rawValue: long), tenant: TenantID(rawValue: long),
            site: SiteID(rawValue: long), cls: AcceleratorClass(rawValue: long), lines: [CodecFixture.computeLine],
            grossFen: 1, voucherFen: 1, voucherProgram: VoucherProgramID(rawValue: long), voucherYear: 2026, feeFen: 0,
            atMs: 0)
        longIDs.lines[0].service = ServiceID(rawValue: CodecFixture.identifier(length: 128, "S"))
        cases.append(longIDs)

        // Every case of every enumeration.
        var lines: [ChargeLine] = []
        for kind in ChargeKind.allCases {
            for serviceKind in ServiceKind.allCases.map(Optional.some) + [nil] {
                for tariff in TariffKind.allCases.map(Optional.some) + [nil] {
                    for rule in RoundingRule.allCases {
                        var line = CodecFixture.computeLine
                        line.index = lines.count
                        line.kind = kind
                        line.serviceKind = serviceKind
                        line.tariff = tariff
                        line.rule = rule
                        lines.append(line)
                    }
                }
            }
        }
        cases.append(CodecFixture.charge(lines))

        // Units holding the separator, the escape character, NUL, escapes' look-alikes and non-ASCII.
        for unit in ["", "|", "\\", "\0", "\\p", "\\e", "a|b\\c\0d", "||", "GiB·hour", "e\u{301}", "🚀|"] {
            var charge = CodecFixture.charge([CodecFixture.serviceLine])
            charge.lines[0].unit = unit
            cases.append(charge)
        }
        return cases
    }()

    @Test("extremes, nil against zero, every enum case and awkward units round-trip", arguments: extremes)
    func extremesRoundTrip(charge: PostedCharge) throws {
        let text = LedgerCodec.encode(charge)
        let decoded = try LedgerCodec.decodeCharge(text)
        #expect(decoded == charge)
        #expect(Array(decoded.lines.map(\.unit).joined().utf8) == Array(charge.lines.map(\.unit).joined().utf8))
        #expect(!text.utf8.contains(0))
    }

    @Test("lines encoded before the voucher is known give the same text; lines of other ids are re-encoded", arguments: extremes)
    func preEncodedLines(charge: PostedCharge) throws {
        let identity = ChargeIdentity(recordID: charge.recordID, job: charge.job, tenant: charge.tenant, site: charge.site)
        let early = LedgerCodec.encodeLines(charge.lines, of: identity)
        var later = charge
        later.voucherFen = charge.grossFen / 3
        later.voucherProgram = "gz"
        later.voucherYear = 2026
        #expect(LedgerCodec.encode(later, lines: early) == LedgerCodec.encode(later))
        // Encoded relative to another record (so line ids would be written differently) or with
        // another number of lines: not trusted, the charge's own lines are written.
        let stranger = LedgerCodec.encodeLines(
            charge.lines, of: ChargeIdentity(recordID: "u-other-1", job: "other", tenant: "other", site: "other"))
        #expect(LedgerCodec.encode(charge, lines: stranger) == LedgerCodec.encode(charge))
        let fewer = LedgerCodec.encodeLines(Array(charge.lines.dropLast()), of: identity)
        #expect(try LedgerCodec.decodeCharge(LedgerCodec.encode(charge, lines: fewer)) == charge)
    }

    @Test("the minimal charge used by the rejection table is valid")
    func minimalIsValid() throws {
        let text = Minimal.text()
        #expect(text.utf8.count == 68)
        #expect(LedgerCodec.encode(try LedgerCodec.decodeCharge(text)) == text)
    }

    @Test(
        "malformed charge texts are refused with where and why",
        arguments: [
            ("", LedgerCodecError.empty),
            ("c2|r", .unknownFormat(tag: "c2")),
            ("C1|r", .unknownFormat(tag: "C1")),
            (#"{"record_id":"r"}"#, .unknownFormat(tag: #"{"record_id":"r"}"#)),
            ("c1", .truncated(field: "record_id", offset: 2)),
            ("c1|r|j|t|s||0|0|||0|0", .truncated(field: "lines", offset: 21)),
            (String(Minimal.text().dropLast()), .truncated(field: "lines[0].grams_co2", offset: 67)),
            (Minimal.text() + "|", .trailingData(offset: 68)),
            (Minimal.text(["lines": "2"]), .truncated(field: "lines[1].record_id", offset: 68)),
            (Minimal.text(["lines": "0"]), .trailingData(offset: 23)),
            (Minimal.text(["lines": "-1"]), .nonDigit(field: "lines", offset: 22)),
            (Minimal.text(["lines": "01"]), .leadingZero(field: "lines", offset: 22)),
            (Minimal.text(["record_id": "r r"]), .invalidIdentifier(field: "record_id", offset: 3, value: "r r")),
            (Minimal.text(["record_id": ""]), .invalidIdentifier(field: "record_id", offset: 3, value: "")),
            (Minimal.text(["record_id": "\\e"]), .invalidIdentifier(field: "record_id", offset: 3, value: "\\e")),
            (Minimal.text(["class": "."]), .invalidIdentifier(field: "class", offset: 11, value: ".")),
            (Minimal.text(["gross_fen": ""]), .emptyField(field: "gross_fen", offset: 12)),
            (Minimal.text(["gross_fen": "0100"]), .leadingZero(field: "gross_fen", offset: 12)),
            (Minimal.text(["gross_fen": "+1"]), .leadingPlus(field: "gross_fen", offset: 12)),
            (Minimal.text(["voucher_fen": "-0"]), .negativeZero(field: "voucher_fen", offset: 14)),
            (Minimal.text(["voucher_year": "20x6"]), .nonDigit(field: "voucher_year", offset: 19)),
            (Minimal.text(["at_ms": "9223372036854775808"]), .overflow(field: "at_ms", offset: 20)),
            (Minimal.text(["lines[0].index": ""]), .emptyField(field: "lines[0].index", offset: 25)),
            (Minimal.text(["lines[0].kind": "Compute"]), .unknownValue(field: "lines[0].kind", offset: 27, value: "Compute")),
            (Minimal.text(["lines[0].kind": ""]), .unknownValue(field: "lines[0].kind", offset: 27, value: "")),
            (Minimal.text(["lines[0].job": "j"]), .redundantValue(field: "lines[0].job", offset: 36)),
            (Minimal.text(["lines[0].unit": "a\\qb"]), .invalidEscape(field: "lines[0].unit", offset: 48)),
            (Minimal.text(["lines[0].unit": "ab\\"]), .invalidEscape(field: "lines[0].unit", offset: 49)),
            (Minimal.text(["lines[0].unit": "a\\eb"]), .invalidEscape(field: "lines[0].unit", offset: 48)),
            (Minimal.text(["lines[0].unit": "a\0b"]), .unescapedNul(field: "lines[0].unit", offset: 48)),
            (Minimal.text(["lines[0].tariff": "noon"]), .unknownValue(field: "lines[0].tariff", offset: 53, value: "noon")),
            (
                Minimal.text(["lines[0].price_version": "99999999999999999999"]),
                .overflow(field: "lines[0].price_version", offset: 54)
            ),
            (Minimal.text(["lines[0].rule": "half-up"]), .unknownValue(field: "lines[0].rule", offset: 56, value: "half-up")),
        ])
    func rejections(text: String, error: LedgerCodecError) {
        #expect(throws: error) { try LedgerCodec.decodeCharge(text) }
    }

    @Test("an error says where and why in words")
    func errorText() {
        #expect(
            LedgerCodecError.leadingZero(field: "lines[0].price_fen", offset: 49).description
                == "lines[0].price_fen at byte 49: numbers are written without leading zeros")
        #expect(LedgerCodecError.unknownFormat(tag: "c9").description.contains("this build reads 'c1'"))
    }

    @Test(
        "a charge with a malformed id encodes to a text that is refused, never misread",
        arguments: ["", "a|b", "a\\b", "\\e", ".", "x y", "nul\u{0}"])
    func malformedIdentifierRefused(id: String) {
        var cases: [PostedCharge] = []
        var charge = CodecFixture.charge([CodecFixture.computeLine])
        charge.job = JobID(rawValue: id)
        cases.append(charge)
        charge = CodecFixture.charge([CodecFixture.computeLine])
        charge.cls = AcceleratorClass(rawValue: id)
        cases.append(charge)
        charge = CodecFixture.charge([CodecFixture.computeLine])
        charge.lines[0].job = JobID(rawValue: id)
        cases.append(charge)
        charge = CodecFixture.charge([CodecFixture.computeLine])
        charge.lines[0].service = ServiceID(rawValue: id)
        cases.append(charge)
        for charge in cases {
            #expect(throws: LedgerCodecError.self, "\(charge)") { try LedgerCodec.decodeCharge(LedgerCodec.encode(charge)) }
        }
    }

    @Test(
        "random charges round-trip, and mutated texts are refused or re-encode to themselves",
        arguments: Array(UInt64(1)...8))
    func properties(seed: UInt64) throws {
        var arbitrary = Arbitrary(random: SplitMix64(seed: seed))
        var misreadable = 0
        for index in 0..<400 {
            let context = Comment(rawValue: "seed \(seed) case \(index)")
            let charge = arbitrary.charge()
            let text = LedgerCodec.encode(charge)
            let decoded = try LedgerCodec.decodeCharge(text)
            #expect(decoded == charge, context)
            #expect(Array(LedgerCodec.encode(decoded).utf8) == Array(text.utf8), context)
            for _ in 0..<10 {
                let mutated = arbitrary.mutation(of: text)
                if let decoded = try? LedgerCodec.decodeCharge(mutated) {
                    #expect(Array(LedgerCodec.encode(decoded).utf8) == Array(mutated.utf8), context)
                    if decoded != charge { misreadable += 1 }
                }
            }
        }
        // Some edits do yield another valid charge (a digit changed): those must be canonical too.
        #expect(misreadable > 300, "seed \(seed): only \(misreadable) mutations decoded to another charge")
    }
}
