import EstuaryModel

// The `c1` charge format (described on `LedgerCodec`). Field order here is the format: changing
// it means a new tag, and decoding must keep reading every tag ever written.

/// The ids a charge's lines are written relative to.
public struct ChargeIdentity: Sendable, Hashable {
    public var recordID: UsageRecordID
    public var job: JobID
    public var tenant: TenantID
    public var site: SiteID

    public init(recordID: UsageRecordID, job: JobID, tenant: TenantID, site: SiteID) {
        self.recordID = recordID
        self.job = job
        self.tenant = tenant
        self.site = site
    }

    init(_ charge: PostedCharge) {
        self.init(recordID: charge.recordID, job: charge.job, tenant: charge.tenant, site: charge.site)
    }
}

/// A charge's lines already in `c1` form (`LedgerCodec.encodeLines`).
public struct EncodedChargeLines: Sendable {
    let text: String
    let count: Int
    let identity: ChargeIdentity
}

extension LedgerCodec {
    /// The charge as `c1|…` (see `LedgerCodec` for the fields).
    public static func encode(_ charge: PostedCharge) -> String {
        encode(charge, lines: encodeLines(charge.lines, of: ChargeIdentity(charge)))
    }

    /// The charge as `c1|…`, with its lines as `encodeLines` wrote them earlier (rating decides
    /// the lines before the ledger decides the voucher). Lines encoded for other ids, or another
    /// number of lines, are encoded again.
    public static func encode(_ charge: PostedCharge, lines: EncodedChargeLines) -> String {
        let identity = ChargeIdentity(charge)
        let lines = lines.identity == identity && lines.count == charge.lines.count
            ? lines : encodeLines(charge.lines, of: identity)
        let capacity =
            2 + 12 + 6 * LedgerTextWriter.integerBound + bound(charge.recordID.rawValue) + bound(charge.job.rawValue)
            + bound(charge.tenant.rawValue) + bound(charge.site.rawValue) + bound(charge.cls?.rawValue)
            + bound(charge.voucherProgram?.rawValue) + lines.text.utf8.count
        return LedgerTextWriter.string(capacity: capacity) { writer in
            writeHead(charge, to: &writer)
            writer.encoded(lines.text)
        }
    }

    /// The lines part of a charge's `c1` text. It depends only on the lines and the ids of the
    /// charge they belong to (a line repeating its charge's record, job, tenant or site leaves
    /// that field empty).
    public static func encodeLines(_ lines: [ChargeLine], of identity: ChargeIdentity) -> EncodedChargeLines {
        var capacity = 0
        for line in lines {
            capacity +=
                21 + 11 * LedgerTextWriter.integerBound + bound(line.recordID.rawValue) + bound(line.kind.rawValue)
                + bound(line.serviceKind?.rawValue) + bound(line.job.rawValue) + bound(line.tenant.rawValue)
                + bound(line.site.rawValue) + bound(line.cls?.rawValue) + bound(line.service?.rawValue)
                + bound(line.unit) + bound(line.tariff?.rawValue) + bound(line.rule.rawValue)
        }
        let text = LedgerTextWriter.string(capacity: capacity) { writer in
            for line in lines { write(line, of: identity, to: &writer) }
        }
        return EncodedChargeLines(text: text, count: lines.count, identity: identity)
    }

    private static func bound(_ value: String?) -> Int { value.map(LedgerTextWriter.bound) ?? 0 }

    /// Everything before the lines, ending with their count.
    private static func writeHead(_ charge: PostedCharge, to writer: inout LedgerTextWriter) {
        writer.literal("c1")
        writer.byte(Byte.bar)
        writer.identifier(charge.recordID.rawValue)
        writer.byte(Byte.bar)
        writer.identifier(charge.job.rawValue)
        writer.byte(Byte.bar)
        writer.identifier(charge.tenant.rawValue)
        writer.byte(Byte.bar)
        writer.identifier(charge.site.rawValue)
        writer.byte(Byte.bar)
        writer.optionalIdentifier(charge.cls?.rawValue)
        writer.byte(Byte.bar)
        writer.integer(charge.grossFen)
        writer.byte(Byte.bar)
        writer.integer(charge.voucherFen)
        writer.byte(Byte.bar)
        writer.optionalIdentifier(charge.voucherProgram?.rawValue)
        writer.byte(Byte.bar)
        writer.optionalInteger(charge.voucherYear)
        writer.byte(Byte.bar)
        writer.integer(charge.feeFen)
        writer.byte(Byte.bar)
        writer.integer(charge.atMs)
        writer.byte(Byte.bar)
        writer.integer(charge.lines.count)
    }

