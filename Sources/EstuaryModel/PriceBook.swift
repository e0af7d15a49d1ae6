/// The time-of-use period kinds of Chinese tariffs.
public enum TariffKind: String, Sendable, Hashable, Codable, CaseIterable {
    case peak, flat, valley
}

/// Which days a tariff period applies on. Public holidays and the State Council's swapped
/// working days are not modelled: a date is a workday when it is Monday to Friday.
public enum DayType: String, Sendable, Hashable, Codable, CaseIterable {
    case all, workday, weekend
}

/// One time-of-use period: `[start, end)` in minutes after local midnight. `end < start` wraps
/// past midnight (`23:00–07:00`). Times no period covers are `flat`.
public struct TariffPeriod: Sendable, Hashable, Codable {
    public var kind: TariffKind
    public var days: DayType
    public var startMinute: Int
    public var endMinute: Int

    public init(kind: TariffKind, days: DayType = .all, startMinute: Int, endMinute: Int) {
        self.kind = kind
        self.days = days
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    enum CodingKeys: String, CodingKey {
        case kind, days
        case startMinute = "start_minute"
        case endMinute = "end_minute"
    }

    func covers(minuteOfDay minute: Int, weekend: Bool) -> Bool {
        switch days {
        case .all: break
        case .workday: if weekend { return false }
        case .weekend: if !weekend { return false }
        }
        if startMinute <= endMinute { return minute >= startMinute && minute < endMinute }
        return minute >= startMinute || minute < endMinute
    }
}

/// List prices of one class at one site, in fen per unit-hour, by tariff period. A missing
/// peak or valley price means the flat price applies then too.
public struct ClassPrice: Sendable, Hashable, Codable {
    public var flat: Int64
    public var peak: Int64?
    public var valley: Int64?

    public init(flat: Int64, peak: Int64? = nil, valley: Int64? = nil) {
        self.flat = flat
        self.peak = peak
        self.valley = valley
    }

    public func fenPerUnitHour(_ kind: TariffKind) -> Int64 {
        switch kind {
        case .flat: flat
        case .peak: peak ?? flat
        case .valley: valley ?? flat
        }
    }
}

/// A site's list prices with their time-of-use periods, in the site's local time. The offset
/// is fixed (China has no daylight saving time); IANA zones are not modelled.
public struct PriceBook: Sendable, Hashable, Codable {
    public var prices: [AcceleratorClass: ClassPrice]
    public var periods: [TariffPeriod]
    /// Local time minus UTC, in minutes (`480` for China Standard Time).
    public var utcOffsetMinutes: Int

    public init(prices: [AcceleratorClass: ClassPrice] = [:], periods: [TariffPeriod] = [], utcOffsetMinutes: Int = 480) {
        self.prices = prices
        self.periods = periods
        self.utcOffsetMinutes = utcOffsetMinutes
    }

    enum CodingKeys: String, CodingKey {
        case prices, periods
        case utcOffsetMinutes = "utc_offset_minutes"
    }

    // `prices` is a JSON object keyed by class name (a dictionary with a non-String key would
    // encode as a flat array of alternating keys and values).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let byName = try c.decodeIfPresent([String: ClassPrice].self, forKey: .prices) ?? [:]
        prices = Dictionary(uniqueKeysWithValues: byName.map { (AcceleratorClass(rawValue: $0.key), $0.value) })
        periods = try c.decodeIfPresent([TariffPeriod].self, forKey: .periods) ?? []
        utcOffsetMinutes = try c.decodeIfPresent(Int.self, forKey: .utcOffsetMinutes) ?? 480
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Dictionary(uniqueKeysWithValues: prices.map { ($0.key.rawValue, $0.value) }), forKey: .prices)
        try c.encode(periods, forKey: .periods)
        try c.encode(utcOffsetMinutes, forKey: .utcOffsetMinutes)
    }

    /// Minutes after local midnight, and whether the local date is a Saturday or Sunday.
    public func localTime(atMs ms: Int64) -> (minuteOfDay: Int, weekend: Bool) {
        let localMinutes = floorDiv(ms, 60_000) + Int64(utcOffsetMinutes)
        let day = floorDiv(localMinutes, 1440)
        let minute = Int(localMinutes - day * 1440)
        // 1970-01-01 was a Thursday: day 0 → weekday index 3 with Monday = 0.
        let weekday = Int(((day + 3) % 7 + 7) % 7)
        return (minute, weekday >= 5)
    }

    /// The tariff period in force at `ms`; the first matching period wins.
    public func kind(atMs ms: Int64) -> TariffKind {
        let (minute, weekend) = localTime(atMs: ms)
        return periods.first { $0.covers(minuteOfDay: minute, weekend: weekend) }?.kind ?? .flat
    }

    /// The list price of one unit of `cls` for an hour starting at `ms`'s period, or nil when
    /// the site does not price the class.
    public func fenPerUnitHour(_ cls: AcceleratorClass, atMs ms: Int64) -> Int64? {
        prices[cls]?.fenPerUnitHour(kind(atMs: ms))
    }

    /// The first instant after `ms` at which the period in force may change: the next period
    /// edge or local midnight (day types change there), whichever comes first.
    public func nextBoundary(afterMs ms: Int64) -> Int64 {
        let (minute, _) = localTime(atMs: ms)
        var edges = Set([0, 1440])
        for period in periods {
            edges.insert(period.startMinute)
            edges.insert(period.endMinute)
        }
        let next = edges.filter { $0 > minute }.min() ?? 1440
        let minuteStartMs = floorDiv(ms, 60_000) * 60_000
        return minuteStartMs + Int64(next - minute) * 60_000
    }

    /// Every problem with this book; empty means valid.
    public func validate() -> [String] {
        var problems: [String] = []
        for (cls, price) in prices.sorted(by: { $0.key < $1.key }) {
            for (kind, value) in [("flat", price.flat), ("peak", price.peak ?? 0), ("valley", price.valley ?? 0)] where value < 0 {
                problems.append("prices.\(cls).\(kind): must not be negative")
            }
        }
        for (index, period) in periods.enumerated() {
            if !(0..<1440).contains(period.startMinute) || !(0...1440).contains(period.endMinute)
                || period.startMinute == period.endMinute
            {
                problems.append("periods[\(index)]: start and end must be distinct times of day")
            }
        }
        if !(-720...840).contains(utcOffsetMinutes) { problems.append("utc_offset_minutes: must be within -12:00…+14:00") }
        return problems
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
