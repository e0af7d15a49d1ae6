import ArgumentParser
import EstuaryLedger
import EstuaryModel
import Foundation

/// `estuaryctl tenant …`
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create tenants, top up their wallets and see their balances.",
        discussion: """
            A tenant (an innovation entity) pays for its jobs from a wallet in CNY. A prepaid
            wallet (the default) may not go below zero; --credit-limit lets it go down to minus
            that much; --postpaid removes the limit. A tenant that was never created (seen only
            in jobs) has the coordinator's default credit line (--default-credit-limit; postpaid
            without limit unless set). Amounts are CNY with at most two decimals.
            Creating, updating, topping up and listing need an admin token; a tenant token may
            show its own tenant.
            """,
        subcommands: [Create.self, Show.self, List.self, TopUp.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a tenant, or update its profile (the wallet is untouched).",
            discussion: """
                The organisation and its affiliates decide voucher eligibility: a voucher
                never pays for compute from a site run by the tenant's own organisation or
                an affiliate. They are organisation ids, as sites are added with
                (`site add --org`): letters, digits, '.', '_', '-'; at most 64 affiliates. --category selects a programme's category cap
                (multimodal-foundation). Running the command again for the same tenant
                replaces its whole profile: options left out go back to their defaults
                (no affiliates, no category, prepaid, no programme).

                Examples:
                  estuaryctl tenant create pengcheng-lab --org pcl --affiliate pcl-shenzhen
                  estuaryctl tenant create gz-ai-lab --org gz-ai --credit-limit 50000 \\
                      --program gz-compute-voucher
                  estuaryctl tenant create sz-univ --org szu --postpaid
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id, as jobs name it.") var tenant: String
        @Option(help: "The organisation the tenant belongs to: an id, as sites are added with (`site add --org`).") var org: String
        @Option(name: .customLong("affiliate"), help: "An affiliated organisation (repeat for each; at most 64).")
        var affiliates: [String] = []
        @Option(help: "The tenant's category, for voucher caps (e.g. multimodal-foundation).") var category: String?
        @Option(help: ArgumentHelp("How far below zero the wallet may go, in CNY (default 0: prepaid).", valueName: "cny"))
        var creditLimit: String?
        @Flag(help: "No credit limit: a postpaid tenant.") var postpaid = false
        @Option(help: "Enrol the tenant in this voucher programme.") var program: String?

        func validate() throws {
            try IdentifierArgument.check(tenant, "tenant id")
            try OrganisationArgument.check(org, "--org")
            if affiliates.count > OrganisationArgument.maxAffiliates {
                throw ValidationError("at most \(OrganisationArgument.maxAffiliates) --affiliate organisations, got \(affiliates.count)")
            }
            for affiliate in affiliates { try OrganisationArgument.check(affiliate, "--affiliate") }
            if let category { try IdentifierArgument.check(category, "category") }
            if let program { try IdentifierArgument.check(program, "voucher programme id") }
            if postpaid, creditLimit != nil { throw ValidationError("give --credit-limit or --postpaid, not both") }
            if let creditLimit, try MoneyText.fen(creditLimit, "--credit-limit") < 0 {
                throw ValidationError("--credit-limit must not be negative")
            }
        }

        func run() async throws {
            var limit: Fen? = 0
            if postpaid {
                limit = nil
            } else if let creditLimit {
                limit = try MoneyText.fen(creditLimit, "--credit-limit")
            }
            let request = TenantRequest(
                tenant: TenantID(rawValue: tenant), organisation: org, affiliates: affiliates, category: category,
                creditLimitFen: limit, voucherProgram: program.map(VoucherProgramID.init(rawValue:)))
            let view = try await global.withClient { client in
                try await client.post("/v1/tenants", json: request, as: TenantView.self).0
            }
            if global.json { return try Output.json(view) }
            Output.line(TenantText.details(view))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a tenant's profile and wallet.",
            discussion: """
                BALANCE is top-ups minus what was paid; HELD is reserved for admitted jobs
                that have not settled; AVAILABLE is balance − held + credit limit.

                Example:
                  estuaryctl tenant show pengcheng-lab
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var tenant: String

        func validate() throws { try IdentifierArgument.check(tenant, "tenant id") }

        func run() async throws {
            let view = try await global.withClient { client in try await client.get("/v1/tenants/\(tenant)", as: TenantView.self) }
            if global.json { return try Output.json(view) }
            Output.line(TenantText.details(view))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List tenants with their wallets (amounts in CNY; admin tokens only).",
            discussion: """
                Tenants known only from their jobs (never created) are listed as
                unregistered.

                Example:
                  estuaryctl tenant list
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let list = try await global.withClient { client in try await client.get("/v1/tenants", as: TenantListView.self) }
            if global.json { return try Output.json(list) }
            guard !list.tenants.isEmpty else { return Output.error("no tenants") }
            Output.line(TenantText.table(list.tenants))
        }
    }

    struct TopUp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "top-up",
            abstract: "Put money into a tenant's wallet.",
            discussion: """
                The reference (a payment or contract number) makes the top-up happen once:
                the same reference again changes nothing, so a retried command cannot pay
                twice.

                Example:
                  estuaryctl tenant top-up pengcheng-lab 100000.00 --reference PAY-2026-0042
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var tenant: String
        @Argument(help: ArgumentHelp("The amount in CNY, at most two decimals.", valueName: "amount-cny")) var amount: String
        @Option(
            help: "The payment or contract number (1–128 letters, digits, '.', '_' or '-'); the same reference is applied once.")
        var reference: String

        func validate() throws {
            try IdentifierArgument.check(tenant, "tenant id")
            guard try MoneyText.fen(amount, "the amount") > 0 else { throw ValidationError("the amount must be positive") }
            guard Identifiers.isWellFormed(reference) else {
                throw ValidationError(
                    "--reference must be 1–128 letters, digits, '.', '_' or '-' (a payment number such as PAY-2026-0042), got \"\(reference)\"")
            }
        }

        func run() async throws {
            let request = TopUpRequest(amountFen: try MoneyText.fen(amount, "the amount"), reference: reference)
            let view = try await global.withClient { client in
                try await client.post("/v1/tenants/\(tenant)/top-up", json: request, as: TenantView.self).0
            }
            if global.json { return try Output.json(view) }
            Output.line(
                "tenant \(view.tenant): top-up of \(MoneyText.amount(request.amountFen)) CNY (reference \(reference)) recorded; "
                    + "balance \(MoneyText.amount(view.balanceFen)) CNY, available \(TenantText.available(view))")
        }
    }
}

