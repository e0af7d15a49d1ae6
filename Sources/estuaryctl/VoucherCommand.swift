import ArgumentParser
import EstuaryConfig
import EstuaryLedger
import EstuaryModel

/// `estuaryctl voucher …`
struct VoucherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voucher",
        abstract: "Compute-voucher programmes (算力券): create them, enrol tenants, see what is left.",
        discussion: """
            A programme pays a share of its tenants' eligible compute (GPU, NPU, DCU; never CPU,
            storage, network or security) from providers not affiliated with the tenant, up to
            a per-tenant annual cap and the programme's annual budget (docs/MONEY.md).
            Creating programmes and enrolling tenants need an admin token; any token may list
            and show programmes; a tenant token may see its own balance.
            """,
        subcommands: [Program.self, Grant.self, Balance.self]
    )

    struct Program: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "program",
            abstract: "Create, list and show voucher programmes.",
            subcommands: [Create.self, List.self, Show.self]
        )
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract: "Enrol a tenant in a voucher programme.",
            discussion: """
                The tenant's category (`tenant create --category`) decides its annual cap. A
                tenant is enrolled in one programme at a time.

                Example:
                  estuaryctl voucher grant gz-compute-voucher gz-ai-lab
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Programme id.") var program: String
        @Argument(help: "Tenant id.") var tenant: String

        func validate() throws {
            try IdentifierArgument.check(program, "programme id")
            try IdentifierArgument.check(tenant, "tenant id")
        }

        func run() async throws {
            let view = try await global.withClient { client in
                try await client.post(
                    "/v1/voucher-programs/\(program)/grants", json: GrantRequest(tenant: TenantID(rawValue: tenant)), as: TenantView.self
                ).0
            }
            if global.json { return try Output.json(view) }
            Output.line("tenant \(view.tenant) enrolled in voucher programme \(view.voucherProgram?.rawValue ?? program)")
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "balance",
            abstract: "Show a tenant's voucher allowances: cap, used and left per programme year (CNY).",
            discussion: """
                A year never drawn on shows its full cap.

                Example:
                  estuaryctl voucher balance gz-ai-lab
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var tenant: String

        func validate() throws { try IdentifierArgument.check(tenant, "tenant id") }

        func run() async throws {
            let balance = try await global.withClient { client in
                try await client.get("/v1/tenants/\(tenant)/vouchers", as: VoucherBalanceView.self)
            }
            if global.json { return try Output.json(balance) }
            Output.line(VoucherText.balance(balance))
        }
    }
}

extension VoucherCommand.Program {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a voucher programme from a programme file.",
            discussion: """
                The file is TOML (Agents/programs/guangzhou.toml shows every key). It is
                checked before anything is sent; every problem is listed with its field
                (exit 4).

                Example:
                  estuaryctl voucher program create --file Agents/programs/guangzhou.toml
                """
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The programme file.", valueName: "program.toml"), completion: .file(extensions: ["toml"]))
        var file: String

        func run() async throws {
            let program = try ConfigInput.load(file, VoucherProgram.load(path:))
            let view = try await global.withClient { client in
                try await client.post("/v1/voucher-programs", json: program, as: ProgramView.self).0
            }
            if global.json { return try Output.json(view) }
            Output.line(VoucherText.details(view))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List voucher programmes with what is left of this year's budget (CNY).",
            discussion: """
                Example:
                  estuaryctl voucher program list
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let list = try await global.withClient { client in try await client.get("/v1/voucher-programs", as: ProgramListView.self) }
            if global.json { return try Output.json(list) }
            guard !list.programs.isEmpty else { return Output.error("no voucher programmes") }
            Output.line(VoucherText.table(list.programs))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a voucher programme: its rules, its budget per year and its tenants.",
            discussion: """
                Example:
                  estuaryctl voucher program show gz-compute-voucher
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Programme id.") var program: String

        func validate() throws { try IdentifierArgument.check(program, "programme id") }

        func run() async throws {
            let view = try await global.withClient { client in
                try await client.get("/v1/voucher-programs/\(program)", as: ProgramView.self)
            }
            if global.json { return try Output.json(view) }
            Output.line(VoucherText.details(view))
        }
    }
}

