import EstuaryModel

/// One usage record as the ledger posted it: the rated lines, the gross charge, what a voucher
/// paid and the platform's fee. The store keeps one per rated usage record next to its
/// transaction (`usage:<record id>`), so that statements, invoices and the reconciliation can
/// tie every fen back to the record and the price-book versions behind it.
public struct PostedCharge: Sendable, Hashable, Codable {
    /// The usage record rated; also the charge id (`VoucherCharge.id`).
    public var recordID: UsageRecordID
    public var job: JobID
    public var tenant: TenantID
    public var site: SiteID
    /// The accelerator class, for compute; nil for a service charge.
    public var cls: AcceleratorClass?
    /// The rated lines, in order; their amounts sum to `grossFen`.
    public var lines: [ChargeLine]
    /// The charge before any voucher: the sum of the lines.
    public var grossFen: Fen
    /// The part a voucher paid (0 when none did).
    public var voucherFen: Fen
    /// The programme and budget year that paid `voucherFen`; nil when the voucher paid nothing.
    public var voucherProgram: VoucherProgramID?
    public var voucherYear: Int?
    /// The platform's commission on `grossFen`.
    public var feeFen: Fen
    /// When the usage ended (decides the voucher year).
    public var atMs: Int64

    public init(
        recordID: UsageRecordID, job: JobID, tenant: TenantID, site: SiteID, cls: AcceleratorClass?, lines: [ChargeLine],
        grossFen: Fen, voucherFen: Fen, voucherProgram: VoucherProgramID?, voucherYear: Int?, feeFen: Fen, atMs: Int64
    ) {
        self.recordID = recordID
        self.job = job
        self.tenant = tenant
        self.site = site
        self.cls = cls
        self.lines = lines
        self.grossFen = grossFen
        self.voucherFen = voucherFen
        self.voucherProgram = voucherProgram
        self.voucherYear = voucherYear
        self.feeFen = feeFen
        self.atMs = atMs
    }

    /// What the tenant's wallet paid: gross minus the voucher part.
    public var payableFen: Fen { grossFen - voucherFen }
    /// What the site is owed: gross minus the platform fee (the voucher-funded part included).
    public var siteFen: Fen { grossFen - feeFen }
    /// The transaction id under which the charge was posted.
    public var transactionID: String { "usage:\(recordID.rawValue)" }

    /// Estimated energy over all lines, if any line carries an estimate.
    public var energyWh: Int64? {
        let known = lines.compactMap(\.energyWh)
        return known.isEmpty ? nil : known.reduce(0, &+)
    }

    /// Estimated grams of CO2 over all lines, if any line carries an estimate.
    public var gramsCO2: Int64? {
        let known = lines.compactMap(\.gramsCO2)
        return known.isEmpty ? nil : known.reduce(0, &+)
    }

    enum CodingKeys: String, CodingKey {
        case recordID = "record_id"
        case job, tenant, site
        case cls = "class"
        case lines
        case grossFen = "gross_fen"
        case voucherFen = "voucher_fen"
        case voucherProgram = "voucher_program"
        case voucherYear = "voucher_year"
        case feeFen = "fee_fen"
        case atMs = "at_ms"
    }
}
