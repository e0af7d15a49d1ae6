import EstuaryModel

// A site's prices over time. Every charge line names the version it was rated with, so a bill
// can be recomputed and explained years later: versions are therefore append-only in spirit,
// numbered, and ordered both by number and by the instant they take effect.

/// A non-compute service a site sells: a storage tier, a network product, a security service.
public struct ServiceID: EstuaryIdentifier, CodingKeyRepresentable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// What a non-compute line is for. Such lines are never "intelligent compute", so compute
/// vouchers do not pay for them (DESIGN.md §6).
public enum ServiceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case storage, network, security, other
}

/// The list price of one non-compute service: `priceFen` fen for every `perUnits` units of
/// `unit`. `perUnits` lets cheap services be priced exactly (10 fen per 730 GiB-hours) without
/// fractional fen.
public struct ServicePrice: Sendable, Hashable, Codable {
    public var kind: ServiceKind
    /// What one unit is, for statements: `GiB-hour`, `GiB`, `scan` …
    public var unit: String
    public var priceFen: Int64
    public var perUnits: Int64

    public init(kind: ServiceKind, unit: String, priceFen: Int64, perUnits: Int64 = 1) {
        self.kind = kind
        self.unit = unit
        self.priceFen = priceFen
        self.perUnits = perUnits
    }

    enum CodingKeys: String, CodingKey {
        case kind, unit
        case priceFen = "price_fen"
        case perUnits = "per_units"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(ServiceKind.self, forKey: .kind)
        unit = try c.decode(String.self, forKey: .unit)
        priceFen = try c.decode(Int64.self, forKey: .priceFen)
        perUnits = try c.decodeIfPresent(Int64.self, forKey: .perUnits) ?? 1
    }
}

/// One numbered version of a site's prices, in force from `effectiveFromMs` until the next
/// version takes effect.
public struct PriceVersion: Sendable, Hashable, Codable {
    /// Positive; each later version has a larger number. Charge lines record it.
    public var version: Int
    /// Unix milliseconds at which this version replaces the one before it.
    public var effectiveFromMs: Int64
    /// Compute prices and time-of-use periods.
    public var book: PriceBook
    /// Non-compute prices, by service.
    public var services: [ServiceID: ServicePrice]

    public init(version: Int, effectiveFromMs: Int64, book: PriceBook, services: [ServiceID: ServicePrice] = [:]) {
        self.version = version
        self.effectiveFromMs = effectiveFromMs
        self.book = book
        self.services = services
    }

    enum CodingKeys: String, CodingKey {
        case version, book, services
        case effectiveFromMs = "effective_from_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        effectiveFromMs = try c.decode(Int64.self, forKey: .effectiveFromMs)
        book = try c.decode(PriceBook.self, forKey: .book)
        services = try c.decodeIfPresent([ServiceID: ServicePrice].self, forKey: .services) ?? [:]
    }
}

/// Every price version one site has published, oldest first. A value of this type is always
/// valid: the initialiser checks it once, so rating never meets a negative price, an unordered
/// history or a malformed book.
public struct PriceHistory: Sendable, Hashable, Codable {
    public let site: SiteID
    /// Oldest first; version numbers and effective instants both strictly increase.
    public let versions: [PriceVersion]

    /// Throws every problem with `versions` at once (`versions[2].effective_from_ms: …`).
    public init(site: SiteID, versions: [PriceVersion]) throws(ValidationError) {
        let problems = Self.problems(site: site, versions: versions)
        guard problems.isEmpty else { throw ValidationError(problems) }
        self.site = site
        self.versions = versions
    }

    enum CodingKeys: String, CodingKey {
        case site, versions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            site: c.decode(SiteID.self, forKey: .site), versions: c.decode([PriceVersion].self, forKey: .versions))
    }

    /// Every problem with a would-be history; empty means valid.
    public static func problems(site: SiteID, versions: [PriceVersion]) -> [FieldError] {
        var problems: [FieldError] = []
        func problem(_ field: String, _ message: String) { problems.append(FieldError(field: field, message: message)) }
        if !site.isWellFormed { problem("site", "must be a well-formed site id") }
        if versions.isEmpty { problem("versions", "must list at least one price version") }
        for (index, entry) in versions.enumerated() {
            let path = "versions[\(index)]"
            if entry.version < 1 { problem("\(path).version", "must be positive") }
            if index > 0 {
                let previous = versions[index - 1]
                if entry.version <= previous.version {
                    problem("\(path).version", "must be greater than the version before it (\(previous.version))")
                }
                if entry.effectiveFromMs <= previous.effectiveFromMs {
                    problem(
                        "\(path).effective_from_ms",
                        "must be later than version \(previous.version)'s (\(previous.effectiveFromMs))")
                }
            }
            for bookProblem in entry.book.validate() { problem("\(path).book", bookProblem) }
            for (id, price) in entry.services.sorted(by: { $0.key < $1.key }) {
                let field = "\(path).services.\(id)"
                if !id.isWellFormed { problem(field, "service ids use letters, digits, '.', '_' and '-'") }
                if price.unit.isEmpty { problem("\(field).unit", "must name the unit priced") }
                if price.priceFen < 0 { problem("\(field).price_fen", "must not be negative") }
                if price.perUnits < 1 { problem("\(field).per_units", "must be at least 1") }
            }
        }
        return problems
    }

    /// The version in force at `ms`, or nil before the first one takes effect.
    public func version(atMs ms: Int64) -> PriceVersion? {
        let index = firstIndex(effectiveAfter: ms)
        return index == 0 ? nil : versions[index - 1]
    }

    /// The version numbered `number`, to recompute a charge line with the prices it used.
    public func version(numbered number: Int) -> PriceVersion? {
        versions.first { $0.version == number }
    }

    /// The first instant after `ms` at which a different version takes effect, if any.
    public func nextChange(afterMs ms: Int64) -> Int64? {
        let index = firstIndex(effectiveAfter: ms)
        return index < versions.count ? versions[index].effectiveFromMs : nil
    }

    /// Index of the first version taking effect strictly after `ms` (binary search; effective
    /// instants strictly increase).
    private func firstIndex(effectiveAfter ms: Int64) -> Int {
        var low = 0
        var high = versions.count
        while low < high {
            let mid = low + (high - low) / 2
            if versions[mid].effectiveFromMs <= ms { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
