import ArgumentParser
import EstuaryLedger
import EstuaryModel

/// `estuaryctl statement`
struct StatementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statement",
        abstract: "Show what a site earned in a billing period: its statement, or every charge as CSV.",
        discussion: """
            The statement: usage and gross by class, the parts vouchers and tenants paid, the
            platform fee, what the site is owed (gross − fee), adjustments, and the estimated
            energy and CO2. Provisional while the period is open. A site charged nothing in
            the period has no statement (exit 3).

            --csv prints the coordinator's CSV export instead, as it is: one row per rated
            usage record, every amount in fen and in CNY, with price versions and tariffs
            (a site charged nothing gets the header line alone).

            An admin token reads any site's statement; a site-operator token its own site's.

            Examples:
              estuaryctl statement pengcheng-ascend 2026-11
              estuaryctl statement pengcheng-ascend 2026-11 --csv > pengcheng-ascend-2026-11.csv
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Site id.") var site: String
    @Argument(help: ArgumentHelp("The billing period, a month: 2026-11.", valueName: "yyyy-mm")) var period: String
    @Flag(help: "Print every charge of the site in the period as CSV (text/csv), as the coordinator exports it.")
    var csv = false

    func validate() throws {
        try IdentifierArgument.check(site, "site id")
        _ = try PeriodArgument.parse(period)
        if csv, global.json { throw ValidationError("give --csv or --json, not both") }
    }

    func run() async throws {
        let path = "/v1/settlements/\(period)/statements/\(site)"
        if csv {
            return try await global.withClient { client in
                try await client.getBody(path, query: [("format", "csv")], accept: "text/csv") { piece in
                    Output.bytes(piece.readableBytesView)
                }
            }
        }
        let statement = try await NotFound.said(
            "site \(site) has no statement for \(period): nothing was charged there in that period (or there is no such site)"
        ) {
            try await global.withClient { client in try await client.get(path, as: SiteStatement.self) }
        }
        if global.json { return try Output.json(statement) }
        Output.line(ReportText.statement(statement))
    }
}