/// Organisation ids: the namespace of a site's operator (`site add --org`), so that the
/// coordinator's non-affiliation check compares like with like.
enum OrganisationArgument {
    static let maxAffiliates = 64

    static func check(_ value: String, _ what: String) throws {
        guard Identifiers.isWellFormed(value) else {
            throw ValidationError("\(what) must be an organisation id (letters, digits, '.', '_', '-'; as `site add --org`), got \"\(value)\"")
        }
    }
}

/// How tenants are shown.
enum TenantText {
    static func details(_ view: TenantView) -> String {
        let lines: [(String, String)] = [
            ("tenant", view.tenant.rawValue + (view.registered ? "" : " (unregistered: known only from its jobs)")),
            ("organisation", view.organisation.isEmpty ? "-" : view.organisation),
            ("affiliates", view.affiliates.isEmpty ? "-" : view.affiliates.joined(separator: ", ")),
            ("category", view.category ?? "-"),
            ("voucher programme", view.voucherProgram?.rawValue ?? "-"),
            ("credit limit", creditLimit(view)),
            ("balance", MoneyText.amount(view.balanceFen) + " CNY"),
            ("held for jobs", MoneyText.amount(view.heldFen) + " CNY"),
            ("available", available(view)),
        ]
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func table(_ tenants: [TenantView]) -> String {
        var table = TextTable(
            "TENANT", "ORGANISATION", "CATEGORY", "PROGRAMME", "CREDIT LIMIT", "BALANCE", "HELD", "AVAILABLE",
            rightAligned: [4, 5, 6, 7])
        for view in tenants.sorted(by: { $0.tenant < $1.tenant }) {
            table.add(
                view.tenant.rawValue, view.registered ? view.organisation : "(unregistered)", view.category ?? "-",
                view.voucherProgram?.rawValue ?? "-", MoneyText.amount(view.creditLimitFen, none: "none"),
                MoneyText.amount(view.balanceFen),
                MoneyText.amount(view.heldFen), MoneyText.amount(view.availableFen, none: "unlimited"))
        }
        return table.rendered
    }

    static func creditLimit(_ view: TenantView) -> String {
        guard let limit = view.creditLimitFen else { return "none (postpaid)" }
        return limit == 0 ? "0.00 CNY (prepaid)" : MoneyText.amount(limit) + " CNY"
    }

    static func available(_ view: TenantView) -> String {
        view.availableFen.map { MoneyText.amount($0) + " CNY" } ?? "unlimited"
    }
}
