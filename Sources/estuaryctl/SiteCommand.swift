import ArgumentParser
import EstuaryModel

/// `estuaryctl site …`
struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "See the sites of the mesh; add and revoke them (admin tokens only).",
        subcommands: [List.self, Add.self, Revoke.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Admit a site; prints a one-time join token for its agent on stdout.",
            discussion: """
                The agent enrolls with the join token: it makes its own key, sends a CSR with the
                token, and gets a certificate naming this site. The token works once, until it
                expires (--ttl, default 1h, at most 7d). Adding a site again gives another token;
                adding a revoked site admits it again. Compare the CA fingerprint printed here
                with the one the agent reports.

                Example:
                  (umask 077; estuaryctl site add gz-tianhe --org gz-sc > join.token)
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Site id, as in the site's profile.") var id: String
        @Option(help: "The organisation that runs the site.") var org: String
        @Option(help: "How long the join token stays usable, e.g. 1h, 30m (default 1h).") var ttl: String?

        struct Body: Encodable {
            var id: String
            var org: String
            var ttl: String?
        }

        func run() async throws {
            let added = try await global.withClient { client in
                try await client.post("/v1/sites", json: Body(id: id, org: org, ttl: ttl), as: SiteAddedView.self).0
            }
            if global.json { return try Output.json(added) }
            Output.line(added.joinToken)
            Output.error("site \(added.site) (org \(added.org)) added; the join token above works once, until \(TimeText.both(ms: added.expiresAtMs)).")
            Output.error("CA fingerprint: \(added.caFingerprint ?? "none (this coordinator has no CA; enrollment will fail)")")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke a site: its certificates, its unused join tokens, and its live session.",
            discussion: """
                The site's agent is cut off at once and refused from then on. `site add` admits
                it again later (its agent then enrolls anew).
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Site id.") var id: String

        func validate() throws {
            guard Identifiers.isWellFormed(id) else { throw ValidationError("\"\(id)\" is not a site id") }
        }

        func run() async throws {
            let revoked = try await global.withClient { client in
                try await client.post("/v1/sites/\(id)/revoke", as: SiteRevokedView.self).0
            }
            if global.json { return try Output.json(revoked) }
            let serials = revoked.revokedCertificates
            Output.line(
                "site \(revoked.site) revoked; \(serials.count) certificate(s) revoked"
                    + (serials.isEmpty ? "" : ": " + serials.joined(separator: ", ")))
        }
    }

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
