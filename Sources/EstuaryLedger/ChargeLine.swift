import EstuaryModel

// What rating reads (usage of compute or of a non-compute service) and what it writes (charge
// lines that carry every figure needed to recompute and explain them later). `Rater` is in
// Rating.swift.

/// One usage record as rating sees it: `units` units of `cls` held over `[startMs, endMs)`.
public struct UsageToRate: Sendable, Hashable {
    public var recordID: UsageRecordID
    public var job: JobID
    public var tenant: TenantID
    public var site: SiteID
    public var cls: AcceleratorClass
    public var units: Int
    public var startMs: Int64
    public var endMs: Int64
    /// Energy the site metered for the whole record, when it meters; otherwise rating estimates
    /// it from the class's board power.
    public var measuredEnergyWh: Int64?

    public init(
        recordID: UsageRecordID, job: JobID, tenant: TenantID, site: SiteID, cls: AcceleratorClass, units: Int,
        startMs: Int64, endMs: Int64, measuredEnergyWh: Int64? = nil
    ) {
        self.recordID = recordID
        self.job = job
        self.tenant = tenant
        self.site = site
        self.cls = cls
        self.units = units
        self.startMs = startMs
        self.endMs = endMs
        self.measuredEnergyWh = measuredEnergyWh
    }

    /// A site's usage record, with the tenant the coordinator knows the job by.
    public init(_ record: UsageRecord, tenant: TenantID, measuredEnergyWh: Int64? = nil) {
        self.init(
            recordID: record.id, job: record.jobID, tenant: tenant, site: record.siteID, cls: record.acceleratorClass,
            units: record.units, startMs: record.startedAtMs, endMs: record.endedAtMs, measuredEnergyWh: measuredEnergyWh)
    }
}

/// Use of a non-compute service: `quantity` units (in the service's priced unit) over
/// `[startMs, endMs)`, or at one instant when `startMs == endMs` (a transfer, a scan).
public struct ServiceUsage: Sendable, Hashable {
    public var recordID: UsageRecordID
    public var job: JobID
    public var tenant: TenantID
    public var site: SiteID
    public var service: ServiceID
    public var quantity: Int64
    public var startMs: Int64
    public var endMs: Int64

    public init(
        recordID: UsageRecordID, job: JobID, tenant: TenantID, site: SiteID, service: ServiceID, quantity: Int64,
        startMs: Int64, endMs: Int64
    ) {
        self.recordID = recordID
        self.job = job
        self.tenant = tenant
        self.site = site
        self.service = service
        self.quantity = quantity
        self.startMs = startMs
        self.endMs = endMs
    }
}

/// Whether a line is for compute or for a non-compute service. Vouchers look at this: only
/// compute lines can be "intelligent compute".
public enum ChargeKind: String, Sendable, Hashable, Codable, CaseIterable {
    case compute, service
}

/// One priced piece of a usage record, with everything needed to recompute and explain it:
/// `amountFen` is `quantity × priceFen / pricedQuantity` rounded by `rule`
/// (`recomputedAmount()` does exactly that), at prices from version `priceVersion`.
public struct ChargeLine: Sendable, Hashable, Codable {
    public var recordID: UsageRecordID
    /// Position within the record, from 0, in time order.
    public var index: Int
    public var kind: ChargeKind
    /// Set on service lines only.
    public var serviceKind: ServiceKind?
    public var job: JobID
    public var tenant: TenantID
    public var site: SiteID
    /// The class used, on compute lines.
    public var cls: AcceleratorClass?
    /// The service used, on service lines.
    public var service: ServiceID?
    /// `[startMs, endMs)`; lines of one record tile the record exactly.
    public var startMs: Int64
    public var endMs: Int64
    /// Unit-milliseconds on compute lines; units of `unit` on service lines.
    public var quantity: Int64
    /// `unit-ms`, or the service's unit (`GiB-hour` …).
    public var unit: String
    /// Fen per unit-hour on compute lines; fen per `pricedQuantity` units on service lines.
    public var priceFen: Int64
    /// How much quantity `priceFen` buys: 3,600,000 unit-ms (a unit-hour), or the service's
    /// `perUnits`.
    public var pricedQuantity: Int64
    /// The time-of-use period the compute line fell in.
    public var tariff: TariffKind?
    public var priceVersion: Int
    public var rule: RoundingRule
    public var amountFen: Fen
    /// This line's share of the record's energy, whole Wh; nil when neither metered nor
    /// estimable (no catalog entry), and on service lines.
    public var energyWh: Int64?
    /// Grams of CO2 for this line's exact energy share, rounded half-up; nil with `energyWh`.
    public var gramsCO2: Int64?

    public var isCompute: Bool { kind == .compute }
    /// Unit-milliseconds, on compute lines.
    public var unitMilliseconds: Int64? { isCompute ? quantity : nil }
    /// List price per unit-hour, on compute lines.
    public var fenPerUnitHour: Int64? { isCompute ? priceFen : nil }

    /// The amount again, from the line's own figures, to audit a stored line.
    public func recomputedAmount() throws(LedgerError) -> Fen {
        try Rater.amount(quantity: quantity, priceFen: priceFen, per: pricedQuantity, rule: rule)
    }

    enum CodingKeys: String, CodingKey {
        case recordID = "record_id"
        case index, kind
        case serviceKind = "service_kind"
        case job, tenant, site
        case cls = "class"
        case service
        case startMs = "start_ms"
        case endMs = "end_ms"
        case quantity, unit
        case priceFen = "price_fen"
        case pricedQuantity = "priced_quantity"
        case tariff
        case priceVersion = "price_version"
        case rule
        case amountFen = "amount_fen"
        case energyWh = "energy_wh"
        case gramsCO2 = "grams_co2"
    }
}
