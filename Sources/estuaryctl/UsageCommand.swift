import ArgumentParser
import EstuaryLedger
import EstuaryModel

/// `estuaryctl usage`
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show metered usage and what it cost, per job attempt.",
        discussion: """
            One line per usage record, as the sites measured it, with unit-seconds
            (units × seconds held, exact to the millisecond) and, once the coordinator
            has rated it, what it cost in CNY: GROSS at list price, the part a compute
            VOUCHER paid, and what is PAYABLE from the tenant's wallet; CO2 is the
            estimated kilograms of CO2. A record not rated (yet) has blank amounts and a
            note below the table saying why. Totals of unit-seconds are per class; money
            and CO2 add up across classes.

            Examples:
              estuaryctl usage
              estuaryctl usage --tenant gz-ai-lab --site pengcheng-ascend
              estuaryctl usage --job j-0001 --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this job's usage.") var job: String?
    @Option(help: "Only this tenant's usage.") var tenant: String?
    @Option(help: "Only usage measured at this site.") var site: String?

    func validate() throws {
        if let job { try IdentifierArgument.check(job, "job id") }
        if let tenant { try IdentifierArgument.check(tenant, "tenant id") }
        if let site { try IdentifierArgument.check(site, "site id") }
    }

    func run() async throws {
        let query = [("job", job), ("tenant", tenant), ("site", site)].compactMap { name, value in value.map { (name, $0) } }
        let usage = try await global.withClient { client in try await client.get("/v1/usage", query: query, as: MeteredUsageView.self) }
        if global.json { return try Output.json(usage) }
        guard !usage.records.isEmpty else { return Output.error("no usage recorded") }
        Output.line(Self.table(usage.records, metered: usage.metered))
        if usage.metered == nil { Output.error("note: this coordinator does not rate usage, so no amounts are shown") }
    }

    static func table(_ records: [UsageRecord], metered: [MeteredUsage]?) -> String {
        let rated = metered != nil
        var headings = ["RECORD", "JOB", "SITE", "CLASS", "UNITS", "STARTED", "DURATION", "UNIT-SECONDS"]
        if rated { headings += ["GROSS", "VOUCHER", "PAYABLE", "CO2 KG"] }
        var table = TextTable(rightAligned: [4, 7, 8, 9, 10, 11])
        table.headings = headings
        let byRecord = Dictionary((metered ?? []).map { ($0.record.id, $0) }, uniquingKeysWith: { first, _ in first })

        var unitTotals: [String: Int64] = [:]
        var classTotals: [String: Totals] = [:]
        var total = Totals()
        var notes: [String] = []
        for record in records.sorted(by: { $0.startedAtMs < $1.startedAtMs }) {
            let cls = record.acceleratorClass.rawValue
            unitTotals[cls, default: 0] += record.unitMilliseconds
            var row = [
                record.id.rawValue, record.jobID.rawValue, record.siteID.rawValue, cls, String(record.units),
                TimeText.utc(ms: record.startedAtMs), TimeText.duration(seconds: Int(record.durationMs / 1000)),
                unitSeconds(record.unitMilliseconds),
            ]
            if rated {
                if let charge = byRecord[record.id]?.charge {
                    classTotals[cls, default: Totals()].add(charge)
                    total.add(charge)
                    row += [
                        MoneyText.amount(charge.grossFen), MoneyText.amount(charge.voucherFen),
                        MoneyText.amount(Int128(charge.grossFen) - Int128(charge.voucherFen)),
                        charge.gramsCO2.map { MoneyText.kilograms(grams: $0) } ?? "",
                    ]
                } else {
                    let reason = byRecord[record.id]?.unrated ?? "not rated yet"
                    notes.append("\(record.id) unrated: \(reason)")
                    row += ["", "", "", ""]
                }
            }
            table.rows.append(row)
        }
        // Unit-seconds of different classes do not add up to anything; money and CO2 do.
        if records.count > 1 {
            for (cls, unitMs) in unitTotals.sorted(by: { $0.key < $1.key }) {
                let money = rated ? classTotals[cls, default: Totals()].cells : []
                table.rows.append(["total", "", "", cls, "", "", "", unitSeconds(unitMs)] + money)
            }
            if rated, unitTotals.count > 1 {
                table.rows.append(["total", "", "", "all classes", "", "", "", ""] + total.cells)
            }
        }
        var text = table.rendered.trimmingTrailingSpaces
        if rated {
            text += "\n\namounts in CNY; CO2 in kg (estimated)"
            if !notes.isEmpty { text += "; totals leave out unrated records:\n" + notes.joined(separator: "\n") }
        }
        return text
    }

    /// Sums of rated records, in 128 bits so that no total can overflow.
    struct Totals {
        var grossFen: Int128 = 0
        var voucherFen: Int128 = 0
        var gramsCO2: Int128 = 0
        var co2Known = false
        var rated = 0

        mutating func add(_ charge: PostedCharge) {
            rated += 1
            grossFen += Int128(charge.grossFen)
            voucherFen += Int128(charge.voucherFen)
            if let grams = charge.gramsCO2 {
                gramsCO2 += Int128(grams)
                co2Known = true
            }
        }

        /// Blank when no record was rated: a sum of nothing is not 0.00.
        var cells: [String] {
            guard rated > 0 else { return ["", "", "", ""] }
            return [
                MoneyText.amount(grossFen), MoneyText.amount(voucherFen), MoneyText.amount(grossFen - voucherFen),
                co2Known ? MoneyText.kilograms(grams: gramsCO2) : "",
            ]
        }
    }

    /// Unit-milliseconds as exact unit-seconds with three decimals (integer arithmetic).
    static func unitSeconds(_ unitMilliseconds: Int64) -> String {
        let fraction = String(unitMilliseconds % 1000)
        return "\(unitMilliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
