import ArgumentParser
import EstuaryLedger
import EstuaryModel

/// `estuaryctl settle`
struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Close a billing period that has ended and print its settlement (admin tokens only).",
        discussion: """
            Settling streams the period's journal into a statement per site, an invoice per
            tenant and a disbursement per voucher programme, checks that they reconcile,
            stores the report and freezes the period: nothing can be posted into it after.
            Settling a period again prints the stored report. A period that has not ended
            yet (calendar months in the coordinator's billing time zone, UTC+8 by default)
            cannot be settled (exit 1); `estuaryctl settlement show PERIOD` shows it so far.

            Printed: what each site is owed, what each tenant pays, what each voucher
            programme paid, the totals, usage that could not be rated, and the
            reconciliation's verdict. If the period does not reconcile (the postings do not
            sum to zero, a charge does not match its usage record, the totals do not tie),
            the period is closed all the same, the failures are listed and estuaryctl exits 1.

            Examples:
              estuaryctl settle 2026-11
              estuaryctl settle 2026-11 --json > settlement-2026-11.json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The billing period, a month: 2026-11.", valueName: "yyyy-mm")) var period: String

    func validate() throws { _ = try PeriodArgument.parse(period) }

    func run() async throws {
        let wanted = try PeriodArgument.parse(period)
        let (view, status): (SettlementView, Int)
        do {
            (view, status) = try await global.withClient { client in
                try await client.post("/v1/settlements", json: SettleRequest(period: wanted), as: SettlementView.self)
            }
        } catch CLIError.api(let status, let answer, _) where status == 409 {
            throw CLIError.api(
                status: status, body: answer,
                hint: "a period can be settled once it has ended; `estuaryctl settlement show \(wanted)` shows it so far")
        }
        if global.json {
            try Output.json(view)
        } else {
            let when = view.closedAtMs.map { TimeText.utc(ms: $0) } ?? "?"
            let heading =
                status == 201
                ? "period \(view.period) settled now (\(when)): its journal is frozen and this report stored"
                : "period \(view.period) was settled before, at \(when): this is its stored report"
            Output.line(heading + "\n\n" + SettlementText.summary(view))
        }
        try SettlementVerdict.check(view, json: global.json)
    }
}

/// Exit 1 for a period whose reports do not reconcile, saying so.
enum SettlementVerdict {
    static func check(_ view: SettlementView, json: Bool) throws {
        guard !view.report.reconciliation.ok else { return }
        let failures = json ? "the failures under `report.reconciliation` in the JSON" : "the failures listed above"
        throw CLIError.other(
            "period \(view.period) does not reconcile: its reports cannot be trusted until \(failures) are explained")
    }
}

/// `estuaryctl settlement …`
struct SettlementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settlement",
        abstract: "See settled (and still open) billing periods: the whole report, an invoice, a disbursement.",
        discussion: """
            `estuaryctl settle PERIOD` closes a period; these commands read. A site's own
            statement is `estuaryctl statement SITE PERIOD`, a tenant's bill
            `estuaryctl bill TENANT --period PERIOD`. Admin tokens may use every one of
            these; a tenant token may read its own invoice.
            """,
        subcommands: [Show.self, List.self, Invoice.self, Disbursement.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a period's settlement: sites, tenants, voucher programmes, totals, reconciliation.",
            discussion: """
                A period not yet settled is computed now from its journal and marked
                provisional: its figures change until it is settled. Exits 1, after
                printing, if the period does not reconcile. Admin tokens only.

                Examples:
                  estuaryctl settlement show 2026-11
                  estuaryctl settlement show 2026-12 --json
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The billing period, a month: 2026-11.", valueName: "yyyy-mm")) var period: String

        func validate() throws { _ = try PeriodArgument.parse(period) }

        func run() async throws {
            let view = try await global.withClient { client in
                try await client.get("/v1/settlements/\(period)", as: SettlementView.self)
            }
            if global.json {
                try Output.json(view)
            } else {
                let heading: String
                if view.closed {
                    heading = "period \(view.period): settled at \(view.closedAtMs.map { TimeText.utc(ms: $0) } ?? "?")"
                } else {
                    heading =
                        "period \(view.period): PROVISIONAL, not settled yet; the figures change until "
                        + "`estuaryctl settle \(view.period)` closes it (once it has ended)"
                }
                Output.line(heading + "\n\n" + SettlementText.summary(view))
            }
            try SettlementVerdict.check(view, json: global.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the settled periods, oldest first (admin tokens only).",
            discussion: """
                Example:
                  estuaryctl settlement list
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let list = try await global.withClient { client in try await client.get("/v1/settlements", as: SettlementListView.self) }
            if global.json { return try Output.json(list) }
            guard !list.periods.isEmpty else { return Output.error("no period has been settled yet") }
            Output.line(SettlementText.list(list))
        }
    }

    struct Invoice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "invoice",
            abstract: "Show a tenant's invoice for a period.",
            discussion: """
                The same figures as `estuaryctl bill TENANT --period PERIOD`, read from the
                period's settlement (provisional while the period is open). Exits 3 when the
                tenant was charged nothing and paid nothing in that period. An admin token
                reads any tenant's invoice; a tenant token only its own.

                Example:
                  estuaryctl settlement invoice gz-ai-lab 2026-11
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var tenant: String
        @Argument(help: ArgumentHelp("The billing period, a month: 2026-11.", valueName: "yyyy-mm")) var period: String

        func validate() throws {
            try IdentifierArgument.check(tenant, "tenant id")
            _ = try PeriodArgument.parse(period)
        }

        func run() async throws {
            let invoice = try await NotFound.said(
                "tenant \(tenant) has no invoice for \(period): nothing was charged to it or paid into its wallet (or there is no such tenant)"
            ) {
                try await global.withClient { client in
                    try await client.get("/v1/settlements/\(period)/invoices/\(tenant)", as: TenantInvoice.self)
                }
            }
            if global.json { return try Output.json(invoice) }
            Output.line(ReportText.invoice(invoice))
        }
    }

    struct Disbursement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disbursement",
            abstract: "Show what a voucher programme paid in a period, by year, tenant and site (admin tokens only).",
            discussion: """
                The report a programme's sponsor audits. Provisional while the period is open.
                Exits 3 when the programme paid nothing in that period.

                Example:
                  estuaryctl settlement disbursement gz-compute-voucher 2026-11
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Voucher programme id.") var program: String
        @Argument(help: ArgumentHelp("The billing period, a month: 2026-11.", valueName: "yyyy-mm")) var period: String

        func validate() throws {
            try IdentifierArgument.check(program, "voucher programme id")
            _ = try PeriodArgument.parse(period)
        }

        func run() async throws {
            let report = try await NotFound.said(
                "voucher programme \(program) paid nothing in \(period) (or there is no such programme)"
            ) {
                try await global.withClient { client in
                    try await client.get("/v1/settlements/\(period)/disbursements/\(program)", as: ProgramDisbursement.self)
                }
            }
            if global.json { return try Output.json(report) }
            Output.line(ReportText.disbursement(report))
        }
    }
}
