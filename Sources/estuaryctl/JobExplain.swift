import ArgumentParser
import Foundation
import EstuaryModel

extension JobCommand {
    /// `estuaryctl job explain ID`
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Say why a job waits: every site, and the rule that rules it out.",
            discussion: """
                For a queued job, each site is listed with the constraints it fails (data zone,
                residency, domestic_only, latency, green share, price, allow/deny lists, pool size,
                busy pools, quota), and the sites that pass are ranked by the job's preference.
                For a placed or finished job, it says where the job went.

                Examples:
                  estuaryctl job explain j-0001
                  estuaryctl job explain j-0001 --json | jq '.sites[] | select(.reasons == [])'
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: String

        func validate() throws {
            guard Identifiers.isWellFormed(id) else { throw ValidationError("\"\(id)\" is not a job id") }
        }

        func run() async throws {
            let view = try await global.withClient { client in
                try await client.get("/v1/jobs/\(JobID(rawValue: id))/explain", as: ExplanationView.self)
            }
            if global.json { return try Output.json(view) }
            Output.line(Self.text(view))
        }

        static func text(_ view: ExplanationView) -> String {
            var lines = ["job \(view.jobID) is \(view.state): \(view.summary)"]
            if let until = view.deferredUntilMs { lines.append("deferred until \(TimeText.both(ms: until))") }
            guard !view.sites.isEmpty else { return lines.joined(separator: "\n") }
            var table = TextTable("SITE", "CLASS", "SCORE", "VERDICT", rightAligned: [2])
            for site in view.sites {
                let verdict = site.reasons.isEmpty ? "fits" : site.reasons.joined(separator: "; ")
                table.add(
                    site.site.rawValue, site.placedClass?.rawValue ?? "-", site.score.map { String(format: "%.3f", $0) } ?? "-",
                    verdict)
            }
            lines.append(table.rendered)
            return lines.joined(separator: "\n")
        }
    }
}
