import EstuaryModel

/// Turns usage into charge lines.
///
/// A record is cut at every instant where its price may change: each time-of-use boundary of
/// the site's book (in the site's local time), each new price version, and, when the site
/// states an hourly grid intensity, each local hour (so each line has one carbon intensity).
/// Adjacent pieces that agree on version, period and intensity stay one line.
///
/// **Rounding.** A line's amount is `quantity × priceFen / pricedQuantity`, the product taken
/// exactly in 128 bits, then rounded once to whole fen by the caller's `RoundingRule` (toward
/// zero for `.truncate`; to nearest, halves away from zero, for `.halfUp`). `amount(...)` is
/// the only place a charge is rounded: lines are never re-rounded, and a record's total is the
/// exact sum of its lines. So each line is within one fen of its exact value (under half-up,
/// within half a fen), and a line can always be recomputed from its own figures.
///
/// **Energy and carbon.** A record's energy is the metered figure when there is one, else
/// `units × board power × duration`, rounded half-up to whole Wh. It is shared out over the
/// lines by duration with largest remainders, so the lines' Wh sum exactly to it. Grams of CO2
/// are `energy × PUE × grid g/kWh × (1 − green share)`, computed in integers from the line's
/// exact (unrounded) energy share and rounded half-up per line.
public enum Rater {
    /// Milliseconds in an hour: compute is priced per unit-hour and measured in unit-ms.
    public static let msPerHour: Int64 = 3_600_000
    /// Instants rating accepts: the Unix epoch up to the end of year 9999, far beyond any real
    /// record and far enough from `Int64.max` that no time arithmetic can overflow.
    public static let instants: ClosedRange<Int64> = 0...253_402_300_799_999

    /// `quantity × priceFen / pricedQuantity` rounded by `rule`: the one place a charge is
    /// rounded.
    public static func amount(quantity: Int64, priceFen: Int64, per pricedQuantity: Int64, rule: RoundingRule)
        throws(LedgerError) -> Fen
    {
        guard pricedQuantity > 0 else { throw .invalid("a price must be for a positive quantity, not \(pricedQuantity)") }
        // Two Int64 factors: the product's magnitude is below 2^126, so Int128 holds it.
        let exact = Int128(quantity) * Int128(priceFen)
        return try LedgerArithmetic.fen(
            LedgerArithmetic.divide(exact, by: Int128(pricedQuantity), rule: rule),
            "\(quantity) × \(priceFen) fen / \(pricedQuantity)")
    }

    /// Prices one compute usage record. `spec` is the catalog entry of the record's class, for
    /// an energy estimate when the site did not meter; without either, lines carry no energy.
    /// Throws `.invalid` for a malformed record (every problem named) or a class the site's
    /// prices in force do not price, and `.overflow` when an amount or figure cannot be held.
    public static func rate(
        _ usage: UsageToRate, history: PriceHistory, energy: SiteEnergy, spec: AcceleratorSpec?, rule: RoundingRule
    ) throws(LedgerError) -> [ChargeLine] {
        try check(usage, history: history, energy: energy, spec: spec)
        guard usage.endMs > usage.startMs else { return [] }
        let pieces = try cut(usage, history: history, energy: energy)
        let durationMs = usage.endMs - usage.startMs
        let units = Int128(usage.units)
        let energyModel = try recordEnergy(usage, spec: spec, durationMs: durationMs)
        let shares = try energyModel.map { model throws(LedgerError) in
            try apportion(model.totalWh, over: pieces.map { $0.end - $0.start })
        }
        var lines: [ChargeLine] = []
        lines.reserveCapacity(pieces.count)
        for (index, piece) in pieces.enumerated() {
            let pieceMs = piece.end - piece.start
            // units ≤ UsageRecord.maxUnits and pieceMs ≤ UsageRecord.maxDurationMs (checked).
            let unitMs = Int64(units * Int128(pieceMs))
            var grams: Int64?
            if let model = energyModel {
                let numerator = try product(
                    model.whNumerator, Int128(pieceMs), Int128(energy.pueMilli), Int128(piece.gramsPerKWh),
                    Int128(10_000 - energy.greenShareBP), what: "CO2 of record \(usage.recordID)")
                let denominator = model.whDenominator * 10_000_000_000  // PUE ‰, g/kWh → g/Wh, bp
                let rounded = LedgerArithmetic.divide(numerator, by: denominator, rule: .halfUp)
                guard let whole = Int64(exactly: rounded) else { throw .overflow("CO2 of record \(usage.recordID)") }
                grams = whole
            }
            lines.append(
                ChargeLine(
                    recordID: usage.recordID, index: index, kind: .compute, serviceKind: nil, job: usage.job,
                    tenant: usage.tenant, site: usage.site, cls: usage.cls, service: nil, startMs: piece.start,
                    endMs: piece.end, quantity: unitMs, unit: "unit-ms", priceFen: piece.fenPerUnitHour,
                    pricedQuantity: msPerHour, tariff: piece.tariff, priceVersion: piece.version, rule: rule,
                    amountFen: try amount(quantity: unitMs, priceFen: piece.fenPerUnitHour, per: msPerHour, rule: rule),
                    energyWh: shares?[index], gramsCO2: grams))
        }
        return lines
    }

