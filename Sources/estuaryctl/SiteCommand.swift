import ArgumentParser
import EstuaryModel

/// `estuaryctl site …`
struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "See the sites of the mesh.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List sites with their state and free/total capacity per accelerator class.",
            discussion: """
                POOLS shows free/total units per class as the site last reported them;
                `(simulated)` marks units of the process driver (dev meshes, CI), not real
                hardware. LAST SEEN is the age of the site's last report.

                Example:
                  estuaryctl site list
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let list = try await global.withClient { client in try await client.get("/v1/sites", as: SiteListView.self) }
            if global.json { return try Output.json(list) }
            guard !list.sites.isEmpty else { return Output.error("no sites have connected to this coordinator") }
            Output.line(Self.table(list.sites))
        }

        static func table(_ sites: [SiteView], now: Int64 = TimeText.nowMs()) -> String {
            var table = TextTable("SITE", "REGION", "DRIVER", "STATE", "POOLS (FREE/TOTAL)", "RUNNING", "LAST SEEN", rightAligned: [5])
            for view in sites.sorted(by: { $0.site.id < $1.site.id }) {
                table.add(
                    view.site.id.rawValue, view.site.region, view.site.driver, view.state.rawValue,
                    view.pools.isEmpty ? "-" : view.pools.map(\.summary).joined(separator: ", "),
                    String(view.runningJobs), view.lastSeenMs.map { TimeText.age(ms: $0, now: now) } ?? "never"
                )
            }
            return table.rendered
        }
    }
}
