import ArgumentParser
import EstuaryConfig
import EstuaryLedger
import EstuaryModel

/// `estuaryctl price …`
struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "price",
        abstract: "See a site's price versions and publish a new one.",
        discussion: """
            A site's prices are numbered versions, each in force from its effective time until
            the next one takes effect. Every charge line names the version it was rated with,
            so a bill can be explained later. Prices are shown in CNY per unit-hour, in the
            site's local time and in UTC.
            """,
        subcommands: [Show.self, Publish.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show every price version of a site, oldest first.",
            discussion: """
                STATUS is `in force`, `replaced` or `upcoming`. FLAT, PEAK and VALLEY are
                CNY per unit-hour in each time-of-use period (a peak or valley price not
                stated is the flat price). Below the table: each version's tariff periods
                and services.

                Example:
                  estuaryctl price show pengcheng-ascend
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Site id.") var site: String

        func validate() throws { try IdentifierArgument.check(site, "site id") }

        func run() async throws {
            let history = try await global.withClient { client in
                try await client.get("/v1/prices/\(site)", as: PriceHistoryView.self)
            }
            if global.json { return try Output.json(history) }
            guard !history.versions.isEmpty else { return Output.error("site \(history.site) has no price versions") }
            let inForce = history.inForce.map { "version \($0) in force" } ?? "none in force yet"
            Output.line("site \(history.site): \(history.versions.count) price version(s), \(inForce)\n")
            Output.line(PriceText.render(history.versions, inForce: history.inForce))
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Publish a new price version for a site from a price file (admin tokens only).",
            discussion: """
                The price file states prices in CNY per unit-hour per class, time-of-use
                periods and services (Agents/prices.example.toml shows every key). It is
                checked before anything is sent; every problem is listed with its field
                (exit 4).

                --effective is `now` (the default: the coordinator's clock) or an RFC 3339
                time with an offset. A version cannot take effect in the past, so no charge
                already rated changes.

                Examples:
                  estuaryctl price set pengcheng-ascend --file prices.toml
                  estuaryctl price set pengcheng-ascend --file prices.toml \\
                      --effective 2026-07-01T00:00:00+08:00
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Site id.") var site: String
        @Option(help: ArgumentHelp("The price file.", valueName: "prices.toml"), completion: .file(extensions: ["toml"]))
        var file: String
        @Option(help: ArgumentHelp("When the version takes effect: now, or e.g. 2026-07-01T00:00:00+08:00.", valueName: "time"))
        var effective = "now"

        func validate() throws {
            try IdentifierArgument.check(site, "site id")
            _ = try LocalTimeText.instant(effective, "--effective")
        }

        func run() async throws {
            let prices = try ConfigInput.load(file, PriceFile.load(path:))
            let request = PriceSetRequest(
                effectiveFromMs: try LocalTimeText.instant(effective, "--effective"), book: prices.book, services: prices.services)
            let version = try await global.withClient { client in
                try await client.post("/v1/prices/\(site)", json: request, as: PriceVersion.self).0
            }
            if global.json { return try Output.json(version) }
            let from = LocalTimeText.both(ms: version.effectiveFromMs, offsetMinutes: version.book.utcOffsetMinutes)
            Output.line("site \(site): price version \(version.version) published, in force from \(from)\n")
            Output.line(PriceText.render([version], inForce: nil))
        }
    }
}

/// How price versions are shown.
enum PriceText {
    /// The versions table (one row per class), then each version's tariff periods and services.
    static func render(_ versions: [PriceVersion], inForce: Int?) -> String {
        var table = TextTable(
            "VERSION", "STATUS", "FROM (LOCAL)", "FROM (UTC)", "CLASS", "FLAT", "PEAK", "VALLEY", rightAligned: [0, 5, 6, 7])
        var notes: [String] = []
        for version in versions {
            let book = version.book
            let first = [
                String(version.version), status(version.version, inForce: inForce),
                LocalTimeText.local(ms: version.effectiveFromMs, offsetMinutes: book.utcOffsetMinutes),
                TimeText.utc(ms: version.effectiveFromMs),
            ]
            let classes = book.prices.sorted { $0.key < $1.key }
            if classes.isEmpty { table.rows.append(first + ["-", "", "", ""]) }
            for (index, (cls, price)) in classes.enumerated() {
                table.rows.append(
                    (index == 0 ? first : ["", "", "", ""]) + [
                        cls.rawValue, MoneyText.amount(price.fenPerUnitHour(.flat)), MoneyText.amount(price.fenPerUnitHour(.peak)),
                        MoneyText.amount(price.fenPerUnitHour(.valley)),
                    ])
            }
            let zone = "local time, UTC" + LocalTimeText.offset(minutes: book.utcOffsetMinutes)
            notes.append("version \(version.version) tariff (\(zone)): \(tariff(book))")
            notes.append("version \(version.version) services: \(services(version.services))")
        }
        return table.rendered.trimmingTrailingSpaces + "\n\nprices in CNY per unit-hour\n" + notes.joined(separator: "\n")
    }

    static func status(_ version: Int, inForce: Int?) -> String {
        guard let inForce else { return "upcoming" }
        if version == inForce { return "in force" }
        return version < inForce ? "replaced" : "upcoming"
    }

    /// `peak 10:00–12:00, valley 23:00–07:00 (workdays); flat at other times`.
    static func tariff(_ book: PriceBook) -> String {
        guard !book.periods.isEmpty else { return "flat all day" }
        let periods = book.periods.map { period in
            let days: String
            switch period.days {
            case .all: days = ""
            case .workday: days = " (workdays)"
            case .weekend: days = " (weekends)"
            }
            let hours = LocalTimeText.timeOfDay(period.startMinute) + "–" + LocalTimeText.timeOfDay(period.endMinute)
            return "\(period.kind.rawValue) \(hours)\(days)"
        }
        return periods.joined(separator: ", ") + "; flat at other times"
    }

    /// `ssd-storage (storage) 0.10 CNY per 730 GiB-hour; egress (network) 0.50 CNY per GiB`.
    static func services(_ services: [ServiceID: ServicePrice]) -> String {
        guard !services.isEmpty else { return "none" }
        return services.sorted { $0.key < $1.key }.map { id, price in
            let per = price.perUnits == 1 ? price.unit : "\(price.perUnits) \(price.unit)"
            return "\(id) (\(price.kind.rawValue)) \(MoneyText.amount(price.priceFen)) CNY per \(per)"
        }.joined(separator: "; ")
    }
}
