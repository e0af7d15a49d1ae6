import ArgumentParser
import Foundation
import EstuaryModel

extension JobCommand {
    /// `estuaryctl job explain ID`, or `estuaryctl job explain --file job.toml` (a dry run)
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Say why a job waits: every site, and the rule that rules it out.",
            discussion: """
                For a queued job, each site is listed with the constraints it fails (data zone,
                residency, domestic_only, latency, green share, price, allow/deny lists, pool size,
                busy pools, quota), and the sites that pass are ranked by the job's preference.
                For a placed or finished job, it says where the job went.

                With --file instead of an id, the job file is checked and explained as if it were
                submitted now, without submitting it (a dry run).

                Examples:
                  estuaryctl job explain j-0001
                  estuaryctl job explain --file train.toml
                  estuaryctl job explain j-0001 --json | jq '.sites[] | select(.reasons == [])'
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: String?
        @Option(
            name: .shortAndLong, help: ArgumentHelp("Explain this job file without submitting it.", valueName: "file.toml"),
            completion: .file(extensions: ["toml"]))
        var file: String?

        func validate() throws {
            switch (id, file) {
            case (nil, nil): throw ValidationError("give a job id, or --file with a job file")
            case (.some, .some): throw ValidationError("give a job id or --file, not both")
            case (let id?, nil):
                guard Identifiers.isWellFormed(id) else { throw ValidationError("\"\(id)\" is not a job id") }
            case (nil, .some): break
            }
        }

        func run() async throws {
            let spec = try file.map(Submit.loadSpec)
            let view = try await global.withClient { client in
                if let spec {
                    return try await client.post("/v1/explain", json: spec, as: ExplanationView.self).0
                }
                return try await client.get("/v1/jobs/\(JobID(rawValue: id ?? ""))/explain", as: ExplanationView.self)
            }
            if global.json { return try Output.json(view) }
            Output.line(Self.text(view, dryRun: spec != nil))
        }

        static func text(_ view: ExplanationView, dryRun: Bool = false) -> String {
            var lines = [dryRun ? "if submitted now: \(view.summary)" : "job \(view.jobID) is \(view.state): \(view.summary)"]
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
