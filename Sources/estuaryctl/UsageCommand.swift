import ArgumentParser
import EstuaryModel

/// `estuaryctl usage`
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show metered usage: which units of which class ran how long, per job attempt.",
        discussion: """
            One line per usage record, as the sites measured it, with unit-seconds
            (units × seconds held, exact to the millisecond) and a total per class.
            Pricing and bills come from the ledger, not from here.

            Examples:
              estuaryctl usage
              estuaryctl usage --job j-0001 --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this job's usage.") var job: String?

    func run() async throws {
        let query = job.map { [("job", $0)] } ?? []
        let usage = try await global.withClient { client in try await client.get("/v1/usage", query: query, as: UsageView.self) }
        if global.json { return try Output.json(usage) }
        guard !usage.records.isEmpty else { return Output.error("no usage recorded") }
        Output.line(Self.table(usage.records))
    }

    static func table(_ records: [UsageRecord]) -> String {
        var table = TextTable("RECORD", "JOB", "SITE", "CLASS", "UNITS", "STARTED", "DURATION", "UNIT-SECONDS", rightAligned: [4, 7])
        var totals: [String: Int64] = [:]
        for record in records.sorted(by: { $0.startedAtMs < $1.startedAtMs }) {
            totals[record.acceleratorClass.rawValue, default: 0] += record.unitMilliseconds
            table.add(
                record.id.rawValue, record.jobID.rawValue, record.siteID.rawValue, record.acceleratorClass.rawValue,
                String(record.units), TimeText.utc(ms: record.startedAtMs),
                TimeText.duration(seconds: Int(record.durationMs / 1000)), unitSeconds(record.unitMilliseconds)
            )
        }
        // Totals per class: unit-seconds of different classes do not add up to anything.
        if records.count > 1 {
            for (acceleratorClass, total) in totals.sorted(by: { $0.key < $1.key }) {
                table.add("total", "", "", acceleratorClass, "", "", "", unitSeconds(total))
            }
        }
        return table.rendered
    }

    /// Unit-milliseconds as exact unit-seconds with three decimals (integer arithmetic).
    static func unitSeconds(_ unitMilliseconds: Int64) -> String {
        let fraction = String(unitMilliseconds % 1000)
        return "\(unitMilliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