    /// Prices one non-compute usage. Use over an interval is shared out by duration (exactly,
    /// largest remainders) across any price version change inside it; use at one instant is
    /// priced at the version then in force. A zero quantity gives no lines.
    public static func rate(_ usage: ServiceUsage, history: PriceHistory, rule: RoundingRule) throws(LedgerError)
        -> [ChargeLine]
    {
        var problems = whereAndWhen(site: usage.site, startMs: usage.startMs, endMs: usage.endMs, history: history)
        if usage.quantity < 0 { problems.append("quantity must not be negative") }
        guard problems.isEmpty else { throw invalidRecord(usage.recordID, problems) }
        guard usage.quantity > 0 else { return [] }

        var pieces: [(start: Int64, end: Int64, version: PriceVersion)] = []
        var cursor = usage.startMs
        repeat {
            guard let version = history.version(atMs: cursor) else { throw noPrices(history, atMs: cursor) }
            let next = min(usage.endMs, history.nextChange(afterMs: cursor) ?? usage.endMs)
            pieces.append((cursor, next, version))
            cursor = next
        } while cursor < usage.endMs
        let quantities =
            usage.endMs == usage.startMs
            ? [usage.quantity] : try apportion(usage.quantity, over: pieces.map { $0.end - $0.start })

        var lines: [ChargeLine] = []
        for (piece, quantity) in zip(pieces, quantities) {
            guard let price = piece.version.services[usage.service] else {
                throw .unpricedService(site: history.site, service: usage.service, version: piece.version.version)
            }
            lines.append(
                ChargeLine(
                    recordID: usage.recordID, index: lines.count, kind: .service, serviceKind: price.kind,
                    job: usage.job, tenant: usage.tenant, site: usage.site, cls: nil, service: usage.service,
                    startMs: piece.start, endMs: piece.end, quantity: quantity, unit: price.unit,
                    priceFen: price.priceFen, pricedQuantity: price.perUnits, tariff: nil,
                    priceVersion: piece.version.version, rule: rule,
                    amountFen: try amount(quantity: quantity, priceFen: price.priceFen, per: price.perUnits, rule: rule),
                    energyWh: nil, gramsCO2: nil))
        }
        return lines
    }