    private static func write(_ line: ChargeLine, of identity: ChargeIdentity, to writer: inout LedgerTextWriter) {
        writer.byte(Byte.bar)
        if line.recordID != identity.recordID { writer.identifier(line.recordID.rawValue) }
        writer.byte(Byte.bar)
        writer.integer(line.index)
        writer.byte(Byte.bar)
        writer.text(line.kind.rawValue)
        writer.byte(Byte.bar)
        if let serviceKind = line.serviceKind { writer.text(serviceKind.rawValue) }
        writer.byte(Byte.bar)
        if line.job != identity.job { writer.identifier(line.job.rawValue) }
        writer.byte(Byte.bar)
        if line.tenant != identity.tenant { writer.identifier(line.tenant.rawValue) }
        writer.byte(Byte.bar)
        if line.site != identity.site { writer.identifier(line.site.rawValue) }
        writer.byte(Byte.bar)
        writer.optionalIdentifier(line.cls?.rawValue)
        writer.byte(Byte.bar)
        writer.optionalIdentifier(line.service?.rawValue)
        writer.byte(Byte.bar)
        writer.integer(line.startMs)
        writer.byte(Byte.bar)
        writer.integer(line.endMs)
        writer.byte(Byte.bar)
        writer.integer(line.quantity)
        writer.byte(Byte.bar)
        writer.text(line.unit)
        writer.byte(Byte.bar)
        writer.integer(line.priceFen)
        writer.byte(Byte.bar)
        writer.integer(line.pricedQuantity)
        writer.byte(Byte.bar)
        if let tariff = line.tariff { writer.text(tariff.rawValue) }
        writer.byte(Byte.bar)
        writer.integer(line.priceVersion)
        writer.byte(Byte.bar)
        writer.text(line.rule.rawValue)
        writer.byte(Byte.bar)
        writer.integer(line.amountFen)
        writer.byte(Byte.bar)
        writer.optionalInteger(line.energyWh)
        writer.byte(Byte.bar)
        writer.optionalInteger(line.gramsCO2)
    }