/// How voucher programmes and allowances are shown.
enum VoucherText {
    static func details(_ view: ProgramView) -> String {
        let program = view.program
        let offset = program.utcOffsetMinutes
        var coverage = MoneyText.percent(basisPoints: program.coverageBasisPoints) + " of eligible compute"
        if let domestic = program.domesticCoverageBasisPoints {
            coverage += "; \(MoneyText.percent(basisPoints: domestic)) on domestic accelerators"
        }
        var cap = MoneyText.amount(program.tenantAnnualCap) + " CNY a year"
        for (category, amount) in program.categoryCaps.sorted(by: { $0.key < $1.key }) {
            cap += "; \(category): \(MoneyText.amount(amount)) CNY"
        }
        let fields: [(String, String)] = [
            ("programme", program.id.rawValue),
            ("name", program.name),
            ("valid from", LocalTimeText.both(ms: program.validFromMs, offsetMinutes: offset)),
            ("valid until", LocalTimeText.both(ms: program.validUntilMs, offsetMinutes: offset) + ", exclusive"),
            ("coverage", coverage),
            ("eligible", program.eligibleKinds.map(\.rawValue).sorted().joined(separator: ", ")
                + ", from providers not affiliated with the tenant"),
            ("providers", program.approvedProviders.map { $0.sorted().joined(separator: ", ") } ?? "any"),
            ("tenant cap", cap),
            ("annual budget", MoneyText.amount(program.annualBudget) + " CNY"),
            ("years", "calendar years at UTC\(LocalTimeText.offset(minutes: offset))"),
            ("rounding", program.rounding.rawValue),
        ]
        let width = fields.map(\.0.count).max() ?? 0
        var text = fields.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")

        var years = TextTable("YEAR", "BUDGET", "PAID", "LEFT", rightAligned: [0, 1, 2, 3])
        for year in view.years.sorted(by: { $0.year < $1.year }) {
            years.add(String(year.year), MoneyText.amount(year.budgetFen), MoneyText.amount(year.paidFen), MoneyText.amount(year.leftFen))
        }
        text += "\n\n" + (view.years.isEmpty ? "no budget year opened yet (nothing paid)" : years.rendered)
        let tenants = view.tenants.sorted()
        text += "\n\ntenants (\(tenants.count)): " + (tenants.isEmpty ? "none" : tenants.map(\.rawValue).joined(separator: ", "))
        return text
    }

    static func table(_ programs: [ProgramView], now: Int64 = TimeText.nowMs()) -> String {
        var table = TextTable(
            "PROGRAMME", "NAME", "VALID FROM", "VALID UNTIL", "COVERAGE", "TENANT CAP", "BUDGET LEFT", "TENANTS",
            rightAligned: [4, 5, 6, 7])
        for view in programs.sorted(by: { $0.program.id < $1.program.id }) {
            let program = view.program
            let offset = program.utcOffsetMinutes
            table.add(
                program.id.rawValue, program.name, String(LocalTimeText.local(ms: program.validFromMs, offsetMinutes: offset).prefix(10)),
                String(LocalTimeText.local(ms: program.validUntilMs, offsetMinutes: offset).prefix(10)),
                MoneyText.percent(basisPoints: program.coverageBasisPoints), MoneyText.amount(program.tenantAnnualCap),
                budgetLeft(view, now: now), String(view.tenants.count))
        }
        return table.rendered
    }

    /// What is left of the budget of the programme year containing `now`: `99,998,765.44 (2026)`;
    /// the whole budget when that year has not been drawn on.
    static func budgetLeft(_ view: ProgramView, now: Int64) -> String {
        guard let year = try? view.program.year(atMs: now) else { return "-" }
        let left = view.years.first { $0.year == year }?.leftFen ?? view.program.annualBudget
        return "\(MoneyText.amount(left)) (\(year))"
    }

    static func balance(_ view: VoucherBalanceView) -> String {
        let heading = view.program.map { "tenant \(view.tenant): enrolled in voucher programme \($0)" }
            ?? "tenant \(view.tenant): not enrolled in a voucher programme"
        guard !view.allowances.isEmpty else { return heading + "\nno allowances" }
        var table = TextTable("PROGRAMME", "YEAR", "CAP", "USED", "LEFT", rightAligned: [1, 2, 3, 4])
        for allowance in view.allowances.sorted(by: { ($0.program, $0.year) < ($1.program, $1.year) }) {
            table.add(
                allowance.program.rawValue, String(allowance.year), MoneyText.amount(allowance.capFen), MoneyText.amount(allowance.usedFen),
                MoneyText.amount(allowance.leftFen))
        }
        return heading + "\n\n" + table.rendered
    }
}