    /// Splits `total` into parts proportional to `weights` that sum exactly to `total`: each
    /// part is its floor share, and the few units left over go to the largest remainders
    /// (earliest first on ties), so the result is deterministic.
    public static func apportion(_ total: Int64, over weights: [Int64]) throws(LedgerError) -> [Int64] {
        guard total >= 0, !weights.isEmpty, weights.allSatisfy({ $0 >= 0 }) else {
            throw .invalid("apportioning needs a non-negative total and non-negative weights")
        }
        let sum = weights.reduce(Int128(0)) { $0 + Int128($1) }
        guard sum > 0 else { throw .invalid("apportioning needs a positive total weight") }
        var parts: [Int64] = []
        var remainders: [(index: Int, remainder: Int128)] = []
        var given: Int128 = 0
        for (index, weight) in weights.enumerated() {
            let exact = Int128(total) * Int128(weight)  // < 2^126
            let part = exact / sum
            parts.append(Int64(part))  // part ≤ total
            given += part
            remainders.append((index, exact % sum))
        }
        let leftover = Int(Int128(total) - given)  // < weights.count
        let favoured = remainders.sorted { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
        for entry in favoured.prefix(leftover) { parts[entry.index] += 1 }
        return parts
    }

    // MARK: - Pieces

    private struct Piece {
        var start: Int64
        var end: Int64
        var version: Int
        var tariff: TariffKind
        var fenPerUnitHour: Int64
        var gramsPerKWh: Int
    }

    /// Cuts `[start, end)` where version, period or hourly intensity may change and merges
    /// neighbours that agree on all three.
    private static func cut(_ usage: UsageToRate, history: PriceHistory, energy: SiteEnergy) throws(LedgerError)
        -> [Piece]
    {
        let hourly = energy.hourlyGramsPerKWh.count == 24
        var pieces: [Piece] = []
        var cursor = usage.startMs
        while cursor < usage.endMs {
            guard let version = history.version(atMs: cursor) else { throw noPrices(history, atMs: cursor) }
            let book = version.book
            guard let price = book.prices[usage.cls] else {
                throw .unpriced(site: history.site, cls: usage.cls, version: version.version)
            }
            let tariff = book.kind(atMs: cursor)
            let intensity = energy.gramsPerKWh(localHour: book.localTime(atMs: cursor).minuteOfDay / 60)
            var next = min(usage.endMs, book.nextBoundary(afterMs: cursor))
            if let change = history.nextChange(afterMs: cursor) { next = min(next, change) }
            if hourly { next = min(next, nextLocalHour(afterMs: cursor, utcOffsetMinutes: book.utcOffsetMinutes)) }
            if let last = pieces.last, last.version == version.version, last.tariff == tariff,
                last.gramsPerKWh == intensity
            {
                pieces[pieces.count - 1].end = next
            } else {
                pieces.append(
                    Piece(
                        start: cursor, end: next, version: version.version, tariff: tariff,
                        fenPerUnitHour: price.fenPerUnitHour(tariff), gramsPerKWh: intensity))
            }
            cursor = next
        }
        return pieces
    }

    /// The next local hour edge after `ms` (offsets such as +05:45 put it mid-UTC-hour).
    private static func nextLocalHour(afterMs ms: Int64, utcOffsetMinutes: Int) -> Int64 {
        let offsetMs = Int64(utcOffsetMinutes) * 60_000
        let local = ms + offsetMs
        var hourStart = local / msPerHour * msPerHour
        if hourStart > local { hourStart -= msPerHour }  // floor for times before the epoch
        return hourStart + msPerHour - offsetMs
    }

    // MARK: - Energy

    /// A record's energy: exactly `whNumerator / whDenominator` Wh per millisecond of the
    /// record, and `totalWh` in whole Wh for the lines to share.
    private struct EnergyModel {
        var whNumerator: Int128
        var whDenominator: Int128
        var totalWh: Int64
    }

    private static func recordEnergy(_ usage: UsageToRate, spec: AcceleratorSpec?, durationMs: Int64)
        throws(LedgerError) -> EnergyModel?
    {
        if let metered = usage.measuredEnergyWh {
            return EnergyModel(whNumerator: Int128(metered), whDenominator: Int128(durationMs), totalWh: metered)
        }
        guard let spec else { return nil }
        // W × ms / 3,600,000 = Wh. Units ≤ 10^9, so the product fits Int128 for any Int power.
        let perMs = Int128(usage.units) * Int128(spec.powerWatts)
        let total = try product(perMs, Int128(durationMs), what: "energy of record \(usage.recordID)")
        guard let totalWh = Int64(exactly: LedgerArithmetic.divide(total, by: Int128(msPerHour), rule: .halfUp)) else {
            throw .overflow("energy of record \(usage.recordID)")
        }
        return EnergyModel(whNumerator: perMs, whDenominator: Int128(msPerHour), totalWh: totalWh)
    }

    /// A checked product: hostile figures report overflow instead of trapping.
    private static func product(_ factors: Int128..., what: @autoclosure () -> String) throws(LedgerError) -> Int128 {
        var result: Int128 = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { throw .overflow(what()) }
            result = next
        }
        return result
    }

    // MARK: - Checks

    private static func check(_ usage: UsageToRate, history: PriceHistory, energy: SiteEnergy, spec: AcceleratorSpec?)
        throws(LedgerError)
    {
        var problems = whereAndWhen(site: usage.site, startMs: usage.startMs, endMs: usage.endMs, history: history)
        if instants.contains(usage.startMs), instants.contains(usage.endMs), usage.endMs >= usage.startMs,
            usage.endMs - usage.startMs > UsageRecord.maxDurationMs
        {
            problems.append("lasts longer than the longest possible record (\(UsageRecord.maxDurationMs) ms)")
        }
        if !(1...UsageRecord.maxUnits).contains(usage.units) {
            problems.append("units must be between 1 and \(UsageRecord.maxUnits), not \(usage.units)")
        }
        if let metered = usage.measuredEnergyWh, metered < 0 { problems.append("measured energy must not be negative") }
        if let spec {
            if spec.name != usage.cls { problems.append("energy figures are for \(spec.name), not \(usage.cls)") }
            if spec.powerWatts < 0 { problems.append("\(spec.name) power must not be negative") }
        }
        problems += energy.validate().map { "site energy \($0)" }
        guard problems.isEmpty else { throw invalidRecord(usage.recordID, problems) }
    }

    /// The problems any usage (compute or service) can have: rated with another site's prices,
    /// times outside 1970…9999, or an end before the start.
    private static func whereAndWhen(site: SiteID, startMs: Int64, endMs: Int64, history: PriceHistory) -> [String] {
        var problems: [String] = []
        if site != history.site { problems.append("site \(site) is rated with \(history.site)'s prices") }
        if !instants.contains(startMs) || !instants.contains(endMs) {
            problems.append("times must lie within \(instants.lowerBound)…\(instants.upperBound) ms")
        } else if endMs < startMs {
            problems.append("ends (\(endMs)) before it starts (\(startMs))")
        }
        return problems
    }

    private static func invalidRecord(_ id: UsageRecordID, _ problems: [String]) -> LedgerError {
        .invalid("usage record \(id): " + problems.joined(separator: "; "))
    }

    private static func noPrices(_ history: PriceHistory, atMs ms: Int64) -> LedgerError {
        .invalid(
            "site \(history.site) had no prices at \(ms) ms: its first price version takes effect at "
                + "\(history.versions.first?.effectiveFromMs ?? 0) ms")
    }
}