    /// Reads `encode(_:)`'s form back; a tag other than `chargeFormatTag` is `unknownFormat`.
    public static func decodeCharge(_ text: String) throws(LedgerCodecError) -> PostedCharge {
        guard !text.isEmpty else { throw .empty }
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(LedgerCodecError) in try charge(LedgerTextScanner(bytes: bytes)) }
        }
        return try result.get()
    }

    private static func charge(_ scanner: LedgerTextScanner) throws(LedgerCodecError) -> PostedCharge {
        let tagEnd = scanner.first(Byte.bar, from: 0, to: scanner.bytes.count)
        guard scanner.matches(0..<tagEnd, "c1") else {
            throw .unknownFormat(tag: scanner.string(0..<min(tagEnd, 32)))
        }
        var fields = FieldReader(scanner: scanner, position: tagEnd)
        let recordRange = try fields.next("record_id")
        let recordID = UsageRecordID(rawValue: try scanner.identifier(recordRange, "record_id"))
        let jobRange = try fields.next("job")
        let job = JobID(rawValue: try scanner.identifier(jobRange, "job"))
        let tenantRange = try fields.next("tenant")
        let tenant = TenantID(rawValue: try scanner.identifier(tenantRange, "tenant"))
        let siteRange = try fields.next("site")
        let site = SiteID(rawValue: try scanner.identifier(siteRange, "site"))
        let cls = try scanner.optionalIdentifier(try fields.next("class"), "class").map(AcceleratorClass.init(rawValue:))
        let grossFen = try scanner.int64(try fields.next("gross_fen"), "gross_fen")
        let voucherFen = try scanner.int64(try fields.next("voucher_fen"), "voucher_fen")
        let voucherProgram = try scanner.optionalIdentifier(try fields.next("voucher_program"), "voucher_program")
            .map(VoucherProgramID.init(rawValue:))
        let voucherYear = try scanner.optionalInt(try fields.next("voucher_year"), "voucher_year")
        let feeFen = try scanner.int64(try fields.next("fee_fen"), "fee_fen")
        let atMs = try scanner.int64(try fields.next("at_ms"), "at_ms")
        let countRange = try fields.next("lines")
        if let first = countRange.first, scanner.bytes[first] == Byte.minus {
            throw .nonDigit(field: "lines", offset: first)
        }
        let count = try scanner.int(countRange, "lines")

        var lines: [ChargeLine] = []
        // The count is not trusted with memory: each line takes at least 20 bytes.
        lines.reserveCapacity(min(count, (scanner.bytes.count - fields.position) / 20))
        for index in 0..<count {
            func name(_ field: StaticString) -> String { "lines[\(index)].\(field)" }
            lines.append(
                ChargeLine(
                    recordID: UsageRecordID(
                        rawValue: try scanner.identifier(
                            try fields.next(name("record_id")), defaultingTo: recordID.rawValue, at: recordRange,
                            name("record_id"))),
                    index: try scanner.int(try fields.next(name("index")), name("index")),
                    kind: try scanner.value(try fields.next(name("kind")), name("kind")),
                    serviceKind: try scanner.optionalValue(try fields.next(name("service_kind")), name("service_kind")),
                    job: JobID(
                        rawValue: try scanner.identifier(
                            try fields.next(name("job")), defaultingTo: job.rawValue, at: jobRange, name("job"))),
                    tenant: TenantID(
                        rawValue: try scanner.identifier(
                            try fields.next(name("tenant")), defaultingTo: tenant.rawValue, at: tenantRange,
                            name("tenant"))),
                    site: SiteID(
                        rawValue: try scanner.identifier(
                            try fields.next(name("site")), defaultingTo: site.rawValue, at: siteRange, name("site"))),
                    cls: try scanner.optionalIdentifier(try fields.next(name("class")), name("class"))
                        .map(AcceleratorClass.init(rawValue:)),
                    service: try scanner.optionalIdentifier(try fields.next(name("service")), name("service"))
                        .map(ServiceID.init(rawValue:)),
                    startMs: try scanner.int64(try fields.next(name("start_ms")), name("start_ms")),
                    endMs: try scanner.int64(try fields.next(name("end_ms")), name("end_ms")),
                    quantity: try scanner.int64(try fields.next(name("quantity")), name("quantity")),
                    unit: try scanner.text(try fields.next(name("unit")), name("unit")),
                    priceFen: try scanner.int64(try fields.next(name("price_fen")), name("price_fen")),
                    pricedQuantity: try scanner.int64(try fields.next(name("priced_quantity")), name("priced_quantity")),
                    tariff: try scanner.optionalValue(try fields.next(name("tariff")), name("tariff")),
                    priceVersion: try scanner.int(try fields.next(name("price_version")), name("price_version")),
                    rule: try scanner.value(try fields.next(name("rule")), name("rule")),
                    amountFen: try scanner.int64(try fields.next(name("amount_fen")), name("amount_fen")),
                    energyWh: try scanner.optionalInt64(try fields.next(name("energy_wh")), name("energy_wh")),
                    gramsCO2: try scanner.optionalInt64(try fields.next(name("grams_co2")), name("grams_co2"))))
        }
        guard fields.position == scanner.bytes.count else { throw .trailingData(offset: fields.position) }
        return PostedCharge(
            recordID: recordID, job: job, tenant: tenant, site: site, cls: cls, lines: lines, grossFen: grossFen,
            voucherFen: voucherFen, voucherProgram: voucherProgram, voucherYear: voucherYear, feeFen: feeFen, atMs: atMs)
    }
}

/// Steps through `|`-led fields. `position` is always at a `|` or at the end of the text.
private struct FieldReader {
    let scanner: LedgerTextScanner
    var position: Int

    /// The byte range of the next field, or `truncated` when the text has ended.
    mutating func next(_ field: @autoclosure () -> String) throws(LedgerCodecError) -> Range<Int> {
        guard position < scanner.bytes.count else { throw .truncated(field: field(), offset: position) }
        let start = position + 1
        position = scanner.first(Byte.bar, from: start, to: scanner.bytes.count)
        return start..<position
    }
}
