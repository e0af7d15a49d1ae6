import ArgumentParser
import EstuaryConfig
import EstuaryModel
import Foundation

extension JobCommand {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Submit a job described by a TOML job file; prints the job id.",
            discussion: """
                The job file names the program, what it needs and how long it may run:

                  name = "resnet-train"
                  tenant = "pengcheng-lab"
                  command = ["/bin/sh", "-c", "python train.py"]
                  walltime = "2h"
                  [resources]
                  class = "ascend-910b"
                  count = 8
                  tasks = 2

                The file is checked before anything is sent; every problem is listed with its
                field (exit 4). Unknown keys are errors, so a typo cannot silently drop a setting.

                An idempotency key (--idempotency-key, or idempotency_key in the file) makes a
                retried submit return the job the first attempt created instead of a second one.

                With --wait, estuaryctl follows the job to its end and exits 0 if it succeeded,
                6 if it failed, was cancelled or was lost.

                Examples:
                  estuaryctl job submit train.toml
                  id=$(estuaryctl job submit train.toml) && estuaryctl job logs "$id" --follow
                  estuaryctl job submit train.toml --idempotency-key nightly-2026-11-23 --wait
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The job file.", valueName: "file.toml"), completion: .file(extensions: ["toml"]))
        var file: String

        @Option(name: .long, help: "Create the job at most once for this key (overrides the file's idempotency_key).")
        var idempotencyKey: String?

        @Flag(name: .long, help: "Wait until the job ends; exit 0 if it succeeded, 6 otherwise.")
        var wait = false

        func run() async throws {
            let spec = try Self.loadSpec(file)
            try await global.withClient { client in
                let headers = idempotencyKey.map { [("Idempotency-Key", $0)] } ?? []
                let (view, _) = try await client.post("/v1/jobs", json: spec, headers: headers, as: SubmitView.self)
                if !view.created {
                    Output.error("note: idempotency key matched job \(view.job.id), created earlier; no new job submitted")
                }
                guard wait else {
                    if global.json { try Output.json(view) } else { Output.line(view.job.id.rawValue) }
                    return
                }
                if !global.json { Output.line(view.job.id.rawValue) }
                let final = try await waitForEnd(view.job, client: client)
                if global.json { try Output.json(final) }
                guard final.state == .succeeded else { throw CLIError.jobDidNotSucceed(final.id, final.state) }
            }
        }

        /// The job file at `file`, checked; every problem is reported with its field (exit 4).
        static func loadSpec(_ file: String) throws -> JobSpec {
            guard FileManager.default.fileExists(atPath: file) else { throw CLIError.other("\(file): no such file") }
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError.other("\(file): cannot be read") }
            guard let text = String(data: data, encoding: .utf8) else { throw CLIError.other("\(file): is not UTF-8 text") }
            do {
                return try JobFile.parse(text)
            } catch {
                throw CLIError.invalidJobFile(path: file, error.problems.map(\.description))
            }
        }

        /// Polls the job until it is terminal, reporting each state change on stderr.
        private func waitForEnd(_ job: JobView, client: CoordinatorClient) async throws -> JobView {
            var current = job
            var reported = job.state
            Output.error("\(TimeText.utc(ms: current.updatedAtMs))  \(current.id)  \(current.state)")
            var delay = Duration.milliseconds(250)
            while !current.state.isTerminal {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
                current = try await client.get("/v1/jobs/\(current.id)", as: JobView.self)
                if current.state != reported {
                    reported = current.state
                    delay = .milliseconds(250)
                    let site = current.siteID.map { " at \($0)" } ?? ""
                    Output.error("\(TimeText.utc(ms: current.updatedAtMs))  \(current.id)  \(current.state)\(site)")
                }
            }
            Output.error("job \(current.id) \(current.state)\(JobText.outcome(current))")
            return current
        }
    }
}
