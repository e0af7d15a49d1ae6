import ArgumentParser
import EstuaryModel

/// `estuaryctl usage`
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show metered usage: which units of which class ran how long, per job attempt.",
        discussion: """
            One line per usage record, as the sites measured it, with unit-hours
            (units × hours held). Pricing and bills come from the ledger, not from here.

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
        var table = TextTable("RECORD", "JOB", "SITE", "CLASS", "UNITS", "STARTED", "DURATION", "UNIT-HOURS", rightAligned: [4, 7])
        var total: Int64 = 0
        for record in records.sorted(by: { $0.startedAtMs < $1.startedAtMs }) {
            total += record.unitMilliseconds
            table.add(
                record.id.rawValue, record.jobID.rawValue, record.siteID.rawValue, record.acceleratorClass.rawValue,
                String(record.units), TimeText.utc(ms: record.startedAtMs),
                TimeText.duration(seconds: Int(record.durationMs / 1000)), unitHours(record.unitMilliseconds)
            )
        }
        if records.count > 1 { table.add("total", "", "", "", "", "", "", unitHours(total)) }
        return table.rendered
    }

    /// Unit-milliseconds as unit-hours with two decimals, in integer arithmetic.
    static func unitHours(_ unitMilliseconds: Int64) -> String {
        let hundredths = (unitMilliseconds + 18_000) / 36_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
