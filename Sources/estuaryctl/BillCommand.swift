import ArgumentParser
import EstuaryLedger
import EstuaryModel

/// `estuaryctl bill`
struct BillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bill",
        abstract: "Show what a tenant was charged in a billing period (default: the current one).",
        discussion: """
            The tenant's charges by site and class: GROSS at list price, the part a compute
            VOUCHER paid and what is PAYABLE from the wallet, in CNY; then the period's totals,
            the wallet's top-ups and net change, and the estimated energy (kWh) and CO2 (kg).
            Periods are calendar months in the coordinator's billing time zone (UTC+8 by
            default). A period's bill is provisional until the period is settled
            (`estuaryctl settle PERIOD`). A tenant with nothing charged or paid in the period
            has no bill: estuaryctl says so and exits 3.

            An admin token reads any tenant's bill; a tenant token only its own.

            Examples:
              estuaryctl bill gz-ai-lab
              estuaryctl bill gz-ai-lab --period 2026-11
              estuaryctl bill gz-ai-lab --period 2026-11 --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Tenant id.") var tenant: String
    @Option(help: ArgumentHelp("The billing period, a month: 2026-11 (default: the current one).", valueName: "yyyy-mm"))
    var period: String?

    func validate() throws {
        try IdentifierArgument.check(tenant, "tenant id")
        if let period { _ = try PeriodArgument.parse(period) }
    }

    func run() async throws {
        var query = [("tenant", tenant)]
        if let period { query.append(("period", period)) }
        let when = period.map { "in \($0)" } ?? "in the current period"
        let invoice = try await NotFound.said(
            "tenant \(tenant) has no bill \(when): nothing was charged to it or paid into its wallet (or there is no such tenant)"
        ) {
            try await global.withClient { client in try await client.get("/v1/bill", query: query, as: TenantInvoice.self) }
        }
        if global.json { return try Output.json(invoice) }
        Output.line(ReportText.invoice(invoice))
        if period == nil {
            Output.line("\n\(invoice.period) is the current period, still open: this bill is provisional and grows as usage is rated")
        }
    }
}

/// A 404 from a money route, said in the command's words (exit 3).
enum NotFound {
    /// Runs `body`; a 404 becomes `message`. A coordinator that does not know the route at all
    /// (older than the ledger) keeps its own answer, which says so.
    static func said<T>(_ message: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch CLIError.api(let status, let answer, _) where status == 404 && !answer.error.message.hasPrefix("no such route") {
            throw CLIError.nothing(message)
        }
    }
}
